//! Picking up an interrupted scan: what the output already records is kept, a torn last
//! line is cut off, and match lines of files whose record never made it are dropped (they
//! will be written again with the file). Records are appended in batches, each synced, so
//! after any crash the output is a prefix of whole records plus at most one torn line.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use super::record::{Format, key_of};

/// Paths (record keys) already recorded in `out`, after repairing its tail.
pub fn recorded(out: &Path, format: Format) -> std::io::Result<HashSet<String>> {
    let mut done = HashSet::new();
    if !out.exists() {
        return Ok(done);
    }
    check_format(out, format)?;
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
        Format::Csv => whole_csv_records(out, &mut done)?,
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
    let reader = BufReader::new(File::open(matches)?);
    crate::durable::replace(matches, &tmp, |f| {
        let mut w = std::io::BufWriter::new(f);
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
        w.flush()
    })
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

/// The header record of the run `out` continues: the first line of a JSONL output, or of
/// the `.meta.jsonl` beside a CSV one. `None` when there is none yet.
pub fn first_header(meta: &Path) -> std::io::Result<Option<serde_json::Value>> {
    let Ok(f) = File::open(meta) else {
        return Ok(None);
    };
    let mut line = String::new();
    BufReader::new(f).read_line(&mut line)?;
    Ok(serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .filter(|v| v["type"] == "header"))
}

/// Parameters that may change between a run and its resumption: they do not change any
/// record (how long a stalled video decoder or a HEIC/AVIF decoder is given).
const MAY_CHANGE: [&str; 2] = ["video_timeout_s", "decoder_timeout_s"];

/// Refuses to resume a run under different settings: records written under both would
/// not be one scan. Compares algorithms, every hashing, decoding and matching parameter,
/// and the reference sets (by content: algorithm, entries and checksum, not path).
/// Returns what differs, one `name: was X, now Y` each.
pub fn differences(before: &serde_json::Value, now: &serde_json::Value) -> Vec<String> {
    let mut out = vec![];
    let mut differ = |name: &str, a: &serde_json::Value, b: &serde_json::Value| {
        if a != b {
            let show = |v: &serde_json::Value| match v {
                serde_json::Value::Null => "not set".to_string(),
                v => v.to_string(),
            };
            out.push(format!("{name}: was {}, now {}", show(a), show(b)));
        }
    };
    differ("algorithms", &before["algorithms"], &now["algorithms"]);
    let empty = serde_json::Map::new();
    let params = |v: &serde_json::Value| v["parameters"].as_object().unwrap_or(&empty).clone();
    let (a, b) = (params(before), params(now));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys
        .into_iter()
        .filter(|k| !MAY_CHANGE.contains(&k.as_str()))
    {
        let null = serde_json::Value::Null;
        let (x, y) = (a.get(k).unwrap_or(&null), b.get(k).unwrap_or(&null));
        // A parameter an older version did not record had its default (off).
        let added_off = a.get(k).is_none() && matches!(y, serde_json::Value::Bool(false));
        if !added_off {
            differ(k, x, y);
        }
    }
    let sets = |v: &serde_json::Value| -> serde_json::Value {
        v["refsets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| serde_json::json!([s["algorithm"], s["entries"], s["checksum"]]))
            .collect()
    };
    differ(
        "reference sets (algorithm, entries, checksum)",
        &sets(before),
        &sets(now),
    );
    out
}

/// Like `whole_lines` for CSV, where a quoted cell may span lines: the length of the
/// records that are complete (all columns, line break written), their keys into `done`.
fn whole_csv_records(out: &Path, done: &mut HashSet<String>) -> std::io::Result<u64> {
    let file = File::open(out)?;
    let mut rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(file));
    let mut row = csv::ByteRecord::new();
    let (mut good, mut before_last, mut last_key, mut first) = (0, 0, None, true);
    // Every whole row has as many cells as the header (the first row).
    let mut columns = None;
    while rows
        .read_byte_record(&mut row)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", out.display())))?
    {
        if *columns.get_or_insert(row.len()) != row.len() {
            break;
        }
        if let Some(k) = last_key.take() {
            done.insert(k);
        }
        before_last = good;
        good = rows.position().byte();
        if !std::mem::take(&mut first) {
            let path = String::from_utf8_lossy(&row[0]);
            last_key = Some(key_of(&path, &row[1] == b"true"));
        }
    }
    // The last record counts only if its line break made it to disk outside a quoted cell
    // (a reader ends a record at the end of the file even inside an open quote).
    let complete = good > 0 && {
        use std::os::unix::fs::FileExt;
        let mut last = vec![0u8; (good - before_last) as usize];
        File::open(out)?
            .read_exact_at(&mut last, before_last)
            .is_ok()
            && last.ends_with(b"\n")
            && last.iter().filter(|&&b| b == b'"').count() % 2 == 0
    };
    if !complete {
        return Ok(before_last);
    }
    if let Some(k) = last_key {
        done.insert(k);
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

    #[test]
    fn a_resumption_under_other_settings_names_each_difference() {
        let before = serde_json::json!({"type": "header", "algorithms": ["pdq"],
            "parameters": {"dihedral": false, "video_timeout_s": 30, "min_quality": 50},
            "refsets": [{"path": "/a.hsref", "algorithm": "pdq", "entries": 3, "checksum": "ab"}]});
        let mut now = before.clone();
        now["parameters"]["video_timeout_s"] = serde_json::json!(90);
        now["refsets"][0]["path"] = serde_json::json!("/moved/a.hsref");
        assert_eq!(differences(&before, &now), Vec::<String>::new());
        now["parameters"]["dihedral"] = serde_json::json!(true);
        now["parameters"]["all_frames"] = serde_json::json!(true);
        now["refsets"][0]["checksum"] = serde_json::json!("cd");
        let d = differences(&before, &now);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(
            d.contains(&"dihedral: was false, now true".to_string()),
            "{d:?}"
        );
        assert!(
            d.contains(&"all_frames: was not set, now true".to_string()),
            "{d:?}"
        );
        assert!(d[2].starts_with("reference sets"), "{d:?}");
    }
}
