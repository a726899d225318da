//! Reading hash lists: plain hex lines, CSV with a hash column (our `hash` output and the
//! reference tool's `hash,quality,path`), JSONL, and vPDQ frame files
//! (`frame,quality,hash,timestamp`). The format is recognised from the content.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::format::Algo;
use super::write::Entry;

#[derive(Debug, Error)]
pub enum InputError {
    // Not `source`: the OS error is said once, in this message, not again as the cause.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PlainHex,
    Csv,
    Jsonl,
    Vpdq,
}

/// What a file gave: its records, and counts of what was passed over.
#[derive(Debug, Default)]
pub struct Parsed {
    pub algo: Option<Algo>,
    pub entries: Vec<Entry>,
    /// Malformed lines skipped under `skip_invalid`.
    pub invalid: usize,
    /// Rows without a hash (e.g. `error` rows of our own output).
    pub no_hash: usize,
}

/// Parse hex into little-endian u64 words in the project's bit order (see `crate::hash`).
pub fn parse_hash(s: &str, algo: Algo) -> Option<Vec<u64>> {
    match algo {
        Algo::Pdq => s.parse::<crate::hash::Pdq256>().ok().map(|h| h.0.to_vec()),
        Algo::Phash => s.parse::<crate::hash::Phash64>().ok().map(|h| vec![h.0]),
    }
}

pub fn detect(text: &str) -> Kind {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if first.starts_with('{') {
        return Kind::Jsonl;
    }
    let cells: Vec<&str> = first.split(',').map(str::trim).collect();
    if cells.len() == 4
        && cells[0].parse::<u64>().is_ok()
        && cells[1].parse::<u8>().is_ok()
        && cells[2].len() == 64
        && cells[3].parse::<f64>().is_ok()
    {
        return Kind::Vpdq;
    }
    if cells.len() > 1 && cells.iter().any(|c| ["hash", "pdq", "phash"].contains(c)) {
        return Kind::Csv;
    }
    Kind::PlainHex
}

/// Read one file. `algo` forces the algorithm; otherwise the first hash's length decides.
pub fn read_file(
    path: &Path,
    algo: Option<Algo>,
    skip_invalid: bool,
) -> Result<Parsed, InputError> {
    let bytes = std::fs::read(path).map_err(|cause| InputError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut p = Parser {
        path,
        algo,
        skip_invalid,
        out: Parsed::default(),
    };
    match detect(&text) {
        Kind::Jsonl => p.jsonl(&text)?,
        Kind::Vpdq => p.vpdq(&text)?,
        Kind::Csv => p.csv(&text)?,
        Kind::PlainHex => p.plain(&text)?,
    }
    p.out.algo = p.algo;
    Ok(p.out)
}

struct Parser<'a> {
    path: &'a Path,
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

    fn source(&self, line: usize) -> String {
        format!("{}:{line}", self.path.display())
    }

    /// Add one record; `line` is 1-based, for messages and default labels; `video` names
    /// the video of a vPDQ frame.
    fn push(
        &mut self,
        line: usize,
        hex: &str,
        label: Option<String>,
        quality: Option<u8>,
        id: Option<u64>,
        video: Option<&str>,
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
                format!("{hex:?} is not a {}-bit hex hash", algo.bits()),
            );
        };
        let label = label
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| self.source(line));
        self.out.entries.push(Entry {
            words,
            labels: vec![label.replace('\n', " ")],
            quality,
            id,
            video: video.map(String::from),
        });
        Ok(())
    }

    /// One hash per line; whatever follows it (after a comma or whitespace) is the label.
    fn plain(&mut self, text: &str) -> Result<(), InputError> {
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (hash, rest) = l.split_once([',', ' ', '\t']).unwrap_or((l, ""));
            self.push(i + 1, hash, Some(rest.trim().to_string()), None, None, None)?;
        }
        Ok(())
    }

    fn csv(&mut self, text: &str) -> Result<(), InputError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let header: Vec<String> = lines.next().map(|(_, h)| split_csv(h)).unwrap_or_default();
        let col = |name: &str| header.iter().position(|h| h == name);
        let hash_col = match self.algo {
            Some(Algo::Phash) => col("phash").or(col("hash")),
            _ => col("hash").or(col("pdq")).or(col("phash")),
        };
        let Some(hash_col) = hash_col else {
            return self.bad(1, "no hash column".into());
        };
        let (label_col, quality_col, id_col) =
            (col("path").or(col("label")), col("quality"), col("id"));
        for (i, l) in lines {
            let cells = split_csv(l);
            let hash = cells.get(hash_col).map(String::as_str).unwrap_or("");
            if hash.is_empty() {
                self.out.no_hash += 1;
                continue;
            }
            let quality = quality_col.and_then(|c| cells.get(c)?.parse().ok());
            let id = id_col.and_then(|c| cells.get(c)?.parse().ok());
            let label = label_col.and_then(|c| cells.get(c).cloned());
            self.push(i + 1, hash, label, quality, id, None)?;
        }
        Ok(())
    }

    fn jsonl(&mut self, text: &str) -> Result<(), InputError> {
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = match serde_json::from_str(l) {
                Ok(v) => v,
                Err(e) => {
                    self.bad(i + 1, format!("invalid JSON: {e}"))?;
                    continue;
                }
            };
            let key = match self.algo {
                Some(Algo::Phash) => ["phash", "hash"],
                _ => ["hash", "pdq"],
            };
            let hash = key
                .iter()
                .find_map(|k| v[k].as_str())
                .or_else(|| v["phash"].as_str());
            let Some(hash) = hash else {
                self.out.no_hash += 1;
                continue;
            };
            let label = ["label", "path"]
                .iter()
                .find_map(|k| v[k].as_str())
                .map(String::from);
            let quality = v["quality"].as_u64().and_then(|q| u8::try_from(q).ok());
            self.push(i + 1, hash, label, quality, v["id"].as_u64(), None)?;
        }
        Ok(())
    }

    /// `frame,quality,hash,timestamp` per line; the label names the video file and frame, so
    /// a match says which video each frame hash came from.
    fn vpdq(&mut self, text: &str) -> Result<(), InputError> {
        // The path as given, not the file name: two folders' `clip.vpdq.txt` are two videos.
        let path = self.path.to_string_lossy();
        let video = path.strip_suffix(".vpdq.txt").unwrap_or(&path).to_string();
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let c: Vec<&str> = l.split(',').map(str::trim).collect();
            if c.len() != 4 {
                self.bad(i + 1, "expected frame,quality,hash,timestamp".into())?;
                continue;
            }
            let label = format!("{video}#frame={}@{}s", c[0], c[3]);
            self.push(
                i + 1,
                c[2],
                Some(label),
                c[1].parse().ok(),
                None,
                Some(&video),
            )?;
        }
        Ok(())
    }
}

