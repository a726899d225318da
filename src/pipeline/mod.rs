//! Files in rounds: the front of a list read and decoded on all cores, within a round's
//! size and the shared memory budget, then hashed together on the engine. `hash`, `match`
//! and `scan` all read images this way, so they share one round size and one budget rule.

pub mod budget;
mod bytes;
pub mod references;

use std::ops::ControlFlow;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

pub use budget::{Budget, Reservation};
pub use bytes::hash_bytes;

use crate::decode::{self, DecodeOptions, Decoded};
use crate::engine::{Algorithms, Engine, FrameHashes};
use crate::frame::Frame;
use crate::progress::Progress;
use crate::sources::container;
use crate::sources::location::{Location, Step};

/// Files per round at most.
pub const ROUND_FILES: usize = 256;
/// Decoded pixels per round at most (64 M pixels: 192 MB as RGB).
pub const ROUND_PIXELS: usize = 64 << 20;

/// Bytes per decoded pixel reserved while a file is decoded: the decoder's own image (up
/// to 16-bit RGBA, 8 bytes), its RGB copy (3), the pHash grey copy of 16-bit greys (3),
/// rounded up.
pub const DECODE_BYTES_PER_PIXEL: u64 = 16;
/// Bytes per pixel kept once decoded, beside the frame's own bytes: the CPU hasher's
/// full-size float luma and its filter's scratch.
pub const HASH_BYTES_PER_PIXEL: u64 = 8;

/// The size of one round.
#[derive(Debug, Clone, Copy)]
pub struct RoundLimits {
    pub files: usize,
    pub pixels: usize,
}

impl RoundLimits {
    pub const DEFAULT: RoundLimits = RoundLimits {
        files: ROUND_FILES,
        pixels: ROUND_PIXELS,
    };

    /// Rounds small enough that the three a pipeline holds at once (read, queued, hashed)
    /// fit in `budget`: videos' frames are bounded by the round, not by reservations.
    pub fn within(budget: u64, pixels: usize) -> RoundLimits {
        let per_round = budget / 3 / (3 + HASH_BYTES_PER_PIXEL);
        RoundLimits {
            files: ROUND_FILES,
            pixels: pixels
                .min(usize::try_from(per_round).unwrap_or(usize::MAX))
                .max(1),
        }
    }
}

/// What reading one image will hold at its peak: its bytes and its decoding. Unknown sizes
/// (not an image, a header that does not parse) cost the bytes alone; the decoder refuses
/// such files before allocating.
pub fn image_cost(file_bytes: u64, decoded: Option<(u32, u32)>, max_pixels: u64) -> u64 {
    // A header claiming more than the decoder accepts is refused before any pixel.
    let pixels = decoded
        .map_or(0, |(w, h)| u64::from(w) * u64::from(h))
        .min(max_pixels);
    file_bytes.saturating_add(pixels.saturating_mul(DECODE_BYTES_PER_PIXEL))
}

/// The budget a command was given (`--max-memory`), or the machine's default share.
pub fn budget_of(max_memory: Option<u64>) -> Arc<Budget> {
    Budget::new(max_memory.unwrap_or_else(budget::default_limit))
}

/// What a decoded frame holds until it is hashed.
pub fn frame_cost<'f>(frames: impl IntoIterator<Item = &'f Frame>) -> u64 {
    frames
        .into_iter()
        .map(|f| f.bytes() as u64 + f.pixels() as u64 * HASH_BYTES_PER_PIXEL)
        .sum()
}

