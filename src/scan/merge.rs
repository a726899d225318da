//! Shard outputs of one scan combined into one, streamed: records are never all held.
//! A shard missing or given twice, a shard that did not finish, a record in the wrong
//! shard, a file recorded twice, or a total that differs from what the walk found is
//! refused. What is held is 16 bytes per file (a digest of its key, to prove that no file
//! is recorded twice) and one line per shard.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::matches_path;
use super::record::{key_of_value, outer_of_value};
use super::shard::Shard;

/// What a merge wrote.
#[derive(Debug)]
pub struct Merged {
    pub shards: u64,
    pub files: u64,
    pub matches: u64,
}

/// What the first pass learns of one shard output.
struct ShardInfo {
    shard: Shard,
    files: u64,
    walked: Option<u64>,
}

/// A file record's key as a sortable 128-bit digest.
fn key_digest(v: &Value) -> u128 {
    let h = blake3::hash(key_of_value(v).as_bytes());
    u128::from_le_bytes(h.as_bytes()[..16].try_into().expect("16 bytes"))
}

/// The file on disk a record names, as the walk saw it (escaped bytes restored), for shard
/// ownership and for ordering the output as the walk orders files.
fn record_path(v: &Value) -> PathBuf {
    outer_of_value(v)
}

fn lines(path: &Path) -> anyhow::Result<impl Iterator<Item = anyhow::Result<(usize, String)>>> {
    let f = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let path = path.to_path_buf();
    Ok(BufReader::new(f).lines().enumerate().map(move |(i, l)| {
        l.with_context(|| format!("{}:{}", path.display(), i + 1))
            .map(|l| (i + 1, l))
    }))
}

/// First pass over one output: its shard, its file records' key digests (appended to
/// `keys`), every record checked to belong to the shard.
fn survey(path: &Path, keys: &mut Vec<u128>) -> anyhow::Result<ShardInfo> {
    let (mut shard, mut files, mut walked) = (None::<Shard>, 0, None);
    for line in lines(path)? {
        let (n, line) = line?;
        let v: Value =
            serde_json::from_str(&line).with_context(|| format!("{}:{n}", path.display()))?;
        match v["type"].as_str() {
            Some("header") => {
                let s = Shard::parse(v["parameters"]["shard"].as_str().unwrap_or("0/1"))?;
                if shard.is_some_and(|old| old != s) {
                    bail!("{}: headers name different shards", path.display());
                }
                shard = Some(s);
            }
            Some("file") => {
                let s = shard.with_context(|| format!("{}: no header record", path.display()))?;
                if !s.owns(&record_path(&v)) {
                    bail!(
                        "{}:{n}: {} belongs to another shard than {s}",
                        path.display(),
                        v["path"]
                    );
                }
                keys.push(key_digest(&v));
                // The walk counts files on disk; files inside them have records of their own.
                files += u64::from(v["depth"].as_u64().unwrap_or(0) == 0);
            }
            Some("summary") => walked = v["walked"].as_u64(),
            _ => {}
        }
    }
    let shard = shard.with_context(|| format!("{}: no header record", path.display()))?;
    Ok(ShardInfo {
        shard,
        files,
        walked,
    })
}

/// Shards of one scan: the same algorithms, parameters (but the shard) and reference sets,
/// and the same inputs, as the first shard's header says.
fn check_same_scan(outputs: &[PathBuf]) -> anyhow::Result<()> {
    let header = |p: &PathBuf| -> anyhow::Result<Value> {
        super::resume::first_header(p)?
            .with_context(|| format!("{}: no header record", p.display()))
    };
    let first = header(&outputs[0])?;
    for p in &outputs[1..] {
        let h = header(p)?;
        // Each shard has its own shard and its own folder of vPDQ files.
        let diff: Vec<String> =
            super::resume::differences_except(&first, &h, &["shard", "vpdq_dir"])
                .into_iter()
                .chain((first["inputs"] != h["inputs"]).then(|| "inputs".to_string()))
                .collect();
        if !diff.is_empty() {
            bail!(
                "{} and {} are not shards of one scan: {}",
                outputs[0].display(),
                p.display(),
                diff.join("; ")
            );
        }
    }
    Ok(())
}

