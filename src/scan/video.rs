//! Videos in a scan. A video is probed with the other files of its round; the videos of a
//! round are then decoded several at once, one FFmpeg process each, and their sampled
//! frames are cut into pieces that share hashing batches with images and other videos, so
//! memory stays bounded however long the video. The record goes out with the last piece: a resumed run redoes a video whose
//! record is missing, and every video is still recorded exactly once.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::record::{FileRecord, Status};
use super::{Examined, ScanConfig};
use crate::engine::FrameHashes;
use crate::matching::Planner;
use crate::matching::video::{self as vmatch, VideoTotals, VpdqParams};
use crate::pipeline::ROUND_FILES;
use crate::refset::{Algo, RefSet};
use crate::sources::spool::Spool;
use crate::video::{self, Feature, VideoInfo};

/// What a video contributes to a round.
pub enum VideoPart {
    /// Probed by `examine`; the producer decodes it. A video from inside a container is
    /// read from its `spool`, dropped once decoded.
    Pending {
        path: PathBuf,
        info: VideoInfo,
        spool: Option<Spool>,
    },
    /// Sampled frames (in `Examined::frames`) with their frame numbers; the record is
    /// complete only with the `last` piece.
    Frames {
        id: u64,
        numbers: Vec<u64>,
        frame_rate: f64,
        last: bool,
    },
}

/// What a video file's record says before decoding: stream facts, or why it is not hashed.
pub fn examine(record: FileRecord, path: &Path, cfg: &ScanConfig) -> Examined {
    probed(record, path, None, cfg)
}

/// `examine` for a video member of a container, spooled to a temporary file.
pub fn examine_spooled(record: FileRecord, spool: Spool, cfg: &ScanConfig) -> Examined {
    let path = spool.path().to_path_buf();
    probed(record, &path, Some(spool), cfg)
}

fn probed(mut record: FileRecord, path: &Path, spool: Option<Spool>, cfg: &ScanConfig) -> Examined {
    let mut video = None;
    if !cfg.algos.pdq {
        record.set(Status::Skipped, "video: vPDQ needs PDQ (add pdq to --algo)");
    } else {
        match video::probe(path, &cfg.video) {
            Ok(info) => {
                record.video = Some(info.clone());
                record.status = Status::Ok;
                video = Some(VideoPart::Pending {
                    path: path.to_path_buf(),
                    info,
                    spool,
                });
            }
            Err(err) => {
                let skip = matches!(err, video::VideoError::AudioOnly);
                let status = if skip { Status::Skipped } else { Status::Error };
                record.set(status, err.to_string());
            }
        }
    }
    Examined {
        record,
        frames: vec![],
        trimmed: None,
        video,
        hold: Default::default(),
        container: None,
        extra: vec![],
    }
}

/// Fills rounds for the hash stage and hands each full one on, with the time spent
/// reading and decoding it.
pub struct Rounds<'a> {
    items: Vec<Examined>,
    pixels: usize,
    max_pixels: usize,
    since: Instant,
    next_id: u64,
    send: &'a mut dyn FnMut(Vec<Examined>, Duration) -> bool,
}