/// Work through the front of `items` on all cores, a few per thread at a time, until the
/// round's files or pixels are reached or the budget is full. Each item's `cost` (bytes,
/// and what was read to learn them, such as the file's head) is reserved before `work`
/// sees it; the reservation goes into `work` so that the result holds it for as long as
/// it holds the memory. Returns one result per item taken, in order; at least one
/// whenever `items` is not empty. An item whose cost was learnt but that did not fit is
/// looked at again in the next round.
///
/// Only a round's first item waits for the budget (on rounds already handed on, which
/// their consumers give back); later ones that do not fit end the round instead, since
/// waiting on memory this round holds itself would never end.
pub fn take_round<T: Sync, P: Send, R: Send>(
    items: &[T],
    limits: RoundLimits,
    budget: &Arc<Budget>,
    cost: impl Fn(&T) -> (u64, P) + Sync,
    work: impl Fn(&T, P, Reservation) -> R + Sync,
    pixels: impl Fn(&R) -> usize,
) -> Vec<R> {
    let step = rayon::current_num_threads().max(1) * 2;
    let mut done: Vec<R> = vec![];
    let mut held = 0;
    while done.len() < items.len().min(limits.files) && held < limits.pixels {
        let start = done.len();
        let end = (start + step).min(items.len()).min(limits.files.max(1));
        let costs: Vec<(u64, P)> = items[start..end].par_iter().map(&cost).collect();
        let asked = costs.len();
        let mut admitted = Vec::with_capacity(asked);
        for (c, prefetched) in costs {
            let hold = match start + admitted.len() {
                0 => Some(budget.reserve(c)),
                _ => budget.try_reserve(c),
            };
            match hold {
                Some(h) => admitted.push((prefetched, h)),
                None => break,
            }
        }
        let full = admitted.len() < asked;
        let taken = &items[start..start + admitted.len()];
        let part: Vec<R> = taken
            .par_iter()
            .zip(admitted)
            .map(|(t, (p, h))| work(t, p, h))
            .collect();
        held += part.iter().map(&pixels).sum::<usize>();
        done.extend(part);
        if full {
            break;
        }
    }
    done
}

/// One hashed file: its own size (before any pre-resize) and its hashes.
pub struct Hashed {
    pub width: u32,
    pub height: u32,
    pub hashes: FrameHashes,
    /// With `trim_borders`: the box inside added borders and its hashes.
    pub trimmed: Option<(crate::decode::trim::Rect, FrameHashes)>,
    /// With `HashSource::with_windows`: each window's name and hashes.
    pub windows: Vec<(&'static str, FrameHashes)>,
    /// What the decoder recovered from (`decode::integrity`).
    pub warnings: Vec<String>,
}

/// Takes each file's (or member's) result in order; `Break` stops the reading.
type Deliver<'f> = dyn FnMut(&Path, Result<Hashed, String>) -> ControlFlow<()> + 'f;

/// Sub-windows of a picture to hash beside it (`decode::augment::crops`).
pub type Windows = fn(&Frame) -> Vec<(&'static str, Frame)>;

/// Image files -> hashes in rounds: decode a round on all cores, hash it on the engine,
/// hand the results over in input order. Memory stays within the budget.
pub struct HashSource<'a> {
    engine: &'a Engine,
    algos: Algorithms,
    opts: DecodeOptions,
    budget: Arc<Budget>,
    windows: Option<Windows>,
    /// Hand over each JPEG's embedded thumbnails after it (`with_thumbnails`).
    thumbnails: bool,
    /// Counts each file as it is read, ahead of its batch's results.
    progress: Progress,
}

/// A decoded file and the windows cut from it, holding their memory until hashed; or a
/// container, whose members are hashed in its place. A JPEG's embedded thumbnails follow
/// it, each handed over as `photo.jpg!thumbnail` (`docs/paths.md`).
struct Read {
    decoded: Result<Decoded, String>,
    windows: Vec<(&'static str, Frame)>,
    _hold: Reservation,
    container: Option<container::Kind>,
    thumbnails: Vec<(&'static str, Read)>,
}

impl Read {
    /// Every frame to hash, in the order `Hashed` takes them back: whole, trimmed,
    /// windows, then each thumbnail's.
    fn frames(&self) -> Vec<&Frame> {
        let own: Vec<&Frame> = match &self.decoded {
            Ok(d) => std::iter::once(&d.frame)
                .chain(d.trimmed.as_ref().map(|t| &t.1))
                .chain(self.windows.iter().map(|w| &w.1))
                .collect(),
            Err(_) => vec![],
        };
        let thumbs = self.thumbnails.iter().flat_map(|(_, t)| t.frames());
        own.into_iter().chain(thumbs).collect()
    }

    /// The hashes of this read, taken from `next` in the order of `frames`.
    fn hashed(
        decoded: Result<Decoded, String>,
        windows: &[(&'static str, Frame)],
        next: &mut dyn FnMut() -> FrameHashes,
    ) -> Result<Hashed, String> {
        decoded.map(|d| Hashed {
            width: d.width,
            height: d.height,
            hashes: next(),
            trimmed: d.trimmed.map(|(r, _)| (r, next())),
            windows: windows.iter().map(|(name, _)| (*name, next())).collect(),
            warnings: d.warnings,
        })
    }
}

impl<'a> HashSource<'a> {
    pub fn new(
        engine: &'a Engine,
        algos: Algorithms,
        opts: DecodeOptions,
        budget: Arc<Budget>,
    ) -> HashSource<'a> {
        HashSource {
            engine,
            algos,
            opts,
            budget,
            windows: None,
            thumbnails: false,
            progress: Progress::off(),
        }
    }

    /// Count each file read on `progress` (the caller counts results).
    pub fn with_progress(mut self, progress: &Progress) -> HashSource<'a> {
        self.progress = progress.clone();
        self
    }

    /// Also hand over each JPEG's thumbnails, as rows of their own after it
    /// (`photo.jpg!thumbnail`): a query sweep looks at them, a caller that wants one
    /// result per file does not.
    pub fn with_thumbnails(mut self) -> HashSource<'a> {
        self.thumbnails = true;
        self
    }

    /// Also hash these windows of each picture (of the part inside its added borders when
    /// trimming found one).
    pub fn with_windows(mut self, windows: Windows) -> HashSource<'a> {
        self.windows = Some(windows);
        self
    }

