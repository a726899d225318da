//! Picking up an interrupted scan: what the output already records is kept, a torn last
//! line is cut off, and match lines of files whose record never made it are dropped (they
//! will be written again with the file). Records are appended in batches, each synced, so
//! after any crash the output is a prefix of whole records plus at most one torn line.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use super::record::{Format, key_of_value};

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
            if let (Some("file"), Some(_)) = (v["type"].as_str(), v["path"].as_str()) {
                done.insert(key_of_value(&v));
            }
            true
        })?,
        Format::Csv => whole_csv_records(out, &mut done)?,
    };
    truncate_to(out, good)?;
    Ok(done)
}

/// Resuming in the other format, or a CSV output of other columns, would read every line
/// as torn and cut the output away: refuse instead.
fn check_format(out: &Path, format: Format) -> std::io::Result<()> {
    let mut first = String::new();
    BufReader::new(File::open(out)?).read_line(&mut first)?;
    let jsonl = first.starts_with('{');
    if !first.is_empty() && jsonl != (format == Format::Jsonl) {
        return Err(std::io::Error::other(format!(
            "{} was written as {}; resume it with the same --format",
            out.display(),
            if jsonl { "jsonl" } else { "csv" }
        )));
    }
    let header = super::record::csv_header();
    if format == Format::Csv && first.ends_with('\n') && first.trim_end() != header {
        return Err(std::io::Error::other(format!(
            "{} has other CSV columns than this version writes ({header}); resume it with the version that started it, or start a new output",
            out.display()
        )));
    }
    Ok(())
}

