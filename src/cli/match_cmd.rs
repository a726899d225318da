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
use crate::engine::FrameHashes;
use crate::engine::{Algorithms, Engine};
use crate::matching::{self, Forms, IndexChoice, MatchParams, Planner, QueryHashes};
use crate::pipeline::{self, HashSource};
use crate::progress::{Mode, Progress};
use crate::refset::{Algo, RefSet, input};
use crate::sources::walk;

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Hash files (any format `refs build` reads), images, videos and directories.
    #[arg(required = true)]
    pub queries: Vec<PathBuf>,
    /// Reference sets to match against (repeatable): a set file, the name a `refs build`
    /// of a list with several fingerprint kinds was given (all its sets), or a folder of
    /// sets. Each is checked against its checksum first.
    #[arg(long, required = true, value_name = "SET")]
    pub refs: Vec<PathBuf>,
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
    /// How to search each set: `auto` picks the index, a CPU sweep or a GPU sweep per call
    /// by the cost model; `mih` uses the index (a set without one is refused); `flat`
    /// always sweeps. All three find the same matches.
    #[arg(long, value_enum, default_value = "auto")]
    pub index: IndexArg,
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
    /// Output format: a CSV table with a header, or one JSON object per line.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Output file (default: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub video: super::video::VideoArgs,
}

/// The forms a query picture is matched in.
fn forms(args: &MatchArgs) -> Forms {
    Forms {
        dihedral: args.dihedral,
        min_quality: args.min_quality,
    }
}

/// The queries, by name, and their hashes for each algorithm a set is matched by (an image
/// query has one in each; a hash list's entries only in its own).
struct Queries {
    names: Vec<String>,
    pdq: QueryHashes,
    phash: QueryHashes,
}

impl Queries {
    fn new() -> Queries {
        Queries {
            names: vec![],
            pdq: QueryHashes::new(Algo::Pdq),
            phash: QueryHashes::new(Algo::Phash),
        }
    }

    fn of(&self, algo: Algo) -> &QueryHashes {
        match algo {
            Algo::Phash => &self.phash,
            _ => &self.pdq,
        }
    }

    fn of_mut(&mut self, algo: Algo) -> &mut QueryHashes {
        match algo {
            Algo::Phash => &mut self.phash,
            _ => &mut self.pdq,
        }
    }

    /// The number the next query will have.
    fn next(&self) -> u32 {
        self.names.len() as u32
    }
}

/// The sets to match against: digest sets are named and left to `scan`, which digests
/// files; it is an error when nothing else is left.
fn usable_sets(args: &MatchArgs) -> anyhow::Result<Vec<RefSet>> {
    let mut sets = vec![];
    for (set, _) in crate::refset::verified::open_checked(&args.refs)? {
        if set.algo().is_digest() {
            eprintln!(
                "hashsweep match: {} holds {} digests, which match files exactly: `hashsweep scan --refs {}` matches it; not used here",
                set.path().display(),
                set.algo().name(),
                set.path().display()
            );
            continue;
        }
        sets.push(set);
    }
    if sets.is_empty() {
        anyhow::bail!(
            "no set to match hashes against: digest sets are matched by `hashsweep scan`"
        );
    }
    Ok(sets)
}

