//! Rows of `hashsweep hash`: CSV (including the reference tool's `hash,quality,path` form)
//! and JSONL.

use std::io::Write;

use crate::decode::trim::Rect;
use crate::engine::{Algorithms, FrameHashes};
use crate::hash::Dihedral;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

/// What one input produced.
pub enum Outcome {
    Hashed {
        width: u32,
        height: u32,
        hashes: Box<FrameHashes>,
        /// What the decoder recovered from (a truncated file, data after the image).
        warnings: Vec<String>,
        /// With `--trim-borders`: the part hashed, inside added borders (`None`: all).
        region: Option<Rect>,
    },
    Failed(String),
}

/// One row as `hash` writes it, a serde type: JSONL writes it as is; CSV projects it onto
/// the run's columns (`RowWriter::columns`), so no column count is kept in step by hand.
/// Field names are a published format (README, the Python package, the Ray Parquet
/// columns): keep them.
#[derive(serde::Serialize)]
struct Row<'a> {
    path: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    /// With `--trim-borders`: the part hashed, or null for the whole image.
    #[serde(rename = "box", skip_serializing_if = "Option::is_none")]
    region: Option<Option<Rect>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pdq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dihedral: Option<std::collections::BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phash: Option<String>,
}

/// Where rows go: through the csv crate (quoting as every CSV reader expects), or as lines.
enum Out<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Lines(W),
}

pub struct RowWriter<W: Write> {
    out: Out<W>,
    format: Format,
    algos: Algorithms,
    dihedral: bool,
    /// A `box` column: which part of each image was hashed.
    trim: bool,
}

impl<W: Write> RowWriter<W> {
    pub fn new(out: W, format: Format, algos: Algorithms, dihedral: bool) -> RowWriter<W> {
        RowWriter {
            out: match format {
                Format::Csv => Out::Csv(Box::new(
                    csv::WriterBuilder::new()
                        .terminator(csv::Terminator::Any(b'\n'))
                        .from_writer(out),
                )),
                Format::Jsonl => Out::Lines(out),
            },
            format,
            algos,
            dihedral,
            trim: false,
        }
    }

    /// Say which part of each image was hashed (`--trim-borders`).
    pub fn with_trim(mut self, trim: bool) -> RowWriter<W> {
        self.trim = trim;
        self
    }

    /// PDQ alone in CSV is the reference command-line tool's own form, so existing scripts
    /// read our output unchanged.
    pub fn reference_form(&self) -> bool {
        self.format == Format::Csv
            && self.algos.pdq
            && !self.algos.phash
            && !self.dihedral
            && !self.trim
    }

    /// The CSV columns of this run, in order.
    fn columns(&self) -> Vec<&'static str> {
        if self.reference_form() {
            return vec!["hash", "quality", "path"];
        }
        let mut cols = vec!["path", "width", "height"];
        if self.algos.pdq {
            cols.extend(["pdq", "quality"]);
        }
        if self.algos.phash {
            cols.push("phash");
        }
        if self.algos.pdq && self.dihedral {
            cols.extend(Dihedral::ALL[1..].iter().map(|d| d.name()));
        }
        if self.trim {
            cols.push("box");
        }
        cols.extend(["status", "error"]);
        cols
    }

    pub fn header(&mut self) -> std::io::Result<()> {
        let cols = self.columns();
        match &mut self.out {
            Out::Csv(w) => w.write_record(cols).map_err(io_error),
            Out::Lines(_) => Ok(()),
        }
    }

    fn row<'a>(&self, path: &'a str, outcome: &'a Outcome) -> Row<'a> {
        let mut row = Row {
            path,
            status: "error",
            error: None,
            width: None,
            height: None,
            warnings: &[],
            region: None,
            pdq: None,
            quality: None,
            dihedral: None,
            phash: None,
        };
        match outcome {
            Outcome::Failed(reason) => row.error = Some(reason),
            Outcome::Hashed {
                width,
                height,
                hashes,
                warnings,
                region,
            } => {
                row.status = "ok";
                (row.width, row.height, row.warnings) = (Some(*width), Some(*height), warnings);
                row.region = self.trim.then_some(*region);
                if let Some(p) = hashes.pdq {
                    row.pdq = Some(p.original().to_string());
                    row.quality = Some(p.quality.0);
                    row.dihedral = self.dihedral.then(|| {
                        Dihedral::ALL[1..]
                            .iter()
                            .map(|d| (d.name(), p.variant(*d).to_string()))
                            .collect()
                    });
                }
                row.phash = hashes.phash.map(|h| h.to_string());
            }
        }
        row
    }

    pub fn write(&mut self, path: &str, outcome: &Outcome) -> std::io::Result<()> {
        let v = serde_json::to_value(self.row(path, outcome)).expect("rows serialise");
        let cells: Vec<String> = self.columns().iter().map(|c| cell(&v, c)).collect();
        match &mut self.out {
            Out::Csv(w) => w.write_record(&cells).map_err(io_error),
            Out::Lines(w) => {
                serde_json::to_writer(&mut *w, &v)?;
                w.write_all(b"\n")
            }
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Out::Csv(w) => w.flush(),
            Out::Lines(w) => w.flush(),
        }
    }
}

