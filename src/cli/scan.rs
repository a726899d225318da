//! `hashsweep scan` arguments; the work is in `crate::scan`.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::EXIT_SOME_FAILED;
use super::hash::{AlgoName, algorithms};
use crate::decode::{self, DecodeOptions};
use crate::progress::{Mode, Progress};
use crate::scan::shard::Shard;
use crate::scan::{self, Digests, ScanConfig};
use crate::sources::container;

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files and directories to sweep (directories recursively, in name order).
    pub inputs: Vec<PathBuf>,
    /// Reference sets to match against (repeatable): a set file, the name a `refs build`
    /// of a list with several fingerprint kinds was given (all its sets), or a folder of
    /// sets. Each is checked against its checksum before the sweep starts.
    #[arg(long, value_name = "SET")]
    pub refs: Vec<PathBuf>,
    /// Output records (JSONL, or CSV with `--format csv`); matches go beside it, to OUT
    /// with `.matches.jsonl`. An existing output is refused without --resume or --force.
    #[arg(short, long, default_value = "hashsweep-scan.jsonl")]
    pub output: PathBuf,
    /// Perceptual hashes to compute, comma-separated (a set given with --refs adds its
    /// own: PDQ for a PDQ set, and so on).
    #[arg(long, value_delimiter = ',', default_value = "pdq,phash")]
    pub algo: Vec<AlgoName>,
    /// File digests to record, comma-separated: md5, sha1, sha256.
    #[arg(long, value_delimiter = ',')]
    pub digest: Vec<DigestName>,
    /// Keep what OUT already records, repair a torn last line, and do the rest.
    #[arg(long)]
    pub resume: bool,
    /// Replace an existing output (and its matches) instead of refusing to.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    #[command(flatten)]
    pub case: super::CaseArgs,
    /// Only this share of the inputs: K/N, 0 <= K < N (default: from SLURM_ARRAY_TASK_ID /
    /// SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX / HASHSWEEP_SHARD_COUNT).
    #[arg(long)]
    pub shard: Option<String>,
    /// Read more input paths from FILE (`-` for stdin), one per line or NUL-separated.
    #[arg(long)]
    pub files_from: Option<PathBuf>,
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
    /// Refuse images with more pixels than this before allocating them.
    #[arg(long, default_value_t = decode::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Seconds a HEIC/AVIF decoder process may run before it is killed and the file
    /// recorded as an error.
    #[arg(long, value_name = "SECONDS", default_value_t = decode::DEFAULT_HELPER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub decoder_timeout: u64,
    /// Threads for reading and decoding (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Follow symbolic links (default: a link is recorded as skipped, not followed, so
    /// that a sweep stays inside its inputs).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Apply EXIF orientation before hashing (default: stored pixels, as the reference).
    #[arg(long)]
    pub exif_orient: bool,
    /// Also hash each image with its added borders (letterbox, pillarbox, solid padding)
    /// cut: the record's `trimmed` gives the box and its hashes, and a match's `box` says
    /// whether the whole image or the trimmed part matched.
    #[arg(long)]
    pub trim_borders: bool,
    /// Decode every pixel of large JPEGs (default: DCT-scaled decoding that keeps the
    /// smaller side at least 1024 px, within PDQ's acceptance rule, several times faster).
    #[arg(long)]
    pub full_decode: bool,
    /// Composite transparent images on this colour, RRGGBB (default: alpha dropped, colour
    /// channels hashed as stored, as the reference).
    #[arg(long, value_name = "RRGGBB")]
    pub background: Option<String>,
    /// Match all 8 rotations/flips of each image (PDQ sets).
    #[arg(long)]
    pub dihedral: bool,
    /// PDQ hashes below this quality are recorded but not matched.
    #[arg(long, default_value_t = crate::matching::DEFAULT_MIN_QUALITY)]
    pub min_quality: u8,
    /// Report entries at most this many bits away (default: 31 for PDQ, 10 for pHash; the
    /// vPDQ rule's frame distance too).
    #[arg(long)]
    pub max_distance: Option<u32>,
    /// How sets are searched: `auto` (the cost model picks the index, a CPU sweep or a GPU
    /// sweep per round), `mih` (the index; a set without one is refused) or `flat`.
    #[arg(long, value_enum, default_value = "auto")]
    pub index: super::match_cmd::IndexArg,
    /// Record format: JSONL, or CSV with header and summary in OUT.meta.jsonl.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: crate::scan::record::Format,
    /// Hash every frame of animated GIF and WebP files (default: the first frame).
    #[arg(long)]
    pub all_frames: bool,
    #[command(flatten)]
    pub video: super::video::VideoArgs,
    /// Folder for each video's vPDQ file (`frame,quality,hash,timestamp`; default OUT
    /// with `.vpdq/`).
    #[arg(long)]
    pub vpdq_dir: Option<PathBuf>,
    /// Decoded pixels held per round (memory bound); tests make it small.
    #[arg(long, default_value_t = crate::pipeline::ROUND_PIXELS, hide = true)]
    pub round_pixels: usize,
    /// Image data held in memory at once (file bytes and decoded pixels), e.g. 4G; default
    /// half of the machine's (or the cgroup's) memory. An image larger than this is read
    /// alone.
    #[arg(long, value_name = "SIZE", value_parser = crate::pipeline::budget::parse_size)]
    pub max_memory: Option<u64>,
    /// Archives, compressed files and documents are opened, and what they hold is opened
    /// in turn, this many steps deep from the file on disk; deeper ones are error records.
    #[arg(long, value_name = "N", default_value_t = container::DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,
    /// Decompression-bomb guard: a member stops being read once it has grown past 64 MiB
    /// and past N times its stored size, and a container's members together past 1 GiB and
    /// N times the container's size (an error record says so). 0: no limit.
    #[arg(long, value_name = "N", default_value_t = container::DEFAULT_MAX_RATIO)]
    pub max_ratio: u64,
    /// Before the sweep, read each EWF (E01) image back and compare its MD5 and SHA-1 with
    /// those it stores; the header records each result.
    #[arg(long)]
    pub verify_image: bool,
    /// Carve JPEG, PNG, GIF and WebP pictures by signature and structure from disk images'
    /// free space (and from whole disks whose filesystem is not recognised); each is a
    /// record `disk.E01#p1/$unallocated@OFFSET.jpg`.
    #[arg(long)]
    pub carve: bool,
    /// Print per-stage busy time at the end (which stage limits the run).
    #[arg(long)]
    pub stats: bool,
    /// No progress and no human summary on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// The digests asked for; the digest sets among `--refs` add theirs (`scan::prepare`).