pub fn run(args: MatchArgs) -> anyhow::Result<i32> {
    let sets = usable_sets(&args)?;
    matching::planner::require_indexes(sets.iter(), args.index.into())
        .map_err(anyhow::Error::msg)?;
    super::name_missing("match", &args.queries);
    let engine = args.backend.open()?;
    let progress = Progress::start("match", Mode::Auto);
    let mut queries = Queries::new();
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
    let video_sets = sets.iter().filter(|s| s.has_videos()).count();
    if video_sets > 0 && (!kinds.videos.is_empty() || !kinds.vpdq.is_empty()) {
        anyhow::ensure!(
            video_sets == sets.len(),
            "video sets (built from vPDQ files) and picture sets in one run: give them in runs of their own"
        );
        let code =
            super::match_video::match_videos(&args, &sets, &engine, &kinds, stats, &progress);
        progress.finish();
        return code;
    }
    let algos: Vec<Algo> = {
        let mut a: Vec<Algo> = sets.iter().map(RefSet::algo).collect();
        a.sort();
        a.dedup();
        a
    };
    let (images, mut lists) = (kinds.images, kinds.lists);
    lists.extend(kinds.vpdq);
    for list in &lists {
        progress.stage(format!("reading {}", list.display()));
        read_list(list, &algos, args.min_quality, &mut queries, &mut stats)?;
    }
    progress.stage("");
    progress.set_total((images.len() + kinds.videos.len()) as u64);
    hash_images(
        &engine,
        &images,
        &algos,
        &args,
        &mut queries,
        &mut stats,
        &progress,
    );
    video_frames(
        &engine,
        &kinds.videos,
        &algos,
        &args,
        &mut queries,
        &mut stats,
        &progress,
    );
    let planner = Planner::on_device(engine.gpu_context()).index(args.index.into());
    let mut found = vec![];
    for (i, set) in sets.iter().enumerate() {
        let params = MatchParams {
            max_distance: args
                .max_distance
                .unwrap_or_else(|| matching::default_max_distance(set.algo())),
            top_k: args.top_k,
        };
        let q = queries.of(set.algo());
        progress.stage(format!(
            "matching {} hashes against {} ({} entries)",
            q.len(),
            set.path().display(),
            set.len()
        ));
        found.extend(planner.run(set, q, &params).into_iter().map(|m| (i, m)));
    }
    progress.finish();
    warn_device(&engine, &planner);
    write_matches(&args, &sets, &queries.names, &found)?;
    eprintln!(
        "hashsweep: {} queries ({} PDQ and {} pHash hashes) against {} sets ({} entries) on {}: {} matches; {} below quality {} skipped, {} files inside archives not pictures, {} failed",
        queries.names.len(),
        queries.pdq.len(),
        queries.phash.len(),
        sets.len(),
        sets.iter().map(RefSet::len).sum::<usize>(),
        engine.describe(),
        found.len(),
        stats.low_quality,
        args.min_quality,
        stats.not_pictures,
        stats.failed
    );
    eprintln!("hashsweep: matching: {}", describe_routes(&planner));
    Ok(i32::from(stats.failed > 0))
}

/// `--index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IndexArg {
    Auto,
    Mih,
    Flat,
}

impl From<IndexArg> for IndexChoice {
    fn from(a: IndexArg) -> IndexChoice {
        match a {
            IndexArg::Auto => IndexChoice::Auto,
            IndexArg::Mih => IndexChoice::Mih,
            IndexArg::Flat => IndexChoice::Flat,
        }
    }
}

