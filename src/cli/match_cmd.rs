//! `hashsweep match`: queries (hash files, or images and videos hashed on the fly) against a
//! reference set, exact, on the GPU or CPU. Against a set built from vPDQ files, videos and
//! vPDQ files are matched as whole videos (vPDQ rule); against an image set, each sampled
//! frame of a video is a query of its own.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::output::{Format, csv_cell};
use crate::decode::sniff;
use crate::engine::{Algorithms, Engine};
use crate::matching::{self, MatchParams, Matcher, QueryHashes, video};
use crate::pipeline::{self, HashSource};
use crate::refset::{Algo, RefSet, input};
use crate::scan::walk;

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Hash files (any format `refs build` reads), images, videos and directories.
    #[arg(required = true)]
    pub queries: Vec<PathBuf>,
    #[arg(long)]
    pub refs: PathBuf,
    /// Image data held in memory at once while hashing query images (e.g. 4G); default
    /// half of the machine's (or the cgroup's) memory.
    #[arg(long, value_name = "SIZE", value_parser = pipeline::budget::parse_size)]
    pub max_memory: Option<u64>,
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
    /// Also match each query image with its added borders (letterbox, pillarbox, solid
    /// padding) cut; the `box` column or field says which part matched.
    #[arg(long)]
    pub trim_borders: bool,
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub video: super::video::VideoArgs,
}

/// A query as reported: the image path, or the label its hash list gave it.
struct Query {
    name: String,
}

pub fn run(args: MatchArgs) -> anyhow::Result<i32> {
    let set = RefSet::open(&args.refs)?;
    let algo = set.algo();
    if algo.is_digest() {
        anyhow::bail!(
            "{} holds {} digests, which match files exactly: use `hashsweep scan --refs {}`",
            args.refs.display(),
            algo.name(),
            args.refs.display()
        );
    }
    let engine = args.backend.open()?;
    let mut queries = vec![];
    let mut hashes = QueryHashes::new(algo);
    let mut stats = Counts::default();
    let (files, walk_errors) = walk::expand(&args.queries);
    stats.failed += walk_errors.len();
    for (p, e) in &walk_errors {
        eprintln!("hashsweep: {}: {e}", p.display());
    }
    let mut kinds = Kinds::default();
    for f in files {
        kinds.add(f);
    }
    if set.has_videos() && (!kinds.videos.is_empty() || !kinds.vpdq.is_empty()) {
        return match_videos(&args, &set, &engine, &kinds, stats);
    }
    let (images, mut lists) = (kinds.images, kinds.lists);
    lists.extend(kinds.vpdq);
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
    video_frames(
        &engine,
        &kinds.videos,
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
    let gpu = matching::gpu_matcher(engine.gpu_context());
    let matcher = gpu.as_ref().map_or(Matcher::Cpu, Matcher::Gpu);
    let found = matcher.run_or_cpu(&set, &hashes, &params);
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

/// Queries sorted by what their content says they are.
#[derive(Default)]
struct Kinds {
    images: Vec<PathBuf>,
    videos: Vec<PathBuf>,
    /// vPDQ text files: one video each.
    vpdq: Vec<PathBuf>,
    /// Any other hash list.
    lists: Vec<PathBuf>,
}

impl Kinds {
    /// Images and videos by their first bytes; anything else is read as a hash list.
    fn add(&mut self, p: PathBuf) {
        match sniff::detect_file(&p) {
            d if d.is_picture() => self.images.push(p),
            sniff::Detected::Video(_) => self.videos.push(p),
            _ if is_vpdq_text(&p) => self.vpdq.push(p),
            _ => self.lists.push(p),
        }
    }
}

/// Whether a hash list's first line is a vPDQ line (`frame,quality,hash,timestamp`).
fn is_vpdq_text(p: &Path) -> bool {
    let mut head = Vec::with_capacity(512);
    let _ = File::open(p)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 512), &mut head));
    input::detect(&String::from_utf8_lossy(&head)) == input::Kind::Vpdq
}

