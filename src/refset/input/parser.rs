//! The parser of one list: lines, CSV rows or a whole document, by layout, into entries
//! (counting what it passes over), and exchanged entries by their fingerprint kinds.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use super::{InputError, Kind, Parsed, hash_keys, is_document, parse_hash};
use crate::refset::exchange;
use crate::refset::format::Algo;
use crate::refset::write::{Entry, Label, Words};

/// Parse a list of layout `kind` from `reader` (`path` names it in messages and labels).
pub(super) fn parse(
    reader: impl Read,
    path: &Path,
    kind: Kind,
    algo: Option<Algo>,
    skip_invalid: bool,
    entries: Vec<Entry>,
) -> Result<Parsed, InputError> {
    let io = InputError::io(path);
    let reader = BufReader::with_capacity(1 << 20, reader);
    let mut p = Parser {
        path,
        name: Arc::from(path.to_string_lossy()),
        algo,
        skip_invalid,
        out: Parsed {
            entries,
            ..Parsed::default()
        },
    };
    match kind {
        Kind::Jsonl => each_line(reader, |n, l| p.jsonl(n, l)),
        Kind::Vpdq => {
            let video = p.video_name();
            each_line(reader, |n, l| p.vpdq(n, l, &video))
        }
        Kind::Csv => p.csv(reader),
        Kind::PlainHex => each_line(reader, |n, l| p.plain(n, l)),
        Kind::Xml | Kind::Json => p.document(reader, kind),
    }
    .map_err(|e| match e {
        LineError::Io(cause) => io(cause),
        LineError::Input(e) => e,
    })?;
    p.out.algo = p.algo;
    Ok(p.out)
}

enum LineError {
    Io(std::io::Error),
    Input(InputError),
}

impl From<InputError> for LineError {
    fn from(e: InputError) -> Self {
        LineError::Input(e)
    }
}

/// Each line (1-based number, text without its line break; invalid UTF-8 replaced), blank
/// ones left out.
fn each_line(
    mut r: impl BufRead,
    mut f: impl FnMut(usize, &str) -> Result<(), InputError>,
) -> Result<(), LineError> {
    let mut buf = vec![];
    let mut n = 0;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf).map_err(LineError::Io)? == 0 {
            return Ok(());
        }
        n += 1;
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']);
        if !line.trim().is_empty() {
            f(n, line)?;
        }
    }
}

struct Parser<'a> {
    path: &'a Path,
    /// The path as default labels name it, shared by all of them.
    name: Arc<str>,
    algo: Option<Algo>,
    skip_invalid: bool,
    out: Parsed,
}