/// Which route the calls took, for the closing line: `mih 2 calls (2000 hashes, 0.081 s)`.
pub(super) fn describe_routes(planner: &Planner) -> String {
    let stats = planner.stats();
    if stats.is_empty() {
        return "no call".into();
    }
    stats
        .iter()
        .map(|(r, s)| {
            format!(
                "{r} {} call{} ({} hashes, {:.3} s)",
                s.calls,
                if s.calls == 1 { "" } else { "s" },
                s.query_hashes,
                s.seconds
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Default)]
pub(super) struct Counts {
    pub(super) low_quality: usize,
    pub(super) failed: usize,
    /// Members of archives and documents that are not pictures.
    pub(super) not_pictures: usize,
}

/// Queries sorted by what their content says they are.
#[derive(Default)]
pub(super) struct Kinds {
    pub(super) images: Vec<PathBuf>,
    pub(super) videos: Vec<PathBuf>,
    /// vPDQ text files: one video each.
    pub(super) vpdq: Vec<PathBuf>,
    /// Any other hash list.
    pub(super) lists: Vec<PathBuf>,
}

impl Kinds {
    /// Images, videos and containers by their first bytes; anything else is read as a hash
    /// list.
    fn add(&mut self, p: PathBuf) {
        match sniff::detect_file(&p) {
            d if d.is_picture() => self.images.push(p),
            sniff::Detected::Video(_) => self.videos.push(p),
            // Archives and documents: their pictures are the queries.
            _ if crate::sources::container::detect_file(&p).is_some() => self.images.push(p),
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

pub(super) fn video_name(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Against picture sets: every sampled frame of each video is a PDQ query, named
/// `VIDEO#frame=N@Ts`, in all 8 orientations with `--dihedral`.
fn video_frames(
    engine: &Engine,
    videos: &[PathBuf],
    algos: &[Algo],
    args: &MatchArgs,
    queries: &mut Queries,
    stats: &mut Counts,
    progress: &Progress,
) {
    let opts = args.video.options(crate::decode::DEFAULT_MAX_PIXELS);
    for v in videos {
        progress.add(1, 0, 0);
        // Refused before decoding: no set given can match PDQ frame hashes.
        if !algos.contains(&Algo::Pdq) {
            eprintln!(
                "hashsweep: {}: videos are hashed with PDQ, and no PDQ set is given",
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
            let frame = FrameHashes {
                pdq: Some(*p),
                phash: None,
            };
            let q = queries.next();
            if !queries.pdq.push_picture(q, 0, &frame, forms(args)) {
                stats.low_quality += 1;
                continue;
            }
            queries.names.push(format!(
                "{}#frame={}@{:.3}s",
                video_name(v),
                f.frame,
                f.timestamp
            ));
        }
    }
}

/// What happened to the device during the run, said once each.
pub(super) fn warn_device(engine: &Engine, planner: &Planner) {
    let mut w = engine.warnings();
    w.extend(planner.fallback().map(String::from));
    super::say_warnings("match", &w);
}

pub(super) fn open_output(args: &MatchArgs) -> anyhow::Result<Box<dyn Write>> {
    Ok(match &args.output {
        Some(p) => Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    })
}

/// A hash list's entries as queries, for each algorithm of the sets that the list holds
/// (a list of PDQ hashes is not read as pHash): an error only when it holds none of them.
fn read_list(
    path: &Path,
    algos: &[Algo],
    min_quality: u8,
    queries: &mut Queries,
    stats: &mut Counts,
) -> anyhow::Result<()> {
    let mut first_error = None;
    let mut read_any = false;
    for &algo in algos {
        let parsed = match input::read_file(path, Some(algo), false) {
            Ok(p) => p,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        read_any = true;
        for e in parsed.entries {
            if algo == Algo::Pdq && e.quality.is_some_and(|q| q < min_quality) {
                stats.low_quality += 1;
                continue;
            }
            let q = queries.next();
            queries.of_mut(algo).push(q, 0, &e.words);
            queries.names.push(
                e.labels
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
    }
    match (read_any, first_error) {
        (false, Some(e)) => Err(e.into()),
        _ => Ok(()),
    }
}

/// Hash the query images with every algorithm the sets are matched by; each image is one
/// query, with its dihedral forms (`--dihedral`) and the part inside added borders
/// (`--trim-borders`) as variants.
fn hash_images(
    engine: &Engine,
    images: &[PathBuf],
    algos: &[Algo],
    args: &MatchArgs,
    queries: &mut Queries,
    stats: &mut Counts,
    progress: &Progress,
) {
    let wanted = Algorithms {
        pdq: algos.contains(&Algo::Pdq),
        phash: algos.contains(&Algo::Phash),
    };
    let budget = pipeline::budget_of(args.max_memory);
    let opts = crate::decode::DecodeOptions {
        trim_borders: args.trim_borders,
        ..Default::default()
    };
    let source = HashSource::new(engine, wanted, opts, budget)
        .with_progress(progress)
        .with_thumbnails();
    let mut results = vec![];
    source.for_each(images, |path, r| {
        progress.add(1, u64::from(r.is_err()), 0);
        results.push((path.to_path_buf(), r))
    });
    for (path, result) in results {
        let hashed = match result {
            Ok(hashed) => hashed,
            Err(e) if e.starts_with(pipeline::references::NOT_A_PICTURE) => {
                stats.not_pictures += 1;
                continue;
            }
            Err(e) => {
                eprintln!("hashsweep: {}: {e}", path.display());
                stats.failed += 1;
                continue;
            }
        };
        let q = queries.next();
        let whole = std::iter::once((0, &hashed.hashes));
        let trimmed = hashed.trimmed.iter().map(|(_, h)| (matching::TRIMMED, h));
        let mut pushed = false;
        for (base, h) in whole.chain(trimmed) {
            for algo in [Algo::Pdq, Algo::Phash] {
                pushed |= queries.of_mut(algo).push_picture(q, base, h, forms(args));
            }
        }
        if pushed {
            queries.names.push(path.to_string_lossy().into_owned());
        } else if hashed.hashes.pdq.is_some() {
            stats.low_quality += 1;
        }
    }
}

fn write_matches(
    args: &MatchArgs,
    sets: &[RefSet],
    names: &[String],
    found: &[(usize, matching::Match)],
) -> anyhow::Result<()> {
    let mut out = BufWriter::new(open_output(args)?);
    if args.format == Format::Csv {
        let box_col = if args.trim_borders { ",box" } else { "" };
        writeln!(out, "query,refset,entry_id,label,distance,variant{box_col}")?;
    }
    for (s, m) in found {
        let set = &sets[*s];
        let set_name = set.path().to_string_lossy();
        let i = m.entry as usize;
        let (q, id, label) = (&names[m.query as usize], set.ids()[i], set.label_text(i));
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
