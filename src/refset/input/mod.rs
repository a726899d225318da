//! Reading hash lists: plain hex lines, CSV with a hash column (our `hash` output and the
//! reference tool's `hash,quality,path`), JSONL, and vPDQ frame files
//! (`frame,quality,hash,timestamp`). The format is recognised from the content.

use std::path::{Path, PathBuf};

use thiserror::Error;

mod parser;

use std::io::Read;

use super::exchange;
use super::format::Algo;
use super::write::Entry;
use parser::parse;

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

impl InputError {
    /// A maker of `Io` errors that name `path`, for `map_err`.
    pub fn io(path: &Path) -> impl Fn(std::io::Error) -> InputError + Copy + '_ {
        move |cause| InputError::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// The layout of a hash list (`refs build --input-format`; recognised by content when not
/// given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// One hash per line, a label after it; or ThreatExchange `<signal_type> <value>` lines.
    #[value(name = "plain")]
    PlainHex,
    Csv,
    /// One JSON record per line (ours, or StopNCII-style `hashValue` records).
    Jsonl,
    /// `frame,quality,hash,timestamp` (vPDQ).
    Vpdq,
    /// NCMEC hash-sharing XML.
    #[value(name = "ncmec")]
    Xml,
    /// One JSON document: VICS, or an array of StopNCII-style records.
    Json,
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
    /// Fingerprints of exchanged lists not used, by type: other algorithms of the set
    /// (build again with `--algo`), or types we cannot match (PhotoDNA, TMK).
    pub unused: std::collections::BTreeMap<String, usize>,
    /// Deletions of exchanged lists: (list and id, how many entries were read before it).
    pub deletions: Vec<(String, usize)>,
    /// Rows without a hash that were exchanged entries (their kinds are named, so a build
    /// of another kind reads them again; plain rows are read once).
    pub no_hash_listed: usize,
    /// The file is an exchanged list (entries name their fingerprint kinds): a build of
    /// several kinds reads it once per kind.
    pub exchanged: bool,
}

/// What a list's first lines say, before it is read: whether it is an exchanged list, and
/// the kind of the first hash of a plain one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peek {
    pub exchanged: bool,
    pub algo: Option<Algo>,
}

/// Look at the head of a list (64 KiB, whole lines): cheap, whatever the list's size.
pub fn peek(path: &Path, kind: Option<Kind>) -> Result<Peek, InputError> {
    let io = InputError::io(path);
    let mut head = vec![];
    std::fs::File::open(path)
        .and_then(|f| f.take(HEAD_BYTES).read_to_end(&mut head))
        .map_err(io)?;
    let kind = kind.unwrap_or_else(|| detect(&String::from_utf8_lossy(&head)));
    if matches!(kind, Kind::Xml | Kind::Json) {
        return Ok(Peek {
            exchanged: true,
            algo: None,
        });
    }
    // A line cut by the window is not judged.
    if head.len() as u64 == HEAD_BYTES {
        let end = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        head.truncate(end);
    }
    let p = parse(std::io::Cursor::new(head), path, kind, None, true, vec![])?;
    Ok(Peek {
        exchanged: p.exchanged,
        algo: p.algo,
    })
}

/// Bytes of a list read to tell its layout.
const HEAD_BYTES: u64 = 64 << 10;

/// Parse hex into little-endian u64 words in the project's bit order (see `crate::hash`).
pub fn parse_hash(s: &str, algo: Algo) -> Option<Vec<u64>> {
    match algo {
        Algo::Pdq => s.parse::<crate::hash::Pdq256>().ok().map(|h| h.0.to_vec()),
        Algo::Phash => s.parse::<crate::hash::Phash64>().ok().map(|h| vec![h.0]),
        Algo::Md5 | Algo::Sha1 | Algo::Sha256 => digest_words(s, algo),
    }
}

/// A digest's bytes in order, packed into little-endian words (the last one zero-padded):
/// the form of a digest set's hash array, and of the digests a scan computes.
pub fn digest_words(hex: &str, algo: Algo) -> Option<Vec<u64>> {
    let n = algo.digest_bytes()?;
    if hex.len() != n * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = vec![0u8; algo.words() * 8];
    for (i, b) in bytes.iter_mut().take(n).enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    )
}

/// Columns (CSV) or keys (JSONL) a hash may be found under, in the order they are
/// looked for: with `algo` forced, its own name and `hash`; otherwise perceptual hashes
/// first (our own outputs hold both), then digests.
fn hash_keys(algo: Option<Algo>) -> Vec<&'static str> {
    match algo {
        Some(a) => vec![a.name(), "hash"],
        None => vec!["hash", "pdq", "phash", "md5", "sha1", "sha256"],
    }
}