    fn read(&self, p: &Path, head: Option<decode::Head>, hold: Reservation) -> Read {
        let kind = head
            .as_ref()
            .and_then(|h| container::detect(&h.bytes[..h.bytes.len().min(container::HEAD)]));
        if let Some(kind) = kind {
            let mut r = self.decoded(Err("container".into()), hold);
            r.container = Some(kind);
            return r;
        }
        let jpeg = self.thumbnails && head.as_ref().is_some_and(|h| is_jpeg(&h.bytes));
        match head {
            // A JPEG is read whole here: its thumbnails are cut from its bytes.
            Some(head) if jpeg => match head.read_all(u64::MAX) {
                Ok(bytes) => self.read_bytes(&bytes, hold),
                Err(e) => self.decoded(Err(format!("read failed: {e}")), hold),
            },
            Some(head) => {
                let decoded = decode::decode_head(head, &self.opts);
                self.decoded(decoded.map_err(|e| e.to_string()), hold)
            }
            None => {
                let decoded = decode::decode_file(p, &self.opts);
                self.decoded(decoded.map_err(|e| e.to_string()), hold)
            }
        }
    }

    /// A picture held in memory, decoded, with its thumbnails when it is a JPEG.
    fn read_bytes(&self, bytes: &[u8], hold: Reservation) -> Read {
        let decoded = decode::decode_bytes(bytes, &self.opts).map_err(|e| e.to_string());
        let mut read = self.decoded(decoded, hold);
        if self.thumbnails && is_jpeg(bytes) {
            read.thumbnails = container::thumbnail::of_jpeg(bytes)
                .into_iter()
                .map(|(name, t)| (name, self.thumbnail(t)))
                .collect();
        }
        read
    }

    /// A thumbnail as found: never trimmed nor searched for thumbnails of its own.
    fn thumbnail(&self, t: container::thumbnail::Thumbnail) -> Read {
        let decoded = match t {
            container::thumbnail::Thumbnail::Jpeg(b) => {
                let opts = DecodeOptions {
                    trim_borders: false,
                    ..self.opts
                };
                decode::decode_bytes(&b, &opts).map_err(|e| e.to_string())
            }
            container::thumbnail::Thumbnail::Pixels { frame, .. } => Ok(Decoded {
                width: frame.width(),
                height: frame.height(),
                frame,
                warnings: vec![],
                trimmed: None,
            }),
        };
        self.decoded(decoded, Reservation::default())
    }

