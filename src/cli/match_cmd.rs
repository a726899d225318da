//! `hashsweep match`: queries (hash files, or images hashed on the fly) against a reference
//! set, exact, on the GPU or CPU.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::hash::HashSource;
use super::output::{Format, csv_cell};
use crate::engine::{Algorithms, BackendChoice, Engine};
use crate::gpu::GpuMatcher;
use crate::hash::Dihedral;
use crate::matching::{self, MatchParams, Matcher, QueryHashes};
use crate::refset::{Algo, RefSet, input};
use crate::scan::{sniff, walk};

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Hash files (any format `refs build` reads) and/or images and directories.
    #[arg(required = true)]
    pub queries: Vec<PathBuf>,
    #[arg(long)]
    pub refs: PathBuf,
    /// Report entries at most this far (default: 31 for PDQ, 10 for pHash).
    #[arg(long)]
    pub max_distance: Option<u32>,
    /// Only the K nearest entries within the distance, per query.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Match image queries in all 8 rotations and flips (PDQ).
    #[arg(long)]
    pub dihedral: bool,
    /// Skip PDQ queries below this quality (counted on stderr).
    #[arg(long, default_value_t = matching::DEFAULT_MIN_QUALITY)]
    pub min_quality: u8,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// A query as reported: the image path, or the label its hash list gave it.
struct Query {
    name: String,
}

pub fn run(args: MatchArgs) -> anyhow::Result<i32> {
    let set = RefSet::open(&args.refs)?;
    let algo = set.algo();
    let engine = Engine::open(args.backend, None)?;
    let mut queries = vec![];
    let mut hashes = QueryHashes::new(algo);
    let mut stats = Counts::default();
    let (files, walk_errors) = walk::expand(&args.queries);
    stats.failed += walk_errors.len();
    for (p, e) in &walk_errors {
        eprintln!("hashsweep: {}: {e}", p.display());
    }
    let (images, lists): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|p| is_image(p));
    for list in &lists {
        read_list(
            list,
            algo,
            args.min_quality,
            &mut queries,
            &mut hashes,
            &mut stats,
        )?;
    }
    hash_images(
        &engine,
        &images,
        algo,
        &args,
        &mut queries,
        &mut hashes,
        &mut stats,
    );
    let params = MatchParams {
        max_distance: args
            .max_distance
            .unwrap_or_else(|| matching::default_max_distance(algo)),
        top_k: args.top_k,
    };
    let gpu = match engine.gpu_context() {
        Some(ctx) => Some(GpuMatcher::new(ctx)?),
        None => None,
    };
    let matcher = gpu.as_ref().map_or(Matcher::Cpu, Matcher::Gpu);
    let found = matcher.run(&set, &hashes, &params)?;
    write_matches(&args, &set, &queries, &found)?;
    eprintln!(
        "hashsweep: {} queries ({} hashes) against {} entries on {}: {} matches; {} below quality {} skipped, {} failed",
        queries.len(),
        hashes.len(),
        set.len(),
        engine.describe(),
        found.len(),
        stats.low_quality,
        args.min_quality,
        stats.failed
    );
    Ok(i32::from(stats.failed > 0))
}

#[derive(Default)]
struct Counts {
    low_quality: usize,
    failed: usize,
}

/// Images are recognised by their first bytes; anything else is read as a hash list.
fn is_image(p: &Path) -> bool {
    let mut head = Vec::with_capacity(sniff::HEAD);
    let _ = File::open(p).and_then(|f| {
        std::io::Read::read_to_end(&mut std::io::Read::take(f, sniff::HEAD as u64), &mut head)
    });
    matches!(sniff::detect(&head), sniff::Detected::Image(_))
}

fn read_list(
    path: &Path,
    algo: Algo,
    min_quality: u8,
    queries: &mut Vec<Query>,
    hashes: &mut QueryHashes,
    stats: &mut Counts,
) -> anyhow::Result<()> {
    let parsed = input::read_file(path, Some(algo), false)?;
    for e in parsed.entries {
        if algo == Algo::Pdq && e.quality.is_some_and(|q| q < min_quality) {
            stats.low_quality += 1;
            continue;
        }
        hashes.push(queries.len() as u32, 0, &e.words);
        queries.push(Query {
            name: e.labels.join("; "),
        });
    }
    Ok(())
}

fn hash_images(
    engine: &Engine,
    images: &[PathBuf],
    algo: Algo,
    args: &MatchArgs,
    queries: &mut Vec<Query>,
    hashes: &mut QueryHashes,
    stats: &mut Counts,
) {
    let algos = Algorithms {
        pdq: algo == Algo::Pdq,
        phash: algo == Algo::Phash,
    };
    let source = HashSource::new(engine, algos, Default::default());
    let mut results = vec![];
    source.for_each(images, |path, r| results.push((path.to_path_buf(), r)));
    for (path, result) in results {
        let h = match result {
            Ok(hashed) => hashed.hashes,
            Err(e) => {
                eprintln!("hashsweep: {}: {e}", path.display());
                stats.failed += 1;
                continue;
            }
        };
        let q = queries.len() as u32;
        match (h.pdq, h.phash) {
            (Some(p), _) if p.quality.0 < args.min_quality => stats.low_quality += 1,
            (Some(p), _) => {
                let variants = if args.dihedral { 8 } else { 1 };
                for (v, hash) in p.hashes.iter().take(variants).enumerate() {
                    hashes.push(q, v as u8, &hash.0);
                }
                queries.push(Query {
                    name: path.to_string_lossy().into_owned(),
                });
            }
            (None, Some(ph)) => {
                hashes.push(q, 0, &[ph.0]);
                queries.push(Query {
                    name: path.to_string_lossy().into_owned(),
                });
            }
            (None, None) => {}
        }
    }
}

fn write_matches(
    args: &MatchArgs,
    set: &RefSet,
    queries: &[Query],
    found: &[matching::Match],
) -> anyhow::Result<()> {
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(out);
    let set_name = args.refs.to_string_lossy();
    if args.format == Format::Csv {
        writeln!(out, "query,refset,entry_id,label,distance,variant")?;
    }
    for m in found {
        let i = m.entry as usize;
        let (q, id, label) = (
            &queries[m.query as usize].name,
            set.ids()[i],
            set.label_text(i),
        );
        let variant = Dihedral::ALL[m.variant as usize].name();
        let variant = if variant == "pdq" {
            "original"
        } else {
            variant
        };
        match args.format {
            Format::Csv => writeln!(
                out,
                "{},{},{id},{},{},{variant}",
                csv_cell(q),
                csv_cell(&set_name),
                csv_cell(&label),
                m.distance
            )?,
            Format::Jsonl => writeln!(
                out,
                "{}",
                json!({"query": q, "refset": set_name, "entry_id": id, "label": label, "distance": m.distance, "variant": variant})
            )?,
        }
    }
    out.flush()?;
    Ok(())
}
