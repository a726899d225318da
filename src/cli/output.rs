//! Rows of `hashsweep hash`: CSV (including the reference tool's `hash,quality,path` form)
//! and JSONL.

use std::io::Write;

use serde_json::json;

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

pub struct RowWriter<W: Write> {
    out: W,
    format: Format,
    algos: Algorithms,
    dihedral: bool,
    /// A `box` column: which part of each image was hashed.
    trim: bool,
}

impl<W: Write> RowWriter<W> {
    pub fn new(out: W, format: Format, algos: Algorithms, dihedral: bool) -> RowWriter<W> {
        RowWriter {
            out,
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

    pub fn header(&mut self) -> std::io::Result<()> {
        if self.format == Format::Jsonl {
            return Ok(());
        }
        if self.reference_form() {
            return writeln!(self.out, "hash,quality,path");
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
        writeln!(self.out, "{}", cols.join(","))
    }

    pub fn row(&mut self, path: &str, outcome: &Outcome) -> std::io::Result<()> {
        match self.format {
            Format::Jsonl => writeln!(self.out, "{}", self.json(path, outcome)),
            Format::Csv if self.reference_form() => match outcome {
                Outcome::Hashed { hashes, .. } => {
                    let p = hashes.pdq.unwrap_or_default();
                    writeln!(
                        self.out,
                        "{},{},{}",
                        p.original(),
                        p.quality,
                        csv_cell(path)
                    )
                }
                Outcome::Failed(_) => writeln!(self.out, ",,{}", csv_cell(path)),
            },
            Format::Csv => {
                let line = self.csv(path, outcome);
                writeln!(self.out, "{line}")
            }
        }
    }

    fn csv(&self, path: &str, outcome: &Outcome) -> String {
        let mut cells = vec![csv_cell(path)];
        let n_hash_cols = usize::from(self.algos.pdq) * 2
            + usize::from(self.algos.phash)
            + usize::from(self.algos.pdq && self.dihedral) * 7;
        match outcome {
            Outcome::Hashed {
                width,
                height,
                hashes,
                region,
                ..
            } => {
                cells.extend([width.to_string(), height.to_string()]);
                if let Some(p) = hashes.pdq {
                    cells.extend([p.original().to_string(), p.quality.to_string()]);
                }
                if let Some(h) = hashes.phash {
                    cells.push(h.to_string());
                }
                if let (Some(p), true) = (hashes.pdq, self.dihedral) {
                    cells.extend(p.hashes[1..].iter().map(|h| h.to_string()));
                }
                if self.trim {
                    cells.push(region.map_or(String::new(), |r| {
                        format!("{} {} {} {}", r.x, r.y, r.width, r.height)
                    }));
                }
                cells.extend(["ok".to_string(), String::new()]);
            }
            Outcome::Failed(reason) => {
                let n_box = usize::from(self.trim);
                cells.extend(std::iter::repeat_n(String::new(), 2 + n_hash_cols + n_box));
                cells.extend(["error".to_string(), csv_cell(reason)]);
            }
        }
        cells.join(",")
    }

    fn json(&self, path: &str, outcome: &Outcome) -> serde_json::Value {
        match outcome {
            Outcome::Failed(reason) => json!({"path": path, "status": "error", "error": reason}),
            Outcome::Hashed {
                width,
                height,
                hashes,
                warnings,
                region,
            } => {
                let mut v = json!({"path": path, "status": "ok", "width": width, "height": height});
                if !warnings.is_empty() {
                    v["warnings"] = json!(warnings);
                }
                if self.trim {
                    v["box"] = json!(region);
                }
                if let Some(p) = hashes.pdq {
                    v["pdq"] = json!(p.original().to_string());
                    v["quality"] = json!(p.quality.0);
                    if self.dihedral {
                        let d: serde_json::Map<String, serde_json::Value> = Dihedral::ALL[1..]
                            .iter()
                            .map(|d| (d.name().to_string(), json!(p.variant(*d).to_string())))
                            .collect();
                        v["dihedral"] = d.into();
                    }
                }
                if let Some(h) = hashes.phash {
                    v["phash"] = json!(h.to_string());
                }
                v
            }
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
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
            w.row(p, o).unwrap();
        }
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
        let counts: Vec<usize> = s.lines().map(|l| l.split(',').count()).collect();
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