/// Every shard of one split, each once, each finished.
fn check_shards(infos: &[ShardInfo], outputs: &[PathBuf]) -> anyhow::Result<u64> {
    let n = infos[0].shard.count;
    let mut seen = BTreeMap::new();
    for (p, path) in infos.iter().zip(outputs) {
        if p.walked.is_none() {
            bail!(
                "{}: no summary record: that shard did not finish (resume it)",
                path.display()
            );
        }
        if p.shard.count != n {
            bail!(
                "{}: shard {} of a {}-way split, others are {n}-way",
                path.display(),
                p.shard,
                p.shard.count
            );
        }
        if let Some(other) = seen.insert(p.shard.index, path) {
            bail!(
                "shard {} given twice: {} and {}",
                p.shard,
                other.display(),
                path.display()
            );
        }
    }
    let missing: Vec<u64> = (0..n).filter(|k| !seen.contains_key(k)).collect();
    if !missing.is_empty() {
        bail!("shards missing: {missing:?} of {n}");
    }
    let files: u64 = infos.iter().map(|p| p.files).sum();
    if let Some(walked) = infos.iter().find_map(|p| p.walked) {
        if walked != files {
            bail!(
                "the walk found {walked} files but the shards record {files}: a shard is incomplete (resume it)"
            );
        }
    }
    Ok(n)
}

/// The path of a key recorded twice, for the message (found by a further pass).
fn twice(outputs: &[PathBuf], digest: u128) -> String {
    for p in outputs {
        let Ok(it) = lines(p) else { continue };
        for (_, line) in it.flatten() {
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let text = v["path"].as_str().unwrap_or_default();
            if v["type"] == "file" && key_digest(&v) == digest {
                return text.to_string();
            }
        }
    }
    "a file".into()
}

/// Merge `outputs` (one scan's shards) into `output` and its matches file, each written
/// whole or not at all. File records come out sorted by path (by components) across the
/// shards, which is the walk's order for one input and files read in order.
pub fn merge(
    outputs: &[PathBuf],
    output: &Path,
    progress: &crate::progress::Progress,
) -> anyhow::Result<Merged> {
    if outputs.is_empty() {
        bail!("no shard outputs to merge");
    }
    let mut keys = vec![];
    let infos: Vec<ShardInfo> = outputs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            progress.stage(format!("reading shard {} of {}", i + 1, outputs.len()));
            survey(p, &mut keys)
        })
        .collect::<anyhow::Result<_>>()?;
    progress.stage(format!("checking {} records", keys.len()));
    let shards = check_shards(&infos, outputs)?;
    check_same_scan(outputs)?;
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        bail!("{} is recorded twice", twice(outputs, w[0]));
    }
    let mpath = matches_path(output);
    let mut matches = 0;
    if outputs.iter().any(|p| matches_path(p).exists()) {
        progress.stage("writing the matches");
        crate::durable::replace(&mpath, |f| {
            matches = write_matches(outputs, &keys, f).map_err(std::io::Error::other)?;
            Ok(())
        })
        .with_context(|| format!("cannot write {}", mpath.display()))?;
    } else if mpath.exists() {
        // No shard matched anything: an earlier merge's matches must not stay beside this.
        std::fs::remove_file(&mpath)?;
    }
    progress.stage(format!("writing {} records", keys.len()));
    crate::durable::replace(output, |f| {
        write_records(outputs, f, matches).map_err(std::io::Error::other)
    })
    .with_context(|| format!("cannot write {}", output.display()))?;
    Ok(Merged {
        shards,
        files: keys.len() as u64,
        matches,
    })
}