/// Keep only match lines whose file is recorded; rewrites the file in place atomically.
pub fn prune_matches(matches: &Path, done: &HashSet<String>) -> std::io::Result<()> {
    if !matches.exists() {
        return Ok(());
    }
    let reader = BufReader::new(File::open(matches)?);
    crate::durable::replace(matches, |f| {
        let mut w = std::io::BufWriter::new(f);
        for line in reader.split(b'\n') {
            let line = line?;
            let keep = serde_json::from_slice::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["path"].as_str().map(|_| done.contains(&key_of_value(&v))))
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

/// How a recorded parameter reads as the flag that set it.
#[derive(Clone, Copy)]
enum Shown {
    /// The flag's value (`--min-quality 50`); null is "not set".
    Value,
    /// A switch: `true` when given.
    Switch,
    /// A switch recorded as its effect: given when the value is null (`--full-decode`
    /// records the side JPEGs are no longer reduced to).
    NullWhenSet,
    /// A switch recorded as a phrase: given unless the phrase starts with this.
    UnlessStartsWith(&'static str),
    /// A set of names recorded as `{"name": true, ...}` (`--digest`).
    Names,
}

/// Recorded parameters and the flags that set them, so that a refusal names what the user
/// typed, not a field of the header.
const FLAGS: [(&str, &str, Shown); 17] = [
    ("max_pixels", "--max-pixels", Shown::Value),
    ("pre_resize", "--pre-resize", Shown::Value),
    (
        "jpeg_reduced_to_min_side",
        "--full-decode",
        Shown::NullWhenSet,
    ),
    ("digests", "--digest", Shown::Names),
    ("shard", "--shard", Shown::Value),
    ("follow_symlinks", "--follow-symlinks", Shown::Switch),
    ("all_frames", "--all-frames", Shown::Switch),
    ("dihedral", "--dihedral", Shown::Switch),
    ("trim_borders", "--trim-borders", Shown::Switch),
    ("min_quality", "--min-quality", Shown::Value),
    ("max_distance", "--max-distance", Shown::Value),
    (
        "exif_orientation",
        "--exif-orient",
        Shown::UnlessStartsWith("ignored"),
    ),
    ("alpha", "--background", Shown::UnlessStartsWith("dropped")),
    ("video_interval_s", "--video-interval", Shown::Value),
    ("vpdq_dir", "--vpdq-dir", Shown::Value),
    ("video_timeout_s", "--video-timeout", Shown::Value),
    ("decoder_timeout_s", "--decoder-timeout", Shown::Value),
];

/// The vPDQ rule's own thresholds, recorded under `video_match`.
const VIDEO_FLAGS: [(&str, &str); 2] = [
    ("query_match_pct", "--query-match-pct"),
    ("compared_match_pct", "--compared-match-pct"),
];

/// The flag that sets a recorded parameter (`video_match.query_match_pct` for nested
/// ones), for readers of the header (the report's parameter table).
pub fn flag_of(param: &str) -> Option<&'static str> {
    if param.starts_with("digests.") {
        return Some("--digest");
    }
    match param.strip_prefix("video_match.") {
        Some(sub) => VIDEO_FLAGS.iter().find(|(k, _)| *k == sub).map(|(_, f)| *f),
        None => FLAGS.iter().find(|(k, ..)| *k == param).map(|(_, f, _)| *f),
    }
}

fn show(v: &serde_json::Value, how: Shown) -> String {
    use serde_json::Value;
    let set = |yes: bool| if yes { "set" } else { "not set" }.to_string();
    match (how, v) {
        (Shown::Switch, v) => set(v == &Value::Bool(true)),
        (Shown::NullWhenSet, v) => set(v.is_null()),
        (Shown::UnlessStartsWith(p), Value::String(s)) if !s.starts_with(p) => s.clone(),
        (Shown::UnlessStartsWith(_), _) => set(false),
        (Shown::Names, Value::Object(m)) => {
            let on: Vec<&str> = m
                .iter()
                .filter(|(_, v)| **v == Value::Bool(true))
                .map(|(k, _)| k.as_str())
                .collect();
            if on.is_empty() {
                "none".into()
            } else {
                on.join(",")
            }
        }
        (_, Value::Null) => "not set".into(),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
            .collect::<Vec<_>>()
            .join(","),
        (_, v) => v.to_string(),
    }
}

/// A header with the hashes and digests its sets added taken out of its `algorithms` and
/// `parameters.digests`: what the command line asked for.
fn asked(header: &serde_json::Value) -> serde_json::Value {
    let mut h = header.clone();
    for a in header["added_for_refs"].as_array().into_iter().flatten() {
        let Some(hash) = a["hash"].as_str() else {
            continue;
        };
        if let Some(algos) = h["algorithms"].as_array_mut() {
            algos.retain(|x| x != hash);
        }
        if h["parameters"]["digests"][hash] == true {
            h["parameters"]["digests"][hash] = serde_json::json!(false);
        }
    }
    h
}

/// Refuses to resume a run under different settings: records written under both would
/// not be one scan. Compares algorithms, every hashing, decoding and matching parameter,
/// and the reference sets (by content: algorithm, entries and checksum, not path).
/// Returns what differs, one "`--flag` was X, now Y" each.
pub fn differences(before: &serde_json::Value, now: &serde_json::Value) -> Vec<String> {
    differences_except(before, now, &[])
}

/// `differences`, leaving out the parameters named in `same_anyway` (each shard of one scan
/// has its own `shard` and `vpdq_dir`).
pub fn differences_except(
    before: &serde_json::Value,
    now: &serde_json::Value,
    same_anyway: &[&str],
) -> Vec<String> {
    let mut out = vec![];
    let mut differ = |name: &str, a: &serde_json::Value, b: &serde_json::Value, how: Shown| {
        if a != b {
            out.push(format!(
                "`{name}` was {}, now {}",
                show(a, how),
                show(b, how)
            ));
        }
    };
    // What the sets added is not what the user asked for: a change of sets is named as
    // one (`--refs`), not as a change of `--algo` or `--digest` nobody typed.
    let (before, now) = (&asked(before), &asked(now));
    differ(
        "--algo",
        &before["algorithms"],
        &now["algorithms"],
        Shown::Value,
    );
    let empty = serde_json::Map::new();
    let params = |v: &serde_json::Value| v["parameters"].as_object().unwrap_or(&empty).clone();
    let (a, b) = (params(before), params(now));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let null = serde_json::Value::Null;
    for k in keys
        .into_iter()
        .filter(|k| !MAY_CHANGE.contains(&k.as_str()) && !same_anyway.contains(&k.as_str()))
    {
        let (x, y) = (a.get(k).unwrap_or(&null), b.get(k).unwrap_or(&null));
        // A parameter an older version did not record had its default (off).
        if a.get(k).is_none() && matches!(y, serde_json::Value::Bool(false)) {
            continue;
        }
        if k == "video_match" {
            // Distance and quality floor are `--max-distance` and `--min-quality`'s own.
            for (sub, flag) in VIDEO_FLAGS {
                differ(flag, &x[sub], &y[sub], Shown::Value);
            }
            continue;
        }
        match FLAGS.iter().find(|(key, ..)| key == k) {
            Some((_, flag, how)) => differ(flag, x, y, *how),
            None => differ(k, x, y, Shown::Value),
        }
    }
    let sets = |v: &serde_json::Value| -> serde_json::Value {
        v["refsets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let path = s["path"].as_str().unwrap_or("?");
                let sum = s["checksum"].as_str().unwrap_or("?");
                let short = &sum[..sum.len().min(12)];
                serde_json::json!(format!(
                    "{path} ({} {}, checksum {short})",
                    s["entries"],
                    s["algorithm"].as_str().unwrap_or("?")
                ))
            })
            .collect()
    };
    let content = |v: &serde_json::Value| -> serde_json::Value {
        v["refsets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| serde_json::json!([s["algorithm"], s["entries"], s["checksum"]]))
            .collect()
    };
    if content(before) != content(now) {
        let (was, is) = (sets(before), sets(now));
        out.push(format!(
            "`--refs` was {}, now {} (sets are compared by content)",
            show(&was, Shown::Value),
            show(&is, Shown::Value)
        ));
    }
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
    let depth_column = super::record::csv_depth_column();
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
            // A damaged output may hold rows of fewer cells than ours (found by fuzzing).
            let path = String::from_utf8_lossy(row.get(0).unwrap_or_default());
            let depth = row
                .get(depth_column)
                .and_then(|d| std::str::from_utf8(d).ok());
            let depth = depth.and_then(|d| d.parse().ok()).unwrap_or(0);
            last_key = Some(crate::sources::location::key_of(
                &path,
                row.get(1) == Some(&b"true"[..]),
                depth,
            ));
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
    fn a_csv_output_of_one_column_is_only_cut_never_a_panic() {
        // From the scan_outputs fuzz target: rows ended by CR alone, one cell each, and no
        // complete first line for the header check to read.
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out.csv");
        let bytes = b"n\r\r\r\rDDshaar{shar\rx\ry";
        std::fs::write(&out, bytes).unwrap();
        let _ = recorded(&out, Format::Csv);
        let after = std::fs::read(&out).unwrap();
        assert!(bytes.starts_with(&after), "the output is only ever cut");
    }

    #[test]
    fn a_torn_last_line_is_cut_and_orphan_matches_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
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
    }

    #[test]
    fn a_resumption_under_other_settings_names_each_difference() {
        let before = serde_json::json!({"type": "header", "algorithms": ["pdq"],
            "parameters": {"dihedral": false, "video_timeout_s": 30, "min_quality": 50,
                "jpeg_reduced_to_min_side": 1024},
            "refsets": [{"path": "/a.hsref", "algorithm": "pdq", "entries": 3, "checksum": "ab"}]});
        let mut now = before.clone();
        now["parameters"]["video_timeout_s"] = serde_json::json!(90);
        now["refsets"][0]["path"] = serde_json::json!("/moved/a.hsref");
        assert_eq!(differences(&before, &now), Vec::<String>::new());
        now["parameters"]["dihedral"] = serde_json::json!(true);
        now["parameters"]["all_frames"] = serde_json::json!(true);
        now["refsets"][0]["checksum"] = serde_json::json!("cd");
        now["parameters"]["jpeg_reduced_to_min_side"] = serde_json::Value::Null;
        let d = differences(&before, &now);
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(
            d.contains(&"`--dihedral` was not set, now set".to_string()),
            "{d:?}"
        );
        assert!(
            d.contains(&"`--all-frames` was not set, now set".to_string()),
            "{d:?}"
        );
        assert!(
            d.contains(&"`--full-decode` was not set, now set".to_string()),
            "{d:?}"
        );
        assert!(
            d[3].starts_with("`--refs` was /a.hsref (3 pdq, checksum ab)"),
            "{d:?}"
        );
    }
}
