//! `hashsweep scan`: every file under the inputs gets one record (hashes, digests, status),
//! matches against reference sets go to a second file, and an interrupted run resumes
//! with every file recorded exactly once.
//!
//! Stages: walk -> (shard) -> read + sniff + digest + decode (rayon, all cores) -> hash
//! (engine: GPU and CPU workers) -> match + write. The three run on their own threads with
//! bounded queues between them, so reading round n+2, hashing round n+1 and matching and
//! writing round n overlap while memory stays flat.
//!
//! Files: `plan` (what this run has to do), `examine` (reading one file), `sink` (matching
//! and writing), `record` (the records), `header` (the header record and what resume
//! compares), `resume`, `merge` (shards into one), `shard`, `walk`, `video` (videos in
//! pieces), `sets` (the reference sets a run opens, checks and serves).

pub mod merge;
pub mod record;
pub mod resume;
pub mod shard;
pub mod video;

mod contained;
mod examine;
mod header;
mod plan;
mod sets;
mod sink;

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::decode::DecodeOptions;
use crate::engine::{Algorithms, Engine};
use crate::frame::Frame;
use crate::gpu::GpuCounters;
use crate::matching::Planner;
use crate::pipeline::{self, Budget, Reservation, RoundLimits};
use crate::progress::Progress;
use crate::refset::RefSet;
use crate::refset::verified::Verified;
use crate::sources::container::disk;
use crate::sources::walk;
pub use contained::ContainerCounts;
pub use examine::MAX_IMAGE_BYTES;
use examine::examine_guarded;
use header::{header, refuse_other_settings};
use plan::plan;
pub use sets::SetsError;
use shard::Shard;
use sink::{HashedRound, Sink};

/// Smaller side kept when large JPEGs are decoded at reduced scale (`--full-decode` off).
pub const REDUCED_JPEG_SIDE: u32 = 1024;

pub use crate::sources::digest::Digests;

/// Who the scan is for, as the examiner gives it: recorded in the header, shown in reports,
/// never compared on resume.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CaseInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub examiner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

#[derive(Clone)]
pub struct ScanConfig {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    /// Reference sets as given: files, folders of sets, or names of groups of sets.
    pub refs: Vec<PathBuf>,
    pub algos: Algorithms,
    pub digests: Digests,
    pub resume: bool,
    /// Replace an existing output (without it, and without `resume`, one is refused).
    pub force: bool,
    pub shard: Shard,
    pub decode: DecodeOptions,
    pub follow_symlinks: bool,
    pub dihedral: bool,
    pub min_quality: u8,
    pub max_distance: Option<u32>,
    pub command: Vec<String>,
    pub case: CaseInfo,
    /// Where the run shows its progress (the caller starts and finishes it).
    pub progress: Progress,
    /// Set (by a signal handler) to stop taking new files: those in flight are finished and
    /// recorded, the summary says the run was interrupted.
    pub stop: Option<Arc<AtomicBool>>,
    pub format: record::Format,
    /// Hash every frame of animated GIF and WebP files, not only the first.
    pub all_frames: bool,
    pub video: crate::video::VideoOptions,
    /// Where each video's vPDQ text file goes.
    pub vpdq_dir: PathBuf,
    /// Pq and Pc of video-to-video matches (sets built from vPDQ files).
    pub query_match_pct: f64,
    pub compared_match_pct: f64,
    /// Decoded pixels per round at most (`pipeline::ROUND_PIXELS`; smaller in tests, to
    /// cut videos into many pieces).
    pub round_pixels: usize,
    /// Bytes of image data held at once (`--max-memory`).
    pub max_memory: u64,
    /// How far archives, compressed files and documents are opened (`--max-depth`,
    /// `--max-ratio`).
    pub containers: crate::sources::container::Limits,
    /// `--verify-image`: read each EWF image back before the sweep and compare it with
    /// the hashes it stores (the header records the result).
    pub verify_images: bool,
    /// `--index`: how sets are searched (the route each call took goes in the summary).
    pub index: crate::matching::IndexChoice,
}