pub fn detect(text: &str) -> Kind {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if first.starts_with("<?xml") || first.starts_with("<queryResult") {
        return Kind::Xml;
    }
    // JSON is told by parsing, not by line shape: a first line that is a whole document
    // (VICS, an array of records) is one, however it is laid out; a first line that is a
    // hash record starts JSONL; an opening brace alone starts a pretty-printed document.
    if first.starts_with('{') || first.starts_with('[') {
        return match serde_json::from_str::<serde_json::Value>(first) {
            Ok(v) if v.is_object() && !is_document(&v) => Kind::Jsonl,
            _ => Kind::Json,
        };
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
    if cells.len() > 1 && cells.iter().any(|c| hash_keys(None).contains(c)) {
        return Kind::Csv;
    }
    Kind::PlainHex
}

/// A JSON object that is a whole list rather than one record of a JSONL file: VICS (an
/// OData `value` array) or any other object wrapping an array of records.
fn is_document(v: &serde_json::Value) -> bool {
    exchange::is_vics(v) || v["value"].is_array()
}

/// Read one file. `algo` forces the algorithm; otherwise the first hash's length decides.
pub fn read_file(
    path: &Path,
    algo: Option<Algo>,
    skip_invalid: bool,
) -> Result<Parsed, InputError> {
    read_into(path, algo, skip_invalid, vec![])
}

/// The fewest bytes a hash list spends on one entry (16 hex digits and a line break): the
/// list's size over this bounds its entries, so that room for them is made once instead of
/// doubling (which holds three times the entries at the last step).
pub const MIN_BYTES_PER_ENTRY: u64 = 17;

/// `read_file`, appending to `entries` (reserved by the caller for all its inputs).
pub fn read_into(
    path: &Path,
    algo: Option<Algo>,
    skip_invalid: bool,
    entries: Vec<Entry>,
) -> Result<Parsed, InputError> {
    read_as(path, None, algo, skip_invalid, entries)
}

/// `read_into` with the layout given (`None`: recognised from the content).
pub fn read_as(
    path: &Path,
    kind: Option<Kind>,
    algo: Option<Algo>,
    skip_invalid: bool,
    entries: Vec<Entry>,
) -> Result<Parsed, InputError> {
    let io = InputError::io(path);
    // Streamed: a list of 100 million lines is never held as text. The head tells the kind.
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = vec![];
    (&mut file)
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(io)?;
    let kind = kind.unwrap_or_else(|| detect(&String::from_utf8_lossy(&head)));
    let reader = std::io::Cursor::new(head).chain(file);
    parse(reader, path, kind, algo, skip_invalid, entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, algo: Option<Algo>, skip: bool) -> Result<Parsed, InputError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.vpdq.txt");
        std::fs::write(&p, text).unwrap();
        read_file(&p, algo, skip)
    }

    const H: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    #[test]
    fn formats_are_recognised_by_content() {
        assert_eq!(detect(&format!("{H} some label\n")), Kind::PlainHex);
        assert_eq!(detect("hash,quality,path\n"), Kind::Csv);
        assert_eq!(detect("path,width,height,pdq,quality\n"), Kind::Csv);
        assert_eq!(detect(&format!("{{\"pdq\":\"{H}\"}}\n")), Kind::Jsonl);
        assert_eq!(detect(&format!("0,100,{H},0.000\n")), Kind::Vpdq);
        // A document on one line is a document, however it is laid out.
        let vics = r#"{"odata.metadata":"x","value":[{"MediaID":1,"MD5":"00"}]}"#;
        assert_eq!(detect(vics), Kind::Json);
        assert_eq!(detect(&format!("{vics}\n")), Kind::Json);
        assert_eq!(detect("{\n  \"value\": []\n}\n"), Kind::Json);
        assert_eq!(
            detect(r#"[{"hashValue":"ab","signalType":"ImagePDQ"}]"#),
            Kind::Json
        );
    }

    #[test]
    fn each_format_gives_hashes_labels_and_quality() {
        let p = parse(&format!("{H} known-1\n\n# comment\n{H}\n"), None, false).unwrap();
        assert_eq!(p.algo, Some(Algo::Pdq));
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].labels[0], "known-1");
        assert!(
            p.entries[1].labels[0].to_string().ends_with(":4"),
            "file:line label"
        );

        let p = parse(
            &format!("hash,quality,path\n{H},87,\"a,b.jpg\"\n"),
            None,
            false,
        )
        .unwrap();
        assert_eq!(
            (p.entries[0].quality, p.entries[0].labels[0].to_string()),
            (Some(87), "a,b.jpg".to_string())
        );

        let p = parse(&format!("{{\"path\":\"x.jpg\",\"pdq\":\"{H}\",\"quality\":90}}\n{{\"path\":\"y\",\"status\":\"error\"}}\n"), None, false).unwrap();
        assert_eq!((p.entries.len(), p.no_hash), (1, 1));
        assert_eq!(p.entries[0].quality, Some(90));

        let p = parse(&format!("0,100,{H},0.000\n30,95,{H},1.001\n"), None, false).unwrap();
        assert!(
            p.entries[1].labels[0]
                .to_string()
                .ends_with("/in#frame=30@1.001s")
        );
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
    fn csv_cells_keep_quoted_commas_quotes_and_line_breaks() {
        let p = parse(
            &format!("hash,path\n{H},\"a,\"\"b\"\"\nc.jpg\"\n{H},d\n"),
            None,
            false,
        )
        .unwrap();
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].labels[0].to_string(), "a,\"b\" c.jpg");
    }
}
