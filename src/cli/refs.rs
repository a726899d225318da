//! `hashsweep refs`: build, inspect, verify and merge reference sets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;

use crate::decode::{DecodeOptions, sniff};
use crate::pipeline::references::{self, ImageOptions};
use crate::progress::{Mode, Progress};
use crate::refset::format::{FLAG_LABELS, FLAG_QUALITY, FLAG_SORTED};
use crate::refset::write::{self, Entry, EntrySections, Label, RandomSections, Words};
use crate::refset::{self, Algo, RefSet, input};

#[derive(Subcommand, Debug)]
pub enum RefsArgs {
    /// Build a set from hash lists (hex lines, CSV with a hash column, JSONL, vPDQ files,
    /// NCMEC XML, StopNCII JSON, ThreatExchange lines, VICS JSON, digest lists) and from
    /// pictures (image files and folders, hashed here and labelled with their paths).
    Build(BuildArgs),
    /// Counts, algorithm, labels and checksum status of a set.
    Info {
        /// A set file, or the name a `refs build` of several kinds was given (each set).
        set: PathBuf,
        /// Skip the checksum (reads the whole file).
        #[arg(long)]
        no_verify: bool,
        /// Print JSON instead of aligned lines.
        #[arg(long)]
        json: bool,
    },
    /// Check sets against their checksums, reading each in full; exit code 1 if any differs,
    /// 2 if any cannot be read.
    Verify {
        /// Set files, names of groups of sets, or folders of sets.
        #[arg(required = true)]
        sets: Vec<PathBuf>,
    },
    /// Union of sets of one algorithm; duplicates keep all labels.
    Merge {
        /// Sets of one algorithm to join.
        #[arg(required = true)]
        sets: Vec<PathBuf>,
        /// The merged set.
        #[arg(short, long)]
        output: PathBuf,
        /// Write no multi-index.
        #[arg(long)]
        no_index: bool,
    },
    /// A set of uniformly random hashes, written in constant memory (for benchmarks).
    Random {
        /// Entries to write.
        #[arg(long)]
        count: u64,
        /// Hash kind of the entries.
        #[arg(long, value_enum, default_value = "pdq")]
        algo: AlgoArg,
        /// Seed of the generator: the same seed writes the same set.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Near-duplicate series of this many entries: each after the first is its
        /// predecessor with 1-8 random bits flipped (default: all independent).
        #[arg(long, default_value_t = 0)]
        series: u64,
        /// The set to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Write no multi-index (by default one is written where the cost model says it
        /// pays: docs/refset-format.md, "Index").
        #[arg(long)]
        no_index: bool,
    },
    /// Add (or rebuild) the multi-index that makes matching cost independent of the list's
    /// size; the set is checked in full, written again beside itself and renamed into
    /// place; its identity (checksum without the index) does not change.
    Index {
        /// Set files, names of groups of sets, or folders of sets.
        #[arg(required = true)]
        sets: Vec<PathBuf>,
        /// The distance the tables are chosen for (default: 31 for PDQ, 10 for pHash);
        /// larger distances are still exact, through the index or a sweep.
        #[arg(long)]
        served: Option<u32>,
        /// Remove the index instead.
        #[arg(long)]
        drop: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Hash lists (any format of `--input-format`, recognised by content) and pictures
    /// (image files, and folders of them), in the order they are read.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The set to write; a list holding several fingerprint kinds writes one set per kind
    /// beside this name (`known.hsref` -> `known.pdq.hsref`, `known.md5.hsref`), all of
    /// which `--refs known.hsref` takes.
    #[arg(short, long)]
    output: PathBuf,
    /// Algorithm (default: from the first hash: its column or type, else its length; PDQ
    /// for pictures).
    #[arg(long, value_enum)]
    algo: Option<AlgoArg>,
    /// Count and skip malformed lines instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
    /// The lists' layout (default: recognised from each file's content).
    #[arg(long, value_enum)]
    input_format: Option<input::Kind>,
    /// Write the set even when the inputs give no entry (default: an error, so that a list
    /// read wrongly never becomes a set that silently matches nothing).
    #[arg(long)]
    allow_empty: bool,
    /// Pictures: hash the part inside added borders (letterbox, pillarbox, solid padding).
    #[arg(long)]
    trim_borders: bool,
    /// Pictures: also add the hashes of crop windows (`crops`: 3 centred, 4 corner and 4
    /// side windows), as derived entries with their parent's id, so that cropped copies
    /// match their parent.
    #[arg(long, value_enum)]
    augment: Option<AugmentArg>,
    /// Pictures of a lower PDQ quality are not listed.
    #[arg(long, default_value_t = crate::matching::DEFAULT_MIN_QUALITY)]
    min_quality: u8,
    /// Write no multi-index (by default one is written where the cost model says it pays:
    /// docs/refset-format.md, "Index").
    #[arg(long)]
    no_index: bool,
    #[command(flatten)]
    backend: super::backend::BackendArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AugmentArg {
    Crops,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgoArg {
    Pdq,
    Phash,
    /// File digests, matched exactly (a SHA-256 list of bare lines needs this: it has
    /// PDQ's length).
    Md5,
    Sha1,
    Sha256,
}

impl From<AlgoArg> for Algo {
    fn from(a: AlgoArg) -> Algo {
        match a {
            AlgoArg::Pdq => Algo::Pdq,
            AlgoArg::Phash => Algo::Phash,
            AlgoArg::Md5 => Algo::Md5,
            AlgoArg::Sha1 => Algo::Sha1,
            AlgoArg::Sha256 => Algo::Sha256,
        }
    }
}

pub fn run(args: RefsArgs) -> anyhow::Result<i32> {
    match args {
        RefsArgs::Build(args) => build(&args),
        RefsArgs::Info {
            set,
            no_verify,
            json,
        } => {
            let mut worst = 0;
            for s in refset::group::resolve(&set)? {
                worst = worst.max(info(&s, !no_verify, json)?);
            }
            Ok(worst)
        }
        RefsArgs::Verify { sets } => verify(&sets),
        RefsArgs::Merge {
            sets,
            output,
            no_index,
        } => {
            let code = merge(&sets, &output)?;
            after_write(&output, no_index)?;
            Ok(code)
        }
        RefsArgs::Index { sets, served, drop } => index(&sets, served, drop),
        RefsArgs::Random {
            count,
            algo,
            seed,
            series,
            output,
            no_index,
        } => {
            let mut s = RandomSections {
                algo: algo.into(),
                count,
                seed,
                series,
            };
            write::write_set(&output, &mut s)
                .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "hashsweep: wrote {count} random {} hashes to {}",
                s.algo.name(),
                output.display()
            );
            after_write(&output, no_index)?;
            Ok(0)
        }
    }
}

/// What a built set's index is, for its line on stderr.
fn index_state(path: &Path, no_index: bool) -> String {
    match RefSet::open(path)
        .ok()
        .and_then(|s| s.index().map(|i| i.tables.len()))
    {
        Some(m) => format!("multi-index of {m} tables"),
        None if no_index => "no index (--no-index)".into(),
        None => {
            "no index (a sweep of this set costs about as little; `refs index` adds one)".into()
        }
    }
}

/// The index a new set gets unless `--no-index`, said on stderr either way.
fn after_write(output: &Path, no_index: bool) -> anyhow::Result<()> {
    if no_index {
        eprintln!("hashsweep: {}: no index (--no-index)", output.display());
        return Ok(());
    }
    let t = std::time::Instant::now();
    let done = refset::indexed::reindex(output, refset::indexed::Want::IfItPays, None)?;
    say_index(output, &done, t.elapsed().as_secs_f64());
    Ok(())
}

fn say_index(path: &Path, done: &refset::indexed::Indexed, seconds: f64) {
    match (&done.plan, &done.why_not) {
        (Some(p), _) => eprintln!(
            "hashsweep: {}: index of {} tables ({} bits each, chosen for distance {}), {} bytes, {seconds:.1} s",
            path.display(),
            p.tables.len(),
            describe_widths(p),
            p.served,
            p.section_len()
        ),
        (None, why) => eprintln!(
            "hashsweep: {}: no index: {}",
            path.display(),
            why.as_deref().unwrap_or("none chosen")
        ),
    }
}

fn describe_widths(p: &refset::index::Plan) -> String {
    let mut w: Vec<u32> = p.tables.iter().map(|t| t.bits).collect();
    w.dedup();
    w.iter().map(u32::to_string).collect::<Vec<_>>().join("/")
}

/// `refs index`: each set checked, then written again with its index (or without).
fn index(args: &[PathBuf], served: Option<u32>, drop: bool) -> anyhow::Result<i32> {
    let want = match drop {
        true => refset::indexed::Want::Drop,
        false => refset::indexed::Want::Always,
    };
    for a in args {
        for p in refset::group::resolve(a)? {
            let t = std::time::Instant::now();
            let done = refset::indexed::reindex(&p, want, served)?;
            say_index(&p, &done, t.elapsed().as_secs_f64());
        }
    }
    Ok(0)
}

fn build(args: &BuildArgs) -> anyhow::Result<i32> {
    let output = &args.output;
    super::name_missing("refs build", &args.inputs);
    let progress = Progress::start("refs build", Mode::Auto);
    let (pictures, lists) = pictures_and_lists(&args.inputs);
    let mut made = vec![];
    let mut algo = args.algo.map(Algo::from);
    let mut failed = 0;
    if !pictures.is_empty() {
        let a = algo.unwrap_or(Algo::Pdq);
        anyhow::ensure!(
            matches!(a, Algo::Pdq | Algo::Phash),
            "pictures are hashed with PDQ or pHash, not {}",
            a.name()
        );
        algo = Some(a);
        let engine = args.backend.open()?;
        let opts = ImageOptions {
            algo: a,
            decode: DecodeOptions {
                trim_borders: args.trim_borders,
                ..DecodeOptions::default()
            },
            augment: args.augment == Some(AugmentArg::Crops),
            min_quality: args.min_quality,
        };
        let got = references::image_entries(
            &engine,
            &pictures,
            &opts,
            crate::pipeline::budget_of(None),
            &progress,
        );
        for (p, e) in &got.failed {
            eprintln!("hashsweep: {}: {e}", p.display());
        }
        failed = got.failed.len();
        eprintln!(
            "hashsweep: {} pictures hashed on {} ({} cut inside added borders, {} crop entries derived, {} below quality {} left out, {} files inside archives not pictures, {failed} failed)",
            got.pictures,
            engine.describe(),
            got.trimmed,
            got.derived,
            got.low_quality,
            args.min_quality,
            got.not_pictures
        );
        made = got.entries;
    } else {
        anyhow::ensure!(
            !args.trim_borders && args.augment.is_none(),
            "--trim-borders and --augment apply to pictures, and no input is one"
        );
    }
    let opts = refset::build::BuildOptions {
        algo: args.algo.map(Algo::from),
        kind: args.input_format,
        skip_invalid: args.skip_invalid,
        allow_empty: args.allow_empty,
        one_kind: false,
        no_index: args.no_index,
    };
    progress.stage(format!("reading {} lists", lists.len()));
    let b = refset::build::build(&lists, made, algo, output, &opts);
    progress.finish();
    let b = b?;
    if b.sets.len() > 1 {
        eprintln!(
            "hashsweep: the lists hold {} kinds of fingerprint: one set each; `--refs {}` takes them all",
            b.sets.len(),
            output.display()
        );
    }
    for s in &b.sets {
        eprintln!(
            "hashsweep: {} set {}: {} distinct hashes from {} records ({} duplicates merged); {}",
            s.algo.name(),
            s.path.display(),
            s.kept,
            s.read,
            s.read - s.kept,
            index_state(&s.path, args.no_index),
        );
        if s.deleted > 0 {
            eprintln!(
                "hashsweep: {} entries removed by later deletions",
                s.deleted
            );
        }
    }
    eprintln!(
        "hashsweep: {} invalid lines skipped, {} records without a hash",
        b.invalid, b.no_hash
    );
    for p in &b.replaced {
        eprintln!(
            "hashsweep: removed {}: an earlier build under this name, which `--refs {}` would also have taken",
            p.display(),
            output.display()
        );
    }
    if !b.unused.is_empty() {
        eprintln!(
            "hashsweep: fingerprints in no set of this build (another --algo builds them, or they are types hashsweep does not match): {:?}",
            b.unused
        );
    }
    Ok(if failed > 0 {
        super::EXIT_SOME_FAILED
    } else {
        0
    })
}

/// Image files, archives and documents (their pictures), and the files of folders are
/// pictures; every other input is a hash list.
fn pictures_and_lists(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut pictures, mut lists) = (vec![], vec![]);
    let holds_pictures = |f: &PathBuf| {
        sniff::detect_file(f).is_picture() || crate::sources::container::detect_file(f).is_some()
    };
    for p in inputs {
        if p.is_dir() {
            // A folder's other files (notes, lists, videos) are not reference pictures.
            let (files, _) = crate::sources::walk::expand(std::slice::from_ref(p));
            pictures.extend(files.into_iter().filter(holds_pictures));
        } else if holds_pictures(p) {
            pictures.push(p.clone());
        } else {
            lists.push(p.clone());
        }
    }
    (pictures, lists)
}

fn info(path: &PathBuf, check: bool, as_json: bool) -> anyhow::Result<i32> {
    let set = RefSet::open(path)?;
    let h = set.header();
    let labelled = (0..set.len())
        .filter(|&i| !set.labels(i).is_empty())
        .count();
    let status = if !check {
        "not checked".to_string()
    } else {
        match set.verify() {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("MISMATCH: {e}"),
        }
    };
    let v = json!({
        "path": path,
        "algorithm": set.algo().name(),
        "bits": h.bits,
        "entries": set.len(),
        "sorted": h.has(FLAG_SORTED),
        "has_quality": h.has(FLAG_QUALITY),
        "has_labels": h.has(FLAG_LABELS),
        "labelled_entries": labelled,
        "videos": set.video_count(),
        "file_bytes": h.file_len,
        "checksum": set.stored_checksum(),
        "identity": set.identity(),
        "checksum_status": status,
        "index": set.index().map_or_else(|| json!(null), |i| json!({
            "tables": i.tables.len(),
            "bits": i.tables.iter().map(|t| t.table.bits).collect::<Vec<_>>(),
            "slot_bits": i.tables.iter().map(|t| t.table.slot_bits).collect::<Vec<_>>(),
            "served_distance": i.header.served,
            "bytes": h.index_len,
        })),
    });
    if as_json {
        super::outln!("{}", serde_json::to_string_pretty(&v)?)?;
    } else if let Some(m) = v.as_object() {
        for (k, x) in m {
            super::outln!(
                "{k:>17}: {}",
                x.as_str().map_or(x.to_string(), String::from)
            )?;
        }
    }
    Ok(i32::from(status.starts_with("MISMATCH")))
}

/// Exit 1 when a set differs from its checksum, 2 when one cannot be read at all (each is
/// said in its place; the others are still checked).
fn verify(args: &[PathBuf]) -> anyhow::Result<i32> {
    let (mut differ, mut unreadable) = (0, 0);
    for a in args {
        let sets = match refset::group::resolve(a) {
            Ok(found) => found,
            Err(e) => {
                super::outln!("UNREADABLE {e}")?;
                unreadable += 1;
                continue;
            }
        };
        for p in &sets {
            match RefSet::open(p).map(|s| s.verify()) {
                Ok(Ok(sum)) => super::outln!("ok {sum} {}", p.display())?,
                Ok(Err(e)) => {
                    super::outln!("FAILED {}: {e}", p.display())?;
                    differ += 1;
                }
                Err(e) => {
                    super::outln!("UNREADABLE {e}")?;
                    unreadable += 1;
                }
            }
        }
    }
    Ok(match (unreadable, differ) {
        (0, 0) => 0,
        (0, _) => 1,
        _ => super::EXIT_FATAL,
    })
}

fn merge(sets: &[PathBuf], output: &Path) -> anyhow::Result<i32> {
    let mut algo: Option<Algo> = None;
    let mut entries = vec![];
    for p in sets {
        let s = RefSet::open(p)?;
        if let Some(a) = algo.filter(|&a| a != s.algo()) {
            bail!(
                "{}: {} set, the others are {}",
                p.display(),
                s.algo().name(),
                a.name()
            );
        }
        algo = Some(s.algo());
        let videos: Vec<Arc<str>> = (0..s.video_count())
            .map(|v| Arc::from(s.video_name(v)))
            .collect();
        for i in 0..s.len() {
            entries.push(Entry {
                words: Words::new(s.hash_words(i)),
                labels: s.labels(i).into_iter().map(Label::text).collect(),
                quality: s.quality(i),
                id: Some(s.ids()[i]),
                video: s
                    .video_of()
                    .get(i)
                    .filter(|&&v| v != u32::MAX)
                    .map(|&v| Arc::clone(&videos[v as usize])),
            });
        }
    }
    let algo = algo.expect("at least one set");
    let mut s = EntrySections::new(algo, entries);
    write::write_set(output, &mut s)?;
    eprintln!(
        "hashsweep: merged {} sets into {} ({} entries)",
        sets.len(),
        output.display(),
        s.entries().len()
    );
    Ok(0)
}