/// Counts for the summary record and the exit code.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    /// `--verify-image`: each EWF image read back against the hashes it stores.
    pub images_verified: Vec<disk::Verification>,
    pub walked: usize,
    pub in_shard: usize,
    pub already_recorded: usize,
    pub by_status: BTreeMap<String, usize>,
    pub by_format: BTreeMap<String, usize>,
    /// Files hashed from data a decoder recovered (`truncated`, `trailing_data`), by code.
    pub warnings: BTreeMap<String, usize>,
    pub bytes_read: u64,
    pub matches: usize,
    /// Matches by the list and by the category their entries came from (sets built from
    /// exchanged lists; `unlisted` for entries of plain lists).
    pub matches_by_list: BTreeMap<String, usize>,
    pub matches_by_category: BTreeMap<String, usize>,
    /// Video frames hashed (sampled frames of all videos).
    pub video_frames: usize,
    /// Containers opened and what was found inside them.
    pub containers: contained::ContainerCounts,
    /// Files whose records this output holds now (earlier runs' and this one's).
    pub recorded: usize,
    /// What happened to the GPU during the run (a fault survived, hashing or matching moved
    /// to the CPU): the answers are the same, the speed is not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gpu_warnings: Vec<String>,
    /// The run stopped early (`ScanConfig::stop`): `--resume` does the rest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub seconds: f64,
    pub images_per_s: f64,
    /// Busy time per stage, seconds: which stage limits the run.
    pub stage_seconds: BTreeMap<String, f64>,
    /// With a GPU: what crossed the bus and how the device's time went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuSummary>,
    /// Where matching ran, by route (`mih`, `cpu-sweep`, `gpu-sweep`): calls, query
    /// hashes and seconds, as the planner chose.
    pub matching: BTreeMap<&'static str, crate::matching::planner::RouteStats>,
}

/// The `gpu` object of the summary record: this run's device counters and how many frames
/// each processor hashed.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct GpuSummary {
    #[serde(flatten)]
    pub counters: GpuCounters,
    pub frames_hashed_on_gpu: u64,
    pub frames_hashed_on_cpu: u64,
}

impl Summary {
    /// Count one match line.
    pub fn count_match(&mut self, source: Option<&crate::refset::exchange::Source>) {
        self.matches += 1;
        let list = source.map_or("unlisted", |s| s.list.as_str());
        *self.matches_by_list.entry(list.to_string()).or_default() += 1;
        if let Some(c) = source.and_then(|s| s.category.as_deref()) {
            *self.matches_by_category.entry(c.to_string()).or_default() += 1;
        }
    }

    pub fn errors(&self) -> usize {
        self.by_status.get("error").copied().unwrap_or(0)
    }
}

/// What reading one file produced, before hashing; for a video, one piece of it.
pub struct Examined {
    record: record::FileRecord,
    /// The image, then with `--all-frames` every frame of an animation; or a video's
    /// sampled frames.
    frames: Vec<Frame>,
    /// With `--trim-borders`, when the image has added borders: where the picture inside
    /// lies; that part is `frames[1]`.
    trimmed: Option<crate::decode::trim::Rect>,
    video: Option<video::VideoPart>,
    /// The memory budget this file's bytes and frames hold until they are hashed.
    hold: Reservation,
    /// A container on disk, to be opened by the producer (`contained`), not hashed.
    container: Option<crate::sources::container::Kind>,
    /// Records that follow this one: a JPEG's thumbnails.
    extra: Vec<Examined>,
}

impl Examined {
    /// A record with nothing to hash.
    fn record(record: record::FileRecord) -> Examined {
        Examined {
            record,
            frames: vec![],
            trimmed: None,
            video: None,
            hold: Reservation::default(),
            container: None,
            extra: vec![],
        }
    }
}

/// Where a hashed frame came from: the file itself, a frame of an animation, or a sampled
/// frame of a video.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Image,
    /// The image inside its added borders (`--trim-borders`).
    Trimmed,
    Animation(usize),
    Video(video::VideoFrame),
}

/// `OUT.matches.jsonl` beside the output (`OUT` without its `.jsonl`/`.csv`).
pub fn matches_path(out: &Path) -> PathBuf {
    sibling(out, "matches.jsonl")
}