    /// A decoding's result, with its windows cut, holding what it takes.
    fn decoded(&self, decoded: Result<Decoded, String>, hold: Reservation) -> Read {
        let windows = match (&decoded, self.windows) {
            (Ok(d), Some(cut)) => cut(d.trimmed.as_ref().map_or(&d.frame, |t| &t.1)),
            _ => vec![],
        };
        let mut read = Read {
            decoded,
            windows,
            _hold: hold,
            container: None,
            thumbnails: vec![],
        };
        let held = frame_cost(read.frames());
        read._hold.resize_to(held);
        read
    }

    pub fn for_each(&self, files: &[PathBuf], mut f: impl FnMut(&Path, Result<Hashed, String>)) {
        self.try_for_each(files, |p, r| {
            f(p, r);
            ControlFlow::Continue(())
        });
    }

    /// `for_each` that the caller can stop: after the file that returns `Break`, no more
    /// rounds are read (a reader that went away does not wait for the whole input).
    pub fn try_for_each(
        &self,
        files: &[PathBuf],
        mut f: impl FnMut(&Path, Result<Hashed, String>) -> ControlFlow<()>,
    ) {
        let limits = RoundLimits::within(self.budget.limit(), ROUND_PIXELS);
        let mut rest = files;
        while !rest.is_empty() {
            let round = take_round(
                rest,
                limits,
                &self.budget,
                |p| match decode::Head::open(p) {
                    Ok(head) => {
                        let len = head.file.metadata().map_or(0, |m| m.len());
                        let c =
                            image_cost(len, head.planned_size(p, &self.opts), self.opts.max_pixels);
                        (c, Some(head))
                    }
                    Err(_) => (0, None),
                },
                |p, head, hold| {
                    let r = self.read(p, head, hold);
                    self.progress.add_read(1);
                    r
                },
                |r: &Read| r.frames().iter().map(|f| f.pixels()).sum(),
            );
            let n = round.len();
            if self.deliver(&rest[..n], false, round, &mut f).is_break() {
                return;
            }
            rest = &rest[n..];
        }
    }