#[derive(Default)]
struct Counts {
    by_status: BTreeMap<String, u64>,
    by_format: BTreeMap<String, u64>,
    warnings: BTreeMap<String, u64>,
    files: u64,
}

impl Counts {
    fn add(&mut self, v: &Value) {
        let name = |k: &str| v[k].as_str().unwrap_or("none").to_string();
        *self.by_status.entry(name("status")).or_default() += 1;
        *self.by_format.entry(name("format")).or_default() += 1;
        for w in v["warnings"].as_array().into_iter().flatten() {
            let code = crate::decode::integrity::code(w.as_str().unwrap_or_default());
            *self.warnings.entry(code.to_string()).or_default() += 1;
        }
        self.files += 1;
    }
}

/// The next file record of one shard: (its path, the line as written).
type Next = Option<(PathBuf, String)>;

fn next_file(
    it: &mut dyn Iterator<Item = anyhow::Result<(usize, String)>>,
) -> anyhow::Result<Next> {
    for line in it {
        let (_, line) = line?;
        let v: Value = serde_json::from_str(&line)?;
        if v["type"] == "file" {
            return Ok(Some((record_path(&v), line)));
        }
    }
    Ok(None)
}

/// Header, every shard's file records merged in path order (each shard is in walk order,
/// so the whole is too), summary. Lines are copied as the shards wrote them.
fn write_records(outputs: &[PathBuf], f: &mut File, matches: u64) -> anyhow::Result<()> {
    let mut counts = Counts::default();
    let mut out = BufWriter::new(f);
    writeln!(out, "{}", merged_header(outputs)?)?;
    let mut readers = outputs
        .iter()
        .map(|p| lines(p).map(|it| Box::new(it) as Box<dyn Iterator<Item = _>>))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some((p, line)) = next_file(r.as_mut())? {
            heap.push(Reverse((p, i, line)));
        }
    }
    while let Some(Reverse((_, i, line))) = heap.pop() {
        counts.add(&serde_json::from_str(&line)?);
        writeln!(out, "{line}")?;
        if let Some((p, line)) = next_file(readers[i].as_mut())? {
            heap.push(Reverse((p, i, line)));
        }
    }
    let c = counts;
    writeln!(
        out,
        "{}",
        json!({"type": "summary", "walked": c.files, "in_shard": c.files, "by_status": c.by_status,
            "by_format": c.by_format, "warnings": c.warnings, "matches": matches, "shard": "0/1"})
    )?;
    out.flush()?;
    Ok(())
}

/// The first shard's header (what was run: command, parameters, reference sets) as the
/// whole scan's, with the shard made whole and the shard outputs named.
fn merged_header(outputs: &[PathBuf]) -> anyhow::Result<Value> {
    let first = lines(&outputs[0])?
        .filter_map(Result::ok)
        .find_map(|(_, l)| {
            serde_json::from_str::<Value>(&l)
                .ok()
                .filter(|v| v["type"] == "header")
        });
    let mut h = first.unwrap_or_else(|| json!({"type": "header"}));
    h["merged_from"] = json!(outputs);
    h["merged_by"] = json!(format!("hashsweep {}", env!("CARGO_PKG_VERSION")));
    h["parameters"]["shard"] = json!("0/1");
    Ok(h)
}

/// Matches of recorded files only: a shard killed mid-batch may hold others.
fn write_matches(outputs: &[PathBuf], keys: &[u128], f: &mut File) -> anyhow::Result<u64> {
    let mut w = BufWriter::new(f);
    let mut n = 0;
    for p in outputs {
        let mp = matches_path(p);
        if !mp.exists() {
            continue;
        }
        for line in lines(&mp)? {
            let (_, line) = line?;
            let known = serde_json::from_str::<Value>(&line).ok().is_some_and(|v| {
                let d = key_digest(&v);
                keys.binary_search(&d).is_ok()
            });
            if known {
                writeln!(w, "{line}")?;
                n += 1;
            }
        }
    }
    w.flush()?;
    Ok(n)
}