/// `OUT.vpdq/`: default folder of the videos' vPDQ files.
pub fn vpdq_dir(out: &Path) -> PathBuf {
    sibling(out, "vpdq")
}

/// Where header and summary records go beside a CSV output.
pub fn meta_path(out: &Path) -> PathBuf {
    sibling(out, "meta.jsonl")
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out
        .file_name()
        .map_or("scan".into(), |n| n.to_string_lossy().into_owned());
    let stem = name
        .strip_suffix(".jsonl")
        .or_else(|| name.strip_suffix(".csv"))
        .unwrap_or(&name);
    out.with_file_name(format!("{stem}.{suffix}"))
}

/// A scan ready to run: its reference sets opened and checked, its configuration widened
/// to what they need, its output known to be free (or `--resume`d, or `--force`d).
pub struct Prepared {
    cfg: ScanConfig,
    sets: Vec<RefSet>,
    verified: Vec<Verified>,
    /// What was added to the requested hashes and digests for the sets, and why.
    pub added: Vec<sets::Added>,
}

impl Prepared {
    pub fn config(&self) -> &ScanConfig {
        &self.cfg
    }

    pub fn sets(&self) -> &[RefSet] {
        &self.sets
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{path} already holds {what} of an earlier scan: give --resume to continue it, --force to replace it, or another -o"
)]
pub struct OutputExists {
    pub path: PathBuf,
    pub what: String,
}

/// The run was stopped (`ScanConfig::stop`) before its outputs were opened: nothing was
/// written or replaced.
#[derive(Debug, thiserror::Error)]
#[error("stopped before any record was written; {out} is as it was")]
pub struct StoppedBeforeStart {
    pub out: PathBuf,
}

/// An output is evidence: a run that is neither a resumption nor told to replace it must
/// not overwrite one (or the matches or header beside it) that holds anything.
fn refuse_overwrite(cfg: &ScanConfig) -> anyhow::Result<()> {
    anyhow::ensure!(
        !cfg.out.is_dir(),
        "{} is a folder: -o names the output file",
        cfg.out.display()
    );
    if cfg.resume || cfg.force {
        return Ok(());
    }
    let held = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.len() > 0);
    let beside = [
        (cfg.out.clone(), "records"),
        (matches_path(&cfg.out), "the matches"),
        (meta_path(&cfg.out), "the header and summary"),
    ];
    match beside.into_iter().find(|(p, _)| held(p)) {
        Some((path, what)) => Err(OutputExists {
            path,
            what: what.to_string(),
        }
        .into()),
        None => Ok(()),
    }
}

/// Check what can be checked before any file is read: the output, then the sets.
pub fn prepare(cfg: ScanConfig) -> anyhow::Result<Prepared> {
    refuse_overwrite(&cfg)?;
    let (sets, verified): (Vec<RefSet>, Vec<Verified>) =
        sets::open_checked(&cfg.refs)?.into_iter().unzip();
    crate::matching::planner::require_indexes(sets.iter(), cfg.index)
        .map_err(anyhow::Error::msg)?;
    let mut cfg = cfg;
    let added = sets::widen(&mut cfg, &sets);
    Ok(Prepared {
        cfg,
        sets,
        verified,
        added,
    })
}

