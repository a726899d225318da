//! Output records of `hashsweep scan` (JSONL; CSV on request) and the lossless escape of
//! paths that are not UTF-8.

use std::path::Path;

/// A path as record text. Valid UTF-8 paths without line breaks are written as they are.
/// Otherwise every byte of an invalid sequence, and every CR and LF, is written `%XX` and
/// `%` itself `%25`, and the record says `"path_escaped": true`; unescaping gives back the
/// exact bytes. (Line breaks are escaped so that every record is one line in CSV too.)
pub fn path_text(p: &Path) -> (String, bool) {
    let bytes = p.as_os_str().as_encoded_bytes();
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !s.contains(['\n', '\r']) {
            return (s.to_string(), false);
        }
    }
    let mut out = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(&escape_valid(s));
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(&escape_valid(
                    std::str::from_utf8(good).expect("valid prefix"),
                ));
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    out.push_str(&format!("%{b:02X}"));
                }
                rest = &bad[n..];
            }
        }
    }
    (out, true)
}

fn escape_valid(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

/// The exact bytes of an escaped path.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if let (b'%', Some(v)) = (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// How file records are written. Header and summary records are JSON either way (in the
/// output itself for JSONL, in `OUT.meta.jsonl` beside a CSV output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

/// Columns of the CSV form, in order; absent values are empty cells.
pub const CSV_COLUMNS: [&str; 16] = [
    "path",
    "path_escaped",
    "size",
    "mtime",
    "format",
    "width",
    "height",
    "frames",
    "pdq",
    "quality",
    "phash",
    "md5",
    "sha1",
    "sha256",
    "status",
    "reason",
];

/// One file record as a line (without the newline).
pub fn line(format: Format, r: &serde_json::Value) -> String {
    match format {
        Format::Jsonl => r.to_string(),
        Format::Csv => CSV_COLUMNS
            .iter()
            .map(|c| match &r[*c] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => crate::cli::output::csv_cell(s),
                serde_json::Value::Array(a) => a.len().to_string(),
                v => v.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Key under which a file is recorded (and recognised on resume and by merge). An escaped
/// path is marked, so that a file literally named `caf%E9` and one whose name holds the
/// byte E9 never share a key.
pub fn key(p: &Path) -> String {
    let (text, escaped) = path_text(p);
    key_of(&text, escaped)
}

pub fn key_of(text: &str, escaped: bool) -> String {
    if escaped {
        format!("{text}\0escaped")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_round_trip_through_the_escape() {
        use std::os::unix::ffi::OsStrExt;
        let raw: &[u8] = b"/ev/caf\xe9 100%/\xff\xfe.jpg";
        let p = Path::new(std::ffi::OsStr::from_bytes(raw));
        let (text, escaped) = path_text(p);
        assert!(escaped);
        assert_eq!(text, "/ev/caf%E9 100%25/%FF%FE.jpg");
        assert_eq!(unescape(&text), raw);
        assert_eq!(
            path_text(Path::new("/ok/100%.jpg")),
            ("/ok/100%.jpg".to_string(), false)
        );
    }
}