impl Parser<'_> {
    fn bad(&mut self, line: usize, reason: String) -> Result<(), InputError> {
        if self.skip_invalid {
            self.out.invalid += 1;
            return Ok(());
        }
        Err(InputError::Malformed {
            path: self.path.to_path_buf(),
            line,
            reason,
        })
    }

    fn video_name(&self) -> Arc<str> {
        // The path as given, not the file name: two folders' `clip.vpdq.txt` are two videos.
        Arc::from(self.name.strip_suffix(".vpdq.txt").unwrap_or(&self.name))
    }

    /// Add one record; `line` is 1-based, for messages and default labels; `video` names
    /// the video of a vPDQ frame.
    fn push(
        &mut self,
        line: usize,
        hex: &str,
        label: Option<&str>,
        quality: Option<u8>,
        id: Option<u64>,
        video: Option<&Arc<str>>,
    ) -> Result<(), InputError> {
        let hex = hex.trim();
        let algo = match self.algo.or_else(|| Algo::from_hex_len(hex.len())) {
            Some(a) => a,
            None => return self.bad(line, format!("{hex:?} is not a 64- or 16-digit hex hash")),
        };
        self.algo = Some(algo);
        let Some(words) = parse_hash(hex, algo) else {
            return self.bad(
                line,
                // A digest's own width (SHA-1 is 160 bits, stored in 192).
                format!(
                    "{hex:?} is not a {}-bit hex hash",
                    algo.digest_bytes().map_or(algo.bits(), |n| n * 8)
                ),
            );
        };
        let label = match label.filter(|l| !l.is_empty()) {
            Some(l) if l.contains('\n') => Label::text(l.replace('\n', " ")),
            Some(l) => Label::text(l),
            None => Label::Line(Arc::clone(&self.name), line as u64),
        };
        self.out.entries.push(Entry {
            words: Words::new(&words),
            labels: smallvec::smallvec![label],
            quality,
            id,
            video: video.cloned(),
        });
        Ok(())
    }

    /// One hash per line; whatever follows it (after a comma or whitespace) is the label.
    fn plain(&mut self, n: usize, l: &str) -> Result<(), InputError> {
        let l = l.trim();
        if l.starts_with('#') {
            return Ok(());
        }
        if let Some((kind, value)) = exchange::te_line(l) {
            let listed = exchange::Listed {
                list: "ThreatExchange".into(),
                fingerprints: vec![(kind, value)],
                ..Default::default()
            };
            return self.listed(n, listed);
        }
        let (hash, rest) = l.split_once([',', ' ', '\t']).unwrap_or((l, ""));
        self.push(n, hash, Some(rest.trim()), None, None, None)
    }

    /// A header naming a hash column, then rows; quoted cells may hold commas, quotes and
    /// line breaks.
    fn csv(&mut self, r: impl std::io::Read) -> Result<(), LineError> {
        let mut rows = csv::ReaderBuilder::new().flexible(true).from_reader(r);
        let header = rows.headers().map_err(csv_error)?.clone();
        let col = |name: &str| header.iter().position(|h| h == name);
        let Some((hash_col, name)) = hash_keys(self.algo)
            .into_iter()
            .find_map(|k| Some((col(k)?, k)))
        else {
            return Ok(self.bad(1, "no hash column".into())?);
        };
        // A digest column says what it holds (a SHA-256 has PDQ's length).
        if let Some(a) = Algo::from_name(name).filter(|a| a.is_digest()) {
            self.algo = Some(a);
        }
        let (label_col, quality_col, id_col) =
            (col("path").or(col("label")), col("quality"), col("id"));
        let mut row = csv::StringRecord::new();
        while rows.read_record(&mut row).map_err(csv_error)? {
            let line = row.position().map_or(0, |p| p.line() as usize);
            let hash = row.get(hash_col).unwrap_or("");
            if hash.is_empty() {
                self.out.no_hash += 1;
                continue;
            }
            let quality = quality_col.and_then(|c| row.get(c)?.parse().ok());
            let id = id_col.and_then(|c| row.get(c)?.parse().ok());
            let label = label_col.and_then(|c| row.get(c));
            self.push(line, hash, label, quality, id, None)?;
        }
        Ok(())
    }

    fn jsonl(&mut self, n: usize, l: &str) -> Result<(), InputError> {
        let v: serde_json::Value = match serde_json::from_str(l) {
            Ok(v) => v,
            Err(e) => return self.bad(n, format!("invalid JSON: {e}")),
        };
        if let Some(listed) = exchange::stopncii(&v) {
            return self.listed(n, listed);
        }
        let Some((hash, key)) = hash_keys(self.algo)
            .into_iter()
            .find_map(|k| Some((v[k].as_str()?, k)))
        else {
            self.out.no_hash += 1;
            return Ok(());
        };
        if let Some(a) = Algo::from_name(key).filter(|a| a.is_digest()) {
            self.algo = Some(a);
        }
        let label = ["label", "path"].iter().find_map(|k| v[k].as_str());
        let quality = v["quality"].as_u64().and_then(|q| u8::try_from(q).ok());
        self.push(n, hash, label, quality, v["id"].as_u64(), None)
    }

    /// A whole document (NCMEC XML, VICS JSON, a JSON array of StopNCII records): these
    /// lists are exports of a few hundred thousand entries at most, read whole.
    fn document(&mut self, mut r: impl Read, kind: Kind) -> Result<(), LineError> {
        let mut text = String::new();
        r.read_to_string(&mut text).map_err(LineError::Io)?;
        let entries = match kind {
            Kind::Xml => match exchange::ncmec_xml(&text) {
                Ok(e) => e,
                Err(why) => return Ok(self.bad(1, why)?),
            },
            _ => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) if is_document(&v) => exchange::vics(&v, "VICS"),
                Ok(serde_json::Value::Array(records)) => {
                    let mut out = vec![];
                    for (i, r) in records.iter().enumerate() {
                        match exchange::stopncii(r) {
                            Some(l) => out.push(l),
                            None => self.bad(i + 1, "not a hashValue/signalType record".into())?,
                        }
                    }
                    out
                }
                Ok(_) => return Ok(self.bad(1, "neither VICS nor a list of hash records".into())?),
                Err(e) => return Ok(self.bad(e.line(), format!("invalid JSON: {e}"))?),
            },
        };
        for (i, listed) in entries.into_iter().enumerate() {
            self.listed(i + 1, listed)?;
        }
        Ok(())
    }

    /// An exchanged entry: a deletion, or the fingerprint of this set's algorithm (the
    /// first usable one decides it when `--algo` did not); the others are counted.
    fn listed(&mut self, n: usize, e: exchange::Listed) -> Result<(), InputError> {
        self.out.exchanged = true;
        if e.deleted {
            if let Some(id) = e.id {
                let key = exchange::deletion_key(&e.list, &id);
                self.out.deletions.push((key, self.out.entries.len()));
            }
            return Ok(());
        }
        let label = exchange::label(&e.list, e.id.as_deref(), e.category.as_deref());
        let mut used = false;
        for (kind, value) in &e.fingerprints {
            let algo = exchange::algo_of(kind);
            if self.algo.is_none() {
                self.algo = algo;
            }
            if algo.is_some() && algo == self.algo && !used && !value.is_empty() {
                used = true;
                self.push(n, value, Some(&label), None, None, None)?;
            } else {
                *self
                    .out
                    .unused
                    .entry(kind.to_ascii_lowercase())
                    .or_default() += 1;
            }
        }
        // An entry whose only hashes are of another kind we match is counted with those
        // kinds (`unused`); one with none we could ever match has no hash.
        let matchable = e
            .fingerprints
            .iter()
            .any(|(k, v)| exchange::algo_of(k).is_some() && !v.is_empty());
        if !used && !matchable {
            self.out.no_hash += 1;
            self.out.no_hash_listed += 1;
        }
        Ok(())
    }

    /// `frame,quality,hash,timestamp` per line; the label names the video file and frame, so
    /// a match says which video each frame hash came from.
    fn vpdq(&mut self, n: usize, l: &str, video: &Arc<str>) -> Result<(), InputError> {
        let c: Vec<&str> = l.split(',').map(str::trim).collect();
        if c.len() != 4 {
            return self.bad(n, "expected frame,quality,hash,timestamp".into());
        }
        let label = format!("{video}#frame={}@{}s", c[0], c[3]);
        self.push(n, c[2], Some(&label), c[1].parse().ok(), None, Some(video))
    }
}

/// A CSV reader's error: the OS's, or a malformed file (invalid UTF-8 is the one it can
/// report), with the line.
fn csv_error(e: csv::Error) -> LineError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(e) => LineError::Io(e),
        other => LineError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {line}: {other:?}"),
        )),
    }
}