fn video_name(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Against an image set: every sampled frame of each video is a query, named
/// `VIDEO#frame=N@Ts`, in all 8 orientations with `--dihedral`.
fn video_frames(
    engine: &Engine,
    videos: &[PathBuf],
    args: &MatchArgs,
    queries: &mut Vec<Query>,
    hashes: &mut QueryHashes,
    stats: &mut Counts,
) {
    let opts = args.video.options(crate::decode::DEFAULT_MAX_PIXELS);
    for v in videos {
        // Refused before decoding: a pHash set has nothing to say about PDQ frame hashes.
        if hashes.algo == Algo::Phash {
            eprintln!(
                "hashsweep: {}: videos are hashed with PDQ; this is a pHash set",
                v.display()
            );
            stats.failed += 1;
            continue;
        }
        let hashed = match crate::video::hash_video(v, engine, &opts) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("hashsweep: {}: {e}", v.display());
                stats.failed += 1;
                continue;
            }
        };
        for w in &hashed.warnings {
            eprintln!("hashsweep: warning: {}: {w}", v.display());
        }
        for (f, p) in hashed.features.iter().zip(&hashed.variants) {
            if f.quality < args.min_quality {
                stats.low_quality += 1;
                continue;
            }
            let q = queries.len() as u32;
            let variants = if args.dihedral { 8 } else { 1 };
            for (k, h) in p.hashes.iter().take(variants).enumerate() {
                hashes.push(q, k as u8, &h.0);
            }
            queries.push(Query {
                name: format!("{}#frame={}@{:.3}s", video_name(v), f.frame, f.timestamp),
            });
        }
    }
}

/// Against a set built from vPDQ files: each video or vPDQ file is one query video, and
/// all of them go through the matcher in one run over the whole set.
fn match_videos(
    args: &MatchArgs,
    set: &RefSet,
    engine: &Engine,
    kinds: &Kinds,
    mut stats: Counts,
) -> anyhow::Result<i32> {
    for p in kinds.images.iter().chain(&kinds.lists) {
        eprintln!(
            "hashsweep: {}: not a video or vPDQ file; this set holds videos (give images in a run of their own)",
            p.display()
        );
        stats.failed += 1;
    }
    let opts = args.video.options(crate::decode::DEFAULT_MAX_PIXELS);
    let mut names = vec![];
    let mut features = vec![];
    let read = kinds
        .vpdq
        .iter()
        .map(|p| (p, crate::video::read_text(p).map_err(anyhow::Error::from)));
    let hashed = kinds.videos.iter().map(|p| {
        let h = crate::video::hash_video(p, engine, &opts).map_err(anyhow::Error::from);
        (
            p,
            h.map(|h| {
                for w in &h.warnings {
                    eprintln!("hashsweep: warning: {}: {w}", p.display());
                }
                h.features
            }),
        )
    });
    for (p, r) in read.chain(hashed) {
        match r {
            Ok(f) => {
                names.push(video_name(p));
                features.push(f);
            }
            Err(e) => {
                eprintln!("hashsweep: {}: {e}", p.display());
                stats.failed += 1;
            }
        }
    }
    let distance = args
        .max_distance
        .unwrap_or_else(|| matching::default_max_distance(Algo::Pdq));
    let p = args.video.params(distance, args.min_quality);
    let queries: Vec<_> = features
        .iter()
        .map(|f| video::distinct(f, p.min_quality))
        .collect();
    let totals = video::VideoTotals::new(set, p.min_quality);
    let gpu = matching::gpu_matcher(engine.gpu_context());
    let matcher = gpu.as_ref().map_or(Matcher::Cpu, Matcher::Gpu);
    let found = video::against_set(set, &totals, &matcher, &queries, &p).or_else(|e| {
        eprintln!("hashsweep: warning: {e}; matching on the CPU");
        video::against_set(set, &totals, &Matcher::Cpu, &queries, &p)
    })?;
    write_video_matches(args, set, &names, &found, &p)?;
    eprintln!(
        "hashsweep: {} query videos against {} videos ({} frame hashes) on {}: {} pairs share hashes, {} match (q% >= {}, c% >= {}); {} failed",
        names.len(),
        set.video_count(),
        set.len(),
        engine.describe(),
        found.len(),
        found.iter().filter(|m| m.score.is_match(&p)).count(),
        p.query_pct,
        p.compared_pct,
        stats.failed
    );
    Ok(i32::from(stats.failed > 0))
}

