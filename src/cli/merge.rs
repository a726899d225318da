//! `hashsweep merge`: combine shard outputs of one scan into one, refusing if a shard is
//! missing or doubled, a file appears twice, or the records do not add up to what the walk
//! found.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::scan::matches_path;
use crate::scan::record::key_of;
use crate::scan::shard::Shard;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard outputs (`scan -o` files); their `.matches.jsonl` files are merged too.
    #[arg(required = true)]
    pub outputs: Vec<PathBuf>,
    #[arg(short, long)]
    pub output: PathBuf,
}

struct ShardOutput {
    shard: Shard,
    files: Vec<Value>,
    walked: Option<u64>,
}

fn read(path: &PathBuf) -> anyhow::Result<ShardOutput> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (mut shard, mut files, mut walked) = (None, vec![], None);
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let v: Value = serde_json::from_str(&line?)
            .with_context(|| format!("{}:{}", path.display(), i + 1))?;
        match v["type"].as_str() {
            Some("header") => {
                let s = Shard::parse(v["parameters"]["shard"].as_str().unwrap_or("0/1"))?;
                if shard.is_some_and(|old| old != s) {
                    bail!("{}: headers name different shards", path.display());
                }
                shard = Some(s);
            }
            Some("file") => files.push(v),
            Some("summary") => walked = v["walked"].as_u64(),
            _ => {}
        }
    }
    let shard = shard.with_context(|| format!("{}: no header record", path.display()))?;
    Ok(ShardOutput {
        shard,
        files,
        walked,
    })
}

pub fn run(args: MergeArgs) -> anyhow::Result<i32> {
    let same = |a: &PathBuf, b: &PathBuf| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    };
    let clash =
        |p: &&PathBuf| same(p, &args.output) || same(&matches_path(p), &matches_path(&args.output));
    if let Some(p) = args.outputs.iter().find(clash) {
        bail!("{} is both an input and the output", p.display());
    }
    let parts: Vec<ShardOutput> = args
        .outputs
        .iter()
        .map(read)
        .collect::<anyhow::Result<_>>()?;
    let n = parts[0].shard.count;
    let mut seen_shards = BTreeMap::new();
    for (p, path) in parts.iter().zip(&args.outputs) {
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
        if let Some(other) = seen_shards.insert(p.shard.index, path) {
            bail!(
                "shard {} given twice: {} and {}",
                p.shard,
                other.display(),
                path.display()
            );
        }
    }
    let missing: Vec<u64> = (0..n).filter(|k| !seen_shards.contains_key(k)).collect();
    if !missing.is_empty() {
        bail!("shards missing: {missing:?} of {n}");
    }
    let mut paths = HashSet::new();
    let mut all = vec![];
    for p in &parts {
        for f in &p.files {
            let key = key_of(
                f["path"].as_str().unwrap_or_default(),
                f["path_escaped"] == true,
            );
            if !paths.insert(key.clone()) {
                bail!("{key} is recorded twice");
            }
            all.push(f.clone());
        }
    }
    if let Some(walked) = parts.iter().find_map(|p| p.walked) {
        if walked != all.len() as u64 {
            bail!(
                "the walk found {walked} files but the shards record {}: a shard is incomplete (resume it)",
                all.len()
            );
        }
    }
    all.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.output)?);
    let header = json!({"type": "header", "tool": format!("hashsweep {}", env!("CARGO_PKG_VERSION")),
        "merged_from": args.outputs, "parameters": {"shard": "0/1"}});
    writeln!(out, "{header}")?;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for f in &all {
        *by_status
            .entry(f["status"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
        writeln!(out, "{f}")?;
    }
    let mut matches = 0;
    let mout_path = matches_path(&args.output);
    let mut mout = None;
    for p in &args.outputs {
        let mp = matches_path(p);
        if let Ok(f) = std::fs::File::open(&mp) {
            let w = match &mut mout {
                Some(w) => w,
                None => mout.insert(std::io::BufWriter::new(std::fs::File::create(&mout_path)?)),
            };
            // Only matches of recorded files: a shard killed mid-batch may hold others.
            for line in BufReader::new(f).lines() {
                let line = line?;
                let known = serde_json::from_str::<Value>(&line).ok().is_some_and(|v| {
                    let k = key_of(
                        v["path"].as_str().unwrap_or_default(),
                        v["path_escaped"] == true,
                    );
                    paths.contains(&k)
                });
                if known {
                    writeln!(w, "{line}")?;
                    matches += 1;
                }
            }
        }
    }
    writeln!(
        out,
        "{}",
        json!({"type": "summary", "walked": all.len(), "in_shard": all.len(), "by_status": by_status, "matches": matches, "shard": "0/1"})
    )?;
    out.flush()?;
    if let Some(mut w) = mout {
        w.flush()?;
    }
    eprintln!(
        "hashsweep merge: {n} shards, {} files, {matches} matches -> {}",
        all.len(),
        args.output.display()
    );
    Ok(0)
}