/// The csv crate's error as the I/O error it wraps (a closed pipe stays one, so that the
/// command ends quietly), or as a plain one.
fn io_error(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// A row's value under a CSV column: the reference form's `hash` is the PDQ hash, the
/// dihedral columns come from `dihedral`, `box` is `x y width height`; absent is empty.
fn cell(v: &serde_json::Value, column: &str) -> String {
    let value = match column {
        "hash" => &v["pdq"],
        "box" => {
            let b = &v["box"];
            return match b.is_object() {
                true => format!("{} {} {} {}", b["x"], b["y"], b["width"], b["height"]),
                false => String::new(),
            };
        }
        c if Dihedral::ALL[1..].iter().any(|d| d.name() == c) => &v["dihedral"][c],
        c => &v[c],
    };
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        x => x.to_string(),
    }
}

/// One CSV cell as the csv crate writes it: quoted when it holds a comma, quote or line
/// break, so that every reader (ours, Python's, a spreadsheet's) reads it back whole.
pub fn csv_cell(s: &str) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(vec![]);
    // A record of one field: an empty one would be written as `""`, which is also right.
    w.write_record([s]).expect("in memory");
    let out = String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8 in, UTF-8 out");
    match out.strip_suffix('\n') {
        Some("\"\"") => String::new(),
        Some(cell) => cell.to_string(),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{PdqHashes, Phash64, Quality};

    fn hashed() -> Outcome {
        Outcome::Hashed {
            width: 4,
            height: 5,
            hashes: Box::new(FrameHashes {
                pdq: Some(PdqHashes {
                    quality: Quality(87),
                    ..Default::default()
                }),
                phash: Some(Phash64(0xabc)),
            }),
            warnings: vec![],
            region: None,
        }
    }

    fn render(
        format: Format,
        algos: Algorithms,
        dihedral: bool,
        rows: &[(&str, Outcome)],
    ) -> String {
        let mut buf = vec![];
        let mut w = RowWriter::new(&mut buf, format, algos, dihedral);
        w.header().unwrap();
        for (p, o) in rows {
            w.write(p, o).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn pdq_only_csv_is_the_reference_form() {
        let algos = Algorithms {
            pdq: true,
            phash: false,
        };
        let s = render(
            Format::Csv,
            algos,
            false,
            &[("a,b.jpg", hashed()), ("x", Outcome::Failed("bad".into()))],
        );
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "hash,quality,path");
        assert_eq!(lines[1], format!("{},87,\"a,b.jpg\"", "0".repeat(64)));
        assert_eq!(lines[2], ",,x");
    }

    #[test]
    fn general_csv_rows_have_as_many_cells_as_the_header() {
        let s = render(
            Format::Csv,
            Algorithms::ALL,
            true,
            &[("a", hashed()), ("b", Outcome::Failed("no".into()))],
        );
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(s.as_bytes());
        let counts: Vec<usize> = r.records().map(|row| row.unwrap().len()).collect();
        assert_eq!(counts, [counts[0]; 3]);
        assert!(s.lines().nth(2).unwrap().ends_with(",error,no"));
    }

    #[test]
    fn csv_cells_round_trip_through_a_csv_reader() {
        for cell in ["plain", "a,b", "say \"hi\"", "two\nlines", ""] {
            let line = format!("{},x\n", csv_cell(cell));
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes());
            let row = r.records().next().unwrap().unwrap();
            assert_eq!(&row[0], cell);
        }
    }

    #[test]
    fn jsonl_records_status_and_hashes() {
        let s = render(
            Format::Jsonl,
            Algorithms::ALL,
            false,
            &[("a", hashed()), ("b", Outcome::Failed("no".into()))],
        );
        let v: Vec<serde_json::Value> = s
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v[0]["phash"], "0000000000000abc");
        assert_eq!(v[0]["quality"], 87);
        assert_eq!(v[1]["status"], "error");
        assert_eq!(v[1]["error"], "no");
    }
}
