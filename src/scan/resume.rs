//! Picking up an interrupted scan: what the output already records is kept, a torn last
//! line is cut off, and match lines of files whose record never made it are dropped (they
//! will be written again with the file). Records are appended in batches, each synced, so
//! after any crash the output is a prefix of whole records plus at most one torn line.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use super::record::{CSV_COLUMNS, Format, key_of};
use crate::refset::input::split_csv;

/// Paths (record keys) already recorded in `out`, after repairing its tail.
pub fn recorded(out: &Path, format: Format) -> std::io::Result<HashSet<String>> {
    let mut done = HashSet::new();
    if !out.exists() {
        return Ok(done);
    }
    check_format(out, format)?;
    let mut first = true;
    let good = match format {
        Format::Jsonl => whole_lines(out, |line| {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                return false;
            };
            if let (Some("file"), Some(p)) = (v["type"].as_str(), v["path"].as_str()) {
                done.insert(key_of(p, v["path_escaped"] == true));
            }
            true
        })?,
        Format::Csv => whole_lines(out, |line| {
            let text = String::from_utf8_lossy(line);
            let cells = split_csv(text.trim_end_matches('\n'));
            if cells.len() != CSV_COLUMNS.len() {
                return false;
            }
            if !std::mem::take(&mut first) {
                done.insert(key_of(&cells[0], cells[1] == "true"));
            }
            true
        })?,
    };
    truncate_to(out, good)?;
    Ok(done)
}

/// Resuming in the other format would read every line as torn and cut the output away:
/// refuse instead.
fn check_format(out: &Path, format: Format) -> std::io::Result<()> {
    let mut head = [0u8; 1];
    let n = std::io::Read::read(&mut File::open(out)?, &mut head)?;
    let jsonl = head[0] == b'{';
    if n == 1 && jsonl != (format == Format::Jsonl) {
        return Err(std::io::Error::other(format!(
            "{} was written as {}; resume it with the same --format",
            out.display(),
            if jsonl { "jsonl" } else { "csv" }
        )));
    }
    Ok(())
}

/// Keep only match lines whose file is recorded; rewrites the file in place atomically.
pub fn prune_matches(matches: &Path, done: &HashSet<String>) -> std::io::Result<()> {
    if !matches.exists() {
        return Ok(());
    }
    let tmp = matches.with_extension("prune-tmp");
    let mut w = std::io::BufWriter::new(File::create(&tmp)?);
    let reader = BufReader::new(File::open(matches)?);
    for line in reader.split(b'\n') {
        let line = line?;
        let keep = serde_json::from_slice::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| {
                v["path"]
                    .as_str()
                    .map(|p| done.contains(&key_of(p, v["path_escaped"] == true)))
            })
            .unwrap_or(false);
        if keep {
            w.write_all(&line)?;
            w.write_all(b"\n")?;
        }
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, matches)?;
    // The rename is durable only once the directory entry is on disk.
    if let Some(dir) = matches.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Bytes of `path` made of complete lines accepted by `f`, from the start.
fn whole_lines(path: &Path, mut f: impl FnMut(&[u8]) -> bool) -> std::io::Result<u64> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut good = 0u64;
    let mut line = vec![];
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        if !f(&line) {
            break;
        }
        good += n as u64;
    }
    Ok(good)
}

fn truncate_to(path: &Path, len: u64) -> std::io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    if f.metadata()?.len() != len {
        f.set_len(len)?;
        f.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_and_orphan_matches_dropped() {
        let dir = std::env::temp_dir().join(format!("hs-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out.jsonl");
        std::fs::write(
            &out,
            "{\"type\":\"header\"}\n{\"type\":\"file\",\"path\":\"a\"}\n{\"type\":\"file\",\"pa",
        )
        .unwrap();
        let done = recorded(&out, Format::Jsonl).unwrap();
        assert_eq!(done, HashSet::from(["a".to_string()]));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"type\":\"header\"}\n{\"type\":\"file\",\"path\":\"a\"}\n"
        );
        let m = dir.join("out.matches.jsonl");
        std::fs::write(
            &m,
            "{\"path\":\"a\",\"distance\":1}\n{\"path\":\"b\",\"distance\":2}\n{\"pa",
        )
        .unwrap();
        prune_matches(&m, &done).unwrap();
        assert_eq!(
            std::fs::read_to_string(&m).unwrap(),
            "{\"path\":\"a\",\"distance\":1}\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