    /// Hash a round of reads and hand each result over in order; a container's members
    /// are hashed and handed over in its place.
    /// `inside`: the paths are members' texts (`docs/paths.md`), not paths on disk.
    fn deliver(
        &self,
        paths: &[PathBuf],
        inside: bool,
        round: Vec<Read>,
        f: &mut Deliver,
    ) -> ControlFlow<()> {
        let frames: Vec<&Frame> = round.iter().flat_map(Read::frames).collect();
        let mut hashes = self.engine.hash(&frames, self.algos).into_iter();
        let mut next = || hashes.next().expect("one result per frame");
        for (path, read) in paths.iter().zip(round) {
            if let Some(kind) = read.container {
                self.members(path, kind, f)?;
                continue;
            }
            f(path, Read::hashed(read.decoded, &read.windows, &mut next))?;
            for (name, t) in read.thumbnails {
                let r = Read::hashed(t.decoded, &t.windows, &mut next);
                f(&thumbnail_path(path, inside, name), r)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// The pictures inside a container (opened as `scan` opens them, to the default
    /// depth), each handed over under its path (`docs/paths.md`); what is not a picture,
    /// or could not be read, as an error naming why. Members are read on this thread and
    /// hashed in rounds of a quarter of the budget at most.
    fn members(&self, path: &Path, kind: container::Kind, f: &mut Deliver) -> ControlFlow<()> {
        let limits = container::Limits::within(self.budget.limit());
        let mut batch: Vec<(PathBuf, Result<Vec<u8>, String>)> = vec![];
        let mut held = 0u64;
        let mut flow = ControlFlow::Continue(());
        let none = |_: &crate::sources::location::Location| false;
        let mut emit = |e: container::Entry| {
            let name = PathBuf::from(e.location.text().0);
            let bytes = match e.content {
                container::Content::Bytes(b) => Ok(b),
                container::Content::Member(m) => m.read(),
                container::Content::Disk(d) => d.read().map(|(b, _)| b),
                container::Content::Volume(v) => match v.error {
                    Some(why) => Err(why),
                    None => return true,
                },
                container::Content::Pixels { frame, .. } => {
                    // Already pixels: hashed alone, at once.
                    let r = frame.map(|f| decode::Decoded {
                        width: f.width(),
                        height: f.height(),
                        frame: f,
                        warnings: vec![],
                        trimmed: None,
                    });
                    let read = self.decoded(r, Reservation::default());
                    flow = self.deliver(&[name], true, vec![read], f);
                    return flow.is_continue();
                }
                // Videos are decoded by `scan` alone; here they are named as not pictures.
                container::Content::Spooled { format, .. } => {
                    Err(format!("{} ({format})", references::NOT_A_PICTURE))
                }
                container::Content::Streamed { reason, .. }
                | container::Content::Refused { reason, .. }
                | container::Content::Skipped(reason) => Err(reason),
                container::Content::Opened(o) => match o.error {
                    Some(why) => Err(why),
                    None => return true,
                },
            };
            held += bytes.as_ref().map_or(0, |b| b.len() as u64);
            batch.push((name, bytes));
            if batch.len() >= ROUND_FILES || held > self.budget.limit() / 4 {
                flow = self.hash_members(std::mem::take(&mut batch), f);
                held = 0;
            }
            flow.is_continue()
        };
        container::Expander::new(limits, Default::default(), &none, &mut emit).file(path, kind);
        flow?;
        self.hash_members(batch, f)
    }

    /// Members in memory: decoded on all cores (what is not a picture says so), hashed.
    fn hash_members(
        &self,
        batch: Vec<(PathBuf, Result<Vec<u8>, String>)>,
        f: &mut Deliver,
    ) -> ControlFlow<()> {
        let (names, datas): (Vec<PathBuf>, Vec<_>) = batch.into_iter().unzip();
        let reads: Vec<Read> = datas
            .into_par_iter()
            .map(|b| {
                let read = match b {
                    Ok(b) => {
                        let kind = decode::sniff::detect(&b[..b.len().min(decode::sniff::HEAD)]);
                        match kind.is_picture() {
                            true => self.read_bytes(&b, Reservation::default()),
                            false => {
                                let why = format!(
                                    "{} ({})",
                                    references::NOT_A_PICTURE,
                                    decode::sniff::name(kind)
                                );
                                self.decoded(Err(why), Reservation::default())
                            }
                        }
                    }
                    Err(why) => self.decoded(Err(why), Reservation::default()),
                };
                self.progress.add_read(1);
                read
            })
            .collect();
        self.deliver(&names, true, reads, f)
    }
}

/// A thumbnail's path: a step after its picture's, whether that is on disk or a member.
fn thumbnail_path(picture: &Path, inside: bool, name: &str) -> PathBuf {
    let text = match inside {
        true => picture.to_string_lossy().into_owned(),
        false => Location::file(picture).text().0,
    };
    let step = Location::file("").join(Step::Member(name.as_bytes().to_vec()));
    PathBuf::from(text + &step.text().0)
}

fn is_jpeg(head: &[u8]) -> bool {
    decode::sniff::detect(head) == decode::sniff::Detected::Image(image::ImageFormat::Jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_budget_ends_the_round_and_nothing_is_lost() {
        let items: Vec<u64> = vec![40, 40, 40, 40, 40];
        let budget = Budget::new(100);
        let mut rest = &items[..];
        let mut rounds = vec![];
        while !rest.is_empty() {
            let r = take_round(
                rest,
                RoundLimits::DEFAULT,
                &budget,
                |&c| (c, ()),
                |&c, (), hold| (c, hold),
                |_| 0,
            );
            assert!(budget.peak() <= 100, "held {} of 100", budget.peak());
            rest = &rest[r.len()..];
            rounds.push(r.len());
        }
        assert_eq!(rounds.iter().sum::<usize>(), items.len());
        assert!(rounds.iter().all(|&n| n <= 2), "{rounds:?}");
    }

    #[test]
    fn an_item_over_the_budget_is_taken_alone() {
        let budget = Budget::new(100);
        let r = take_round(
            &[500u64, 1],
            RoundLimits::DEFAULT,
            &budget,
            |&c| (c, ()),
            |&c, (), h| (c, h),
            |_| 0,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(budget.peak(), 500);
    }
}