impl<'a> Rounds<'a> {
    pub fn new(
        max_pixels: usize,
        send: &'a mut dyn FnMut(Vec<Examined>, Duration) -> bool,
    ) -> Rounds<'a> {
        Rounds {
            items: vec![],
            pixels: 0,
            max_pixels,
            since: Instant::now(),
            next_id: 0,
            send,
        }
    }

    /// Add one item; false once the consumer has gone.
    pub fn push(&mut self, e: Examined) -> bool {
        self.pixels += e.frames.iter().map(crate::Frame::pixels).sum::<usize>();
        self.items.push(e);
        if self.pixels >= self.max_pixels || self.items.len() >= ROUND_FILES {
            return self.flush();
        }
        true
    }

    pub fn flush(&mut self) -> bool {
        if self.items.is_empty() {
            return true;
        }
        self.pixels = 0;
        let ok = (self.send)(std::mem::take(&mut self.items), self.since.elapsed());
        self.since = Instant::now();
        ok
    }

    /// Decode the `Pending` videos of a batch, several at once (one FFmpeg per core
    /// share: two single-threaded decoders get more from two cores than one with two
    /// threads), their frames cut into pieces as rounds fill. Video records come out in the
    /// order the videos finish. False once the consumer has gone.
    pub fn stream_all(&mut self, pending: Vec<Examined>, cfg: &ScanConfig) -> bool {
        if pending.is_empty() {
            return true;
        }
        let workers = rayon::current_num_threads().clamp(1, pending.len());
        let opts = crate::video::VideoOptions {
            threads: (cfg.video.threads / workers).max(1),
            ..cfg.video.clone()
        };
        let mut jobs = vec![];
        let mut open: Vec<Open> = pending
            .into_iter()
            .map(|mut e| {
                let Some(VideoPart::Pending { path, info, spool }) = e.video.take() else {
                    unreachable!("only pending videos are streamed")
                };
                self.next_id += 1;
                jobs.push((path, info.clone()));
                Open {
                    id: self.next_id - 1,
                    info,
                    record: e.record,
                    frames: vec![],
                    numbers: vec![],
                    total: 0,
                    spool,
                }
            })
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Decoded>(workers * 4);
        std::thread::scope(|scope| {
            let (todo, next, opts) = (&jobs, &next, &opts);
            for _ in 0..workers {
                let tx = tx.clone();
                scope.spawn(move || decode_worker(todo, next, opts, &tx));
            }
            drop(tx);
            self.collect(&mut open, rx)
        })
    }

    /// The producer's half of `stream_all`: frames into pieces, endings into records.
    fn collect(&mut self, open: &mut [Open], rx: std::sync::mpsc::Receiver<Decoded>) -> bool {
        let mut held = 0;
        for msg in rx {
            match msg {
                Decoded::Frame(i, n, f) => {
                    held += f.pixels();
                    open[i].frames.push(f);
                    open[i].numbers.push(n);
                    open[i].total += 1;
                    if self.pixels + held >= self.max_pixels {
                        held = 0;
                        let parts: Vec<Examined> = open
                            .iter_mut()
                            .filter(|o| !o.frames.is_empty())
                            .map(|o| o.piece(path_only(&o.record), false))
                            .collect();
                        for p in parts {
                            if !self.push(p) {
                                return false;
                            }
                        }
                        if !self.flush() {
                            return false;
                        }
                    }
                }
                Decoded::End(i, end) => {
                    let o = &mut open[i];
                    // Decoded: a spooled member's bytes leave the disk now.
                    o.spool = None;
                    held = held.saturating_sub(o.frames.iter().map(crate::Frame::pixels).sum());
                    let end = end.and_then(|e| video::ending_warnings(e, &o.info, o.total));
                    match end {
                        Ok(w) => o.record.warnings = w,
                        Err(err) => o.record.set(Status::Error, err.to_string()),
                    }
                    let record = std::mem::take(&mut o.record);
                    let last = o.piece(record, true);
                    if !self.push(last) {
                        return false;
                    }
                }
            }
        }
        true
    }
}

/// A video being decoded by `stream_all`.
struct Open {
    id: u64,
    info: VideoInfo,
    record: FileRecord,
    frames: Vec<crate::Frame>,
    numbers: Vec<u64>,
    total: usize,
    spool: Option<Spool>,
}

impl Open {
    /// The frames gathered so far, as a piece of this video.
    fn piece(&mut self, record: FileRecord, last: bool) -> Examined {
        Examined {
            record,
            frames: std::mem::take(&mut self.frames),
            trimmed: None,
            video: Some(VideoPart::Frames {
                id: self.id,
                numbers: std::mem::take(&mut self.numbers),
                frame_rate: self.info.frame_rate,
                last,
            }),
            hold: Default::default(),
            container: None,
            extra: vec![],
        }
    }
}

/// From a decoding thread: a sampled frame of video `i`, or how its decoding ended.
enum Decoded {
    Frame(usize, u64, crate::Frame),
    End(usize, Result<video::ffmpeg::Ending, video::VideoError>),
}

/// Take the next video not yet started, decode it, repeat. Stops when the producer has
/// gone (the send fails); FFmpeg is then stopped by `finish`.
fn decode_worker(
    todo: &[(PathBuf, VideoInfo)],
    next: &std::sync::atomic::AtomicUsize,
    opts: &crate::video::VideoOptions,
    tx: &std::sync::mpsc::SyncSender<Decoded>,
) {
    loop {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some((path, info)) = todo.get(i) else {
            return;
        };
        let mut reader = match video::start(path, info, opts) {
            Ok(r) => r,
            Err(e) => {
                if tx.send(Decoded::End(i, Err(e))).is_err() {
                    return;
                }
                continue;
            }
        };
        while let Some((n, f)) = reader.next_frame() {
            if tx.send(Decoded::Frame(i, n, f)).is_err() {
                reader.finish();
                return;
            }
        }
        if tx.send(Decoded::End(i, Ok(reader.finish()))).is_err() {
            return;
        }
    }
}

/// A piece before the last needs only the path, for its frame matches.
fn path_only(record: &FileRecord) -> FileRecord {
    FileRecord {
        path: record.path.clone(),
        path_escaped: record.path_escaped,
        ..FileRecord::default()
    }
}