fn write_video_matches(
    args: &MatchArgs,
    set: &RefSet,
    names: &[String],
    found: &[video::VideoMatch],
    p: &video::VpdqParams,
) -> anyhow::Result<()> {
    let mut out = BufWriter::new(open_output(args)?);
    let set_name = args.refs.to_string_lossy();
    if args.format == Format::Csv {
        writeln!(
            out,
            "query,refset,compared,query_match_pct,compared_match_pct,match,query_hashes_matched,query_hashes,compared_hashes_matched,compared_hashes"
        )?;
    }
    for m in found {
        let (q, c, s) = (&names[m.query], set.video_name(m.video), m.score);
        match args.format {
            Format::Csv => writeln!(
                out,
                "{},{},{},{:.2},{:.2},{},{},{},{},{}",
                csv_cell(q),
                csv_cell(&set_name),
                csv_cell(c),
                s.query_pct(),
                s.compared_pct(),
                s.is_match(p),
                s.query_hits,
                s.query_total,
                s.compared_hits,
                s.compared_total
            )?,
            Format::Jsonl => {
                let mut line = json!({"query": q, "refset": set_name, "compared": c});
                s.put_json(p, &mut line);
                writeln!(out, "{line}")?
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn open_output(args: &MatchArgs) -> anyhow::Result<Box<dyn Write>> {
    Ok(match &args.output {
        Some(p) => Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    })
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
            name: e
                .labels
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
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
    let budget = pipeline::budget_of(args.max_memory);
    let opts = crate::decode::DecodeOptions {
        trim_borders: args.trim_borders,
        ..Default::default()
    };
    let source = HashSource::new(engine, algos, opts, budget);
    let mut results = vec![];
    source.for_each(images, |path, r| results.push((path.to_path_buf(), r)));
    for (path, result) in results {
        let hashed = match result {
            Ok(hashed) => hashed,
            Err(e) => {
                eprintln!("hashsweep: {}: {e}", path.display());
                stats.failed += 1;
                continue;
            }
        };
        let q = queries.len() as u32;
        let whole = std::iter::once((0, &hashed.hashes));
        let trimmed = hashed.trimmed.iter().map(|(_, h)| (matching::TRIMMED, h));
        let mut pushed = false;
        for (base, h) in whole.chain(trimmed) {
            match (h.pdq, h.phash) {
                (Some(p), _) if p.quality.0 < args.min_quality => {}
                (Some(p), _) => {
                    let variants = if args.dihedral { 8 } else { 1 };
                    for (v, hash) in p.hashes.iter().take(variants).enumerate() {
                        hashes.push(q, base + v as u8, &hash.0);
                    }
                    pushed = true;
                }
                (None, Some(ph)) => {
                    hashes.push(q, base, &[ph.0]);
                    pushed = true;
                }
                (None, None) => {}
            }
        }
        if pushed {
            queries.push(Query {
                name: path.to_string_lossy().into_owned(),
            });
        } else if hashed.hashes.pdq.is_some() {
            stats.low_quality += 1;
        }
    }
}

fn write_matches(
    args: &MatchArgs,
    set: &RefSet,
    queries: &[Query],
    found: &[matching::Match],
) -> anyhow::Result<()> {
    let mut out = BufWriter::new(open_output(args)?);
    let set_name = args.refs.to_string_lossy();
    if args.format == Format::Csv {
        let box_col = if args.trim_borders { ",box" } else { "" };
        writeln!(out, "query,refset,entry_id,label,distance,variant{box_col}")?;
    }
    for m in found {
        let i = m.entry as usize;
        let (q, id, label) = (
            &queries[m.query as usize].name,
            set.ids()[i],
            set.label_text(i),
        );
        let (variant, region) = matching::describe_variant(m.variant);
        match args.format {
            Format::Csv => writeln!(
                out,
                "{},{},{id},{},{},{variant}{}",
                csv_cell(q),
                csv_cell(&set_name),
                csv_cell(&label),
                m.distance,
                if args.trim_borders {
                    format!(",{region}")
                } else {
                    String::new()
                }
            )?,
            Format::Jsonl => {
                let mut line = json!({"query": q, "refset": set_name, "entry_id": id, "label": label, "distance": m.distance, "variant": variant});
                if args.trim_borders {
                    line["box"] = json!(region);
                }
                writeln!(out, "{line}")?
            }
        }
    }
    out.flush()?;
    Ok(())
}