pub fn run(p: &Prepared, engine: &Engine) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let (cfg, sets) = (&p.cfg, &p.sets);
    let mut summary = Summary::default();
    let mpath = matches_path(&cfg.out);
    let csv = cfg.format == record::Format::Csv;
    let head = header(cfg, engine, sets, &p.verified, &p.added);
    if cfg.resume {
        refuse_other_settings(cfg, &head)?;
    }
    let done = if cfg.resume {
        let done = resume::recorded(&cfg.out, cfg.format)
            .with_context(|| format!("cannot resume {}", cfg.out.display()))?;
        resume::prune_matches(&mpath, &done)
            .with_context(|| format!("cannot resume {}", mpath.display()))?;
        done
    } else {
        HashSet::new()
    };
    // The walk before any output is opened: a stop during it leaves them untouched, even
    // those `--force` would replace.
    let (todo, early) = plan(cfg, &done, &mut summary);
    if stopped(cfg) {
        return Err(StoppedBeforeStart {
            out: cfg.out.clone(),
        }
        .into());
    }
    let open = |p: &Path| -> anyhow::Result<File> {
        let mut o = OpenOptions::new();
        if cfg.resume {
            o.append(true).create(true)
        } else {
            o.write(true).create(true).truncate(true)
        };
        o.open(p)
            .with_context(|| format!("cannot write {}", p.display()))
    };
    let mut out = open(&cfg.out)?;
    let mout = if sets.is_empty() {
        // A fresh run without sets must not leave an earlier run's matches beside its output.
        if !cfg.resume && mpath.exists() {
            std::fs::remove_file(&mpath)?;
        }
        None
    } else {
        Some(open(&mpath)?)
    };
    let mut meta = if csv {
        Some(open(&meta_path(&cfg.out))?)
    } else {
        None
    };
    if csv && out.metadata()?.len() == 0 {
        write_synced(&mut out, &format!("{}\n", record::csv_header()))?;
    }
    let mut head = head;
    head["resumed"] = json!(!done.is_empty());
    if cfg.verify_images {
        cfg.progress.stage("verifying images");
        summary.images_verified = verify_images(&todo);
        head["images_verified"] = json!(summary.images_verified);
    }
    write_synced(meta.as_mut().unwrap_or(&mut out), &format!("{head}\n"))?;
    write_synced(&mut out, &early)?;
    cfg.progress.set_total(todo.len() as u64);

    let planner = match sets.is_empty() {
        true => Planner::cpu(),
        false => Planner::on_device(engine.gpu_context()).index(cfg.index),
    };
    let counters_before = engine.gpu_context().map(|c| c.counters());
    let shares_before = engine.shares();
    let sink = Sink {
        cfg,
        planner: &planner,
        videos: video::Videos::new(sets, cfg),
        sets,
        out,
        mout,
        summary,
        started,
        contents: Default::default(),
        last_picture: None,
    };
    // Three stages, each on its own thread, each handing the next a bounded queue: reading
    // and decoding (all cores), hashing (the engine: GPU and CPU workers), then matching
    // and writing. The device is never left waiting for the writer.
    let mut sink = std::thread::scope(|scope| -> anyhow::Result<Sink> {
        let (tx, rx) = mpsc::sync_channel::<(Vec<Examined>, Duration)>(1);
        let (htx, hrx) = mpsc::sync_channel::<HashedRound>(2);
        let todo = &todo;
        let done = &done;
        scope.spawn(move || produce(todo, done, cfg, tx));
        let writer = scope.spawn(move || sink.drain(hrx));
        for (mut round, read_time) in rx {
            let t = Instant::now();
            let frames: Vec<&Frame> = round.iter().flat_map(|e| &e.frames).collect();
            let hashes = engine.hash(&frames, cfg.algos);
            // The pixels are done with: only their count goes on, so rounds queued for the
            // writer hold no frames.
            let counts = round
                .iter_mut()
                .map(|e| {
                    e.hold = Reservation::default();
                    std::mem::take(&mut e.frames).len()
                })
                .collect();
            let hashed = HashedRound {
                round,
                counts,
                hashes,
                read_time,
                hash_time: t.elapsed(),
            };
            if htx.send(hashed).is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        drop(htx);
        writer.join().expect("the writer does not panic")
    })?;
    if let (Some(ctx), Some(before)) = (engine.gpu_context(), counters_before) {
        let shares = engine.shares();
        sink.summary.gpu = Some(GpuSummary {
            counters: ctx.counters().since(&before),
            frames_hashed_on_gpu: shares.gpu_frames - shares_before.gpu_frames,
            frames_hashed_on_cpu: shares.cpu_frames - shares_before.cpu_frames,
        });
    }
    let (mut summary, mut out) = (sink.summary, sink.out);
    summary.gpu_warnings = engine.warnings();
    summary
        .gpu_warnings
        .extend(planner.fallback().map(String::from));
    summary.matching = planner.stats();
    summary.seconds = started.elapsed().as_secs_f64();
    let images = summary.by_status.get("ok").copied().unwrap_or(0);
    summary.images_per_s = images as f64 / summary.seconds.max(1e-9);
    summary.interrupted = stopped(cfg);
    summary.recorded = done.len() + summary.by_status.values().sum::<usize>();
    let mut s = serde_json::to_value(&summary)?;
    s["type"] = json!("summary");
    s["shard"] = json!(cfg.shard.to_string());
    let finished = crate::clock::unix_seconds(std::time::SystemTime::now());
    s["finished"] = json!(finished);
    s["finished_utc"] = json!(crate::clock::iso8601_utc(finished));
    write_synced(meta.as_mut().unwrap_or(&mut out), &format!("{s}\n"))?;
    Ok(summary)
}