fn digests_asked(args: &ScanArgs) -> Digests {
    Digests {
        md5: args.digest.contains(&DigestName::Md5),
        sha1: args.digest.contains(&DigestName::Sha1),
        sha256: args.digest.contains(&DigestName::Sha256),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DigestName {
    Md5,
    Sha1,
    Sha256,
}

pub fn run(args: ScanArgs) -> anyhow::Result<i32> {
    super::use_threads(args.threads);
    let stop = super::signals::stop_on_interrupt("scan");
    let mut inputs = args.inputs.clone();
    if let Some(list) = &args.files_from {
        inputs.extend(read_list(list)?);
    }
    if inputs.is_empty() {
        bail!("no inputs: give files or directories, or --files-from");
    }
    let shard = match &args.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::from_env(|k| std::env::var(k).ok())?.unwrap_or(Shard::WHOLE),
    };
    let progress = Progress::start("scan", if args.quiet { Mode::Off } else { Mode::Auto });
    let cfg = config(&args, inputs, shard, progress.clone(), stop)?;
    let prepared = scan::prepare(cfg)?;
    if !args.quiet {
        for a in &prepared.added {
            eprintln!("hashsweep scan: {a}");
        }
    }
    super::name_missing("scan", &prepared.config().inputs);
    let engine = args.backend.open()?;
    let s = scan::run(&prepared, &engine);
    progress.finish();
    let s = match (s, super::signals::received()) {
        (Err(e), Some(signal)) if e.downcast_ref::<scan::StoppedBeforeStart>().is_some() => {
            super::signals::announce("scan");
            eprintln!("hashsweep scan: interrupted by {}: {e}", signal.name());
            return Ok(signal.exit_code());
        }
        (s, _) => s?,
    };
    if !args.quiet {
        print_summary(&s, shard, &engine);
    }
    super::say_warnings("scan", &s.gpu_warnings);
    if args.stats {
        print_stats(&s);
    }
    if let Some(signal) = super::signals::received() {
        super::signals::announce("scan");
        eprintln!(
            "hashsweep scan: interrupted by {}: {} recorded; rerun with --resume",
            signal.name(),
            s.recorded
        );
        return Ok(signal.exit_code());
    }
    Ok(if s.errors() > 0 { EXIT_SOME_FAILED } else { 0 })
}

fn config(
    args: &ScanArgs,
    inputs: Vec<PathBuf>,
    shard: Shard,
    progress: Progress,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<ScanConfig> {
    let max_memory = args
        .max_memory
        .unwrap_or_else(crate::pipeline::budget::default_limit);
    Ok(ScanConfig {
        inputs,
        out: args.output.clone(),
        refs: args.refs.clone(),
        algos: algorithms(&args.algo),
        digests: digests_asked(args),
        resume: args.resume,
        force: args.force,
        shard,
        decode: DecodeOptions {
            max_pixels: args.max_pixels,
            exif_orient: args.exif_orient,
            background: args.background.as_deref().map(parse_colour).transpose()?,
            reduce_jpeg: (!args.full_decode).then_some(scan::REDUCED_JPEG_SIDE),
            trim_borders: args.trim_borders,
            helper_timeout: std::time::Duration::from_secs(args.decoder_timeout),
            ..DecodeOptions::default()
        },
        follow_symlinks: args.follow_symlinks,
        dihedral: args.dihedral,
        min_quality: args.min_quality,
        max_distance: args.max_distance,
        index: args.index.into(),
        command: std::env::args().collect(),
        case: args.case.info(),
        format: args.format,
        all_frames: args.all_frames,
        video: args.video.options(args.max_pixels),
        vpdq_dir: args
            .vpdq_dir
            .clone()
            .unwrap_or_else(|| scan::vpdq_dir(&args.output)),
        query_match_pct: args.video.query_match_pct,
        compared_match_pct: args.video.compared_match_pct,
        round_pixels: args.round_pixels.max(1),
        max_memory,
        containers: container::Limits {
            max_depth: args.max_depth,
            max_ratio: args.max_ratio,
            carve: args.carve,
            ..container::Limits::within(max_memory)
        },
        verify_images: args.verify_image,
        progress,
        stop: Some(stop),
    })
}

fn print_summary(s: &scan::Summary, shard: Shard, engine: &crate::engine::Engine) {
    for v in &s.images_verified {
        eprintln!(
            "hashsweep scan: image {}: {} (stored MD5 {}, read back {}; {} damaged chunks)",
            v.path,
            v.result,
            v.stored_md5.as_deref().unwrap_or("none"),
            v.md5.as_deref().unwrap_or("none"),
            v.damaged_chunks
        );
    }
    eprintln!(
        "hashsweep scan: shard {shard}: {} files ({} already recorded); {:?}; formats {:?}; {:.1} MB read; {:.1} files/s; {} video frames hashed; {} matches; {:.1} s on {}",
        s.in_shard,
        s.already_recorded,
        s.by_status,
        s.by_format,
        s.bytes_read as f64 / 1e6,
        s.images_per_s,
        s.video_frames,
        s.matches,
        s.seconds,
        engine.describe()
    );
    let c = &s.containers;
    if c.opened + c.failed + c.thumbnails > 0 {
        eprintln!(
            "hashsweep scan: containers: {} opened, {} not listed to the end; {} files inside them: {} hashed, {} skipped, {} refused ({} encrypted); {} thumbnails ({} unlike their picture)",
            c.opened,
            c.failed,
            c.entries,
            c.hashed,
            c.skipped,
            c.refused,
            c.encrypted,
            c.thumbnails,
            c.thumbnail_mismatches
        );
    }
    if !s.warnings.is_empty() {
        eprintln!(
            "hashsweep scan: hashed from damaged or padded files (see each record's `warnings`): {:?}",
            s.warnings
        );
    }
}

fn print_stats(s: &scan::Summary) {
    for (stage, secs) in &s.stage_seconds {
        eprintln!("  stage {stage:<12} busy {secs:8.2} s");
    }
    if let Some(g) = &s.gpu {
        let c = &g.counters;
        let mb = |b: u64| b as f64 / 1e6;
        eprintln!(
            "  gpu: {} batches, {} frames (CPU workers {}); up: refs {:.1} MB, frames {:.1} MB, queries {:.1} MB; down {:.1} MB; {} match submissions; device busy {:.2} s, host waiting {:.2} s",
            c.batches,
            g.frames_hashed_on_gpu,
            g.frames_hashed_on_cpu,
            mb(c.refs_bytes_uploaded),
            mb(c.frames_bytes_uploaded),
            mb(c.queries_bytes_uploaded),
            mb(c.bytes_downloaded),
            c.match_submissions,
            c.busy_seconds,
            c.wait_seconds
        );
    }
}

/// Paths, newline- or NUL-separated (NUL when the list holds any), from a file or stdin.
fn read_list(p: &PathBuf) -> anyhow::Result<Vec<PathBuf>> {
    let mut bytes = vec![];
    if p.as_os_str() == "-" {
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)?;
    } else {
        bytes = std::fs::read(p)?;
    }
    let sep = if bytes.contains(&0) { 0 } else { b'\n' };
    Ok(bytes
        .split(|&b| b == sep)
        .filter(|s| !s.is_empty() && *s != b"\r")
        .map(|s| path_from_bytes(s.strip_suffix(b"\r").unwrap_or(s)))
        .collect())
}

#[cfg(unix)]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

fn parse_colour(s: &str) -> anyhow::Result<[u8; 3]> {
    let s = s.trim_start_matches('#');
    // `from_str_radix` alone takes a sign (`+12345`): six hex digits, nothing else.
    let digits = s.len() == 6 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let v = u32::from_str_radix(s, 16).ok().filter(|_| digits);
    let Some(v) = v else {
        bail!("--background wants RRGGBB hex, got {s:?}")
    };
    Ok([(v >> 16) as u8, (v >> 8) as u8, v as u8])
}