/// A whole-video match line: the video of a set that this video's hashes meet under the
/// vPDQ rule, with the shares and counts behind the decision.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename = "video_match")]
struct VideoMatchRecord<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    path_escaped: bool,
    refset: String,
    video: &'a str,
    #[serde(flatten)]
    score: serde_json::Value,
}

/// The consumer's side: features of the videos still being read, and the video sets'
/// per-video totals, computed once per scan.
pub struct Videos {
    features: HashMap<u64, Vec<Feature>>,
    totals: Vec<Option<VideoTotals>>,
    dir: PathBuf,
}

/// Where a frame of a round came from, for its match lines.
#[derive(Debug, Clone, Copy)]
pub struct VideoFrame {
    pub number: u64,
    pub timestamp: f64,
}

impl Videos {
    pub fn new(sets: &[RefSet], cfg: &ScanConfig) -> Videos {
        Videos {
            features: HashMap::new(),
            totals: sets
                .iter()
                .map(|s| s.has_videos().then(|| VideoTotals::new(s, cfg.min_quality)))
                .collect(),
            dir: cfg.vpdq_dir.clone(),
        }
    }

    /// Keep a piece's hashes; returns each frame's number and timestamp.
    pub fn add(
        &mut self,
        id: u64,
        numbers: &[u64],
        frame_rate: f64,
        hashes: &[FrameHashes],
    ) -> Vec<VideoFrame> {
        let acc = self.features.entry(id).or_default();
        numbers
            .iter()
            .zip(hashes)
            .filter_map(|(&n, h)| {
                let f = Feature::new(n, frame_rate, h.pdq.as_ref()?);
                acc.push(f);
                Some(VideoFrame {
                    number: n,
                    timestamp: f.timestamp,
                })
            })
            .collect()
    }

    /// The last piece is in: write the vPDQ file, fill the record, and match the whole
    /// video against the sets built from vPDQ files. Returns the match lines.
    pub fn finish(
        &mut self,
        id: u64,
        record: &mut FileRecord,
        sets: &[RefSet],
        planner: &Planner,
        cfg: &ScanConfig,
    ) -> anyhow::Result<Vec<String>> {
        let features = self.features.remove(&id).unwrap_or_default();
        if record.status != Status::Ok {
            return Ok(vec![]);
        }
        record.frames_hashed = Some(features.len());
        match self.write_text(record, &features) {
            Ok(file) => record.vpdq_file = Some(file.to_string_lossy().into_owned()),
            // This video's hashes cannot be kept; the run and the other files go on.
            Err(e) => {
                record.set(Status::Error, format!("writing its vPDQ file failed: {e}"));
                return Ok(vec![]);
            }
        }
        let p = VpdqParams {
            distance: cfg
                .max_distance
                .unwrap_or(crate::matching::default_max_distance(Algo::Pdq)),
            min_quality: cfg.min_quality,
            query_pct: cfg.query_match_pct,
            compared_pct: cfg.compared_match_pct,
        };
        let query = [vmatch::distinct(&features, p.min_quality)];
        let mut lines = vec![];
        for (set, totals) in sets.iter().zip(&self.totals) {
            let Some(totals) = totals else { continue };
            let found = vmatch::against_set(set, totals, planner, &query, &p);
            for m in found {
                let mut score = serde_json::json!({});
                m.score.put_json(&p, &mut score);
                let line = VideoMatchRecord {
                    path: &record.path,
                    path_escaped: record.path_escaped,
                    refset: set.path().to_string_lossy().into_owned(),
                    video: set.video_name(m.video),
                    score,
                };
                lines.push(serde_json::to_string(&line)?);
            }
        }
        Ok(lines)
    }

    /// `DIR/NAME-XXXXXXXX.vpdq.txt`, XXXXXXXX from the path, so that equal names in
    /// different folders do not collide; written whole, then renamed into place.
    fn write_text(&self, record: &FileRecord, features: &[Feature]) -> std::io::Result<PathBuf> {
        let path = record.path.as_str();
        let name = Path::new(path)
            .file_name()
            .map_or("video".into(), |n| n.to_string_lossy().into_owned());
        // Room for the tag and suffixes within the usual 255-byte limit on a name.
        let mut cut = name.len().min(100);
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        let name = &name[..cut];
        let tag = &blake3::hash(path.as_bytes()).to_hex()[..8];
        std::fs::create_dir_all(&self.dir)?;
        let file = self.dir.join(format!("{name}-{tag}.vpdq.txt"));
        // The record naming this file is synced after it: the file must be on disk first.
        crate::durable::replace(&file, |f| f.write_all(video::to_text(features).as_bytes()))?;
        Ok(file)
    }
}