fn stopped(cfg: &ScanConfig) -> bool {
    cfg.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
}

/// The reading side: files examined a round at a time on all cores, videos decoded into
/// pieces, rounds handed to the sink with the time they took. Returns when the sink hangs up.
fn produce(
    todo: &[walk::Found],
    done: &HashSet<String>,
    cfg: &ScanConfig,
    tx: mpsc::SyncSender<(Vec<Examined>, Duration)>,
) {
    let budget = Budget::new(cfg.max_memory);
    let limits = RoundLimits::within(cfg.max_memory, cfg.round_pixels);
    // After a stop, the round in hand is still sent (its files are read), then no more.
    let mut send = |round, t| tx.send((round, t)).is_ok() && !stopped(cfg);
    let mut rounds = video::Rounds::new(limits.pixels, &mut send);
    let mut rest = todo;
    while !rest.is_empty() && !stopped(cfg) {
        let round = pipeline::take_round(
            rest,
            limits,
            &budget,
            |f| examine::cost(f, cfg),
            |f, head, mut hold| {
                let mut e = examine_guarded(f, head, cfg);
                cfg.progress.add_read(1);
                hold.resize_to(pipeline::frame_cost(&e.frames));
                e.hold = hold;
                e
            },
            |e: &Examined| e.frames.iter().map(Frame::pixels).sum(),
        );
        rest = &rest[round.len()..];
        let (videos, others): (Vec<Examined>, Vec<Examined>) = round
            .into_iter()
            .partition(|e| matches!(e.video, Some(video::VideoPart::Pending { .. })));
        // The round's files go on before its containers are opened: what they hold of the
        // budget must come back while a container's members wait for it.
        let (containers, files): (Vec<Examined>, Vec<Examined>) =
            others.into_iter().partition(|e| e.container.is_some());
        if !files.into_iter().all(|e| contained::push(&mut rounds, e)) || !rounds.flush() {
            return;
        }
        for e in containers {
            let kind = e.container.expect("a container");
            if !contained::expand(&f_path(&e), kind, cfg, &budget, done, &mut rounds) {
                return;
            }
        }
        if !rounds.stream_all(videos, cfg) || !rounds.flush() {
            return;
        }
    }
}

/// `--verify-image`: each EWF image to be swept (its first segment) read back and
/// compared with the hashes it stores.
fn verify_images(todo: &[walk::Found]) -> Vec<disk::Verification> {
    let ewf = |p: &Path| {
        let mut head = [0u8; 16];
        File::open(p)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok_and(|()| disk::segment_number(&head) == Some(1))
    };
    let mut out = vec![];
    for f in todo
        .iter()
        .filter(|f| f.kind == walk::Kind::File && ewf(&f.path))
    {
        out.push(disk::verify(&f.path));
    }
    out
}

/// The file on disk an examined container is (its record names it alone).
fn f_path(e: &Examined) -> PathBuf {
    crate::sources::location::path_from_text(&e.record.path, e.record.path_escaped)
}

fn write_synced(f: &mut File, text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

/// Count a finished record in the summary; returns it.
fn finish(r: record::FileRecord, s: &mut Summary) -> record::FileRecord {
    *s.by_status.entry(r.status.name().to_string()).or_default() += 1;
    for w in &r.warnings {
        let code = crate::decode::integrity::code(w);
        *s.warnings.entry(code.to_string()).or_default() += 1;
    }
    *s.by_format
        .entry(r.format.as_deref().unwrap_or("none").to_string())
        .or_default() += 1;
    s.containers.count(&r);
    s.bytes_read += r.bytes_read;
    r
}