/// Split one CSV line, honouring double quotes.
pub fn split_csv(line: &str) -> Vec<String> {
    let mut cells = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    cells.push(cur);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, algo: Option<Algo>, skip: bool) -> Result<Parsed, InputError> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hs-input-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("in.vpdq.txt");
        std::fs::write(&p, text).unwrap();
        let r = read_file(&p, algo, skip);
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    const H: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    #[test]
    fn formats_are_recognised_by_content() {
        assert_eq!(detect(&format!("{H} some label\n")), Kind::PlainHex);
        assert_eq!(detect("hash,quality,path\n"), Kind::Csv);
        assert_eq!(detect("path,width,height,pdq,quality\n"), Kind::Csv);
        assert_eq!(detect(&format!("{{\"pdq\":\"{H}\"}}\n")), Kind::Jsonl);
        assert_eq!(detect(&format!("0,100,{H},0.000\n")), Kind::Vpdq);
    }

    #[test]
    fn each_format_gives_hashes_labels_and_quality() {
        let p = parse(&format!("{H} known-1\n\n# comment\n{H}\n"), None, false).unwrap();
        assert_eq!(p.algo, Some(Algo::Pdq));
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].labels, ["known-1"]);
        assert!(p.entries[1].labels[0].ends_with(":4"), "file:line label");

        let p = parse(
            &format!("hash,quality,path\n{H},87,\"a,b.jpg\"\n"),
            None,
            false,
        )
        .unwrap();
        assert_eq!(
            (p.entries[0].quality, p.entries[0].labels[0].as_str()),
            (Some(87), "a,b.jpg")
        );

        let p = parse(&format!("{{\"path\":\"x.jpg\",\"pdq\":\"{H}\",\"quality\":90}}\n{{\"path\":\"y\",\"status\":\"error\"}}\n"), None, false).unwrap();
        assert_eq!((p.entries.len(), p.no_hash), (1, 1));
        assert_eq!(p.entries[0].quality, Some(90));

        let p = parse(&format!("0,100,{H},0.000\n30,95,{H},1.001\n"), None, false).unwrap();
        assert!(p.entries[1].labels[0].ends_with("/in#frame=30@1.001s"));
        assert_eq!(p.entries[1].quality, Some(95));
        assert!(p.entries[1].video.as_ref().unwrap().ends_with("/in"));
    }

    #[test]
    fn a_malformed_line_names_file_and_line_or_is_counted_when_skipping() {
        let text = format!("{H}\nnot-a-hash\n{H}\n");
        let e = parse(&text, None, false).unwrap_err().to_string();
        assert!(e.contains(":2:"), "{e}");
        let p = parse(&text, None, true).unwrap();
        assert_eq!((p.entries.len(), p.invalid), (2, 1));
        // A pHash line in a PDQ file is malformed too.
        let e = parse(&format!("{H}\n0123456789abcdef\n"), None, false).unwrap_err();
        assert!(e.to_string().contains(":2:"));
    }

    #[test]
    fn csv_cells_keep_quoted_commas_and_quotes() {
        assert_eq!(split_csv(r#"a,"b,c","d""e",f"#), ["a", "b,c", "d\"e", "f"]);
    }
}
