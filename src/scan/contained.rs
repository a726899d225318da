//! Containers in a scan: one container on disk is listed on a thread of its own (the
//! `sources::container::Expander`: decompression of a stream cannot be shared), while the
//! members it hands on are read, decoded and hashed on all cores as files are. Each member
//! reserves its memory before it is handed on, so a container of any size is swept within
//! the budget; its own record comes last, after all its members.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use rayon::prelude::*;

use super::examine::{caught, examine_entry};
use super::{Examined, ScanConfig, record, stopped, video};
use crate::pipeline::{self, Budget, Reservation};
use crate::sources::container::{Content, Entry, Expander, Kind};
use crate::sources::location::Location;

/// Entries waiting between the lister and the workers at most (their memory is reserved).
const QUEUED: usize = 1024;

/// Push a record and the records that follow it (thumbnails); false once the consumer
/// has gone.
pub(super) fn push(rounds: &mut video::Rounds, mut e: Examined) -> bool {
    let extra = std::mem::take(&mut e.extra);
    rounds.push(e) && extra.into_iter().all(|t| rounds.push(t))
}

/// What holding an entry costs until it is hashed: its bytes, and its decoding when the
/// header says (decoding beyond that is added when it happens).
fn cost(e: &Entry, cfg: &ScanConfig) -> u64 {
    match &e.content {
        Content::Bytes(b) => {
            let size = crate::decode::planned_size_of_bytes(b, &cfg.decode);
            pipeline::image_cost(b.len() as u64, size, cfg.decode.max_pixels)
        }
        Content::Member(m) => m.size().saturating_mul(2),
        // Its first bytes were read when it was listed: the decoding is known too.
        Content::Disk(d) => {
            let size = crate::decode::planned_size_of_bytes(&d.head, &cfg.decode);
            pipeline::image_cost(d.size(), size, cfg.decode.max_pixels)
        }
        Content::Pixels { stored, frame } => {
            stored.len() as u64 + frame.as_ref().map_or(0, |f| pipeline::frame_cost([f]))
        }
        _ => 0,
    }
}

/// Open the container `path` and send its members, then its own record, into `rounds`.
/// Members an earlier run recorded (`done`) are passed over. False once the consumer has
/// gone.
pub(super) fn expand(
    path: &Path,
    kind: Kind,
    cfg: &ScanConfig,
    budget: &Arc<Budget>,
    done: &HashSet<String>,
    rounds: &mut video::Rounds,
) -> bool {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(Entry, Reservation)>(QUEUED);
        scope.spawn(move || list(path, kind, cfg, budget, done, tx));
        let step = rayon::current_num_threads().max(1) * 4;
        let round_bytes = pipeline::RoundLimits::within(cfg.max_memory, cfg.round_pixels).pixels
            as u64
            * pipeline::DECODE_BYTES_PER_PIXEL;
        let mut open = true;
        let mut next = rx.recv().ok();
        while let Some(first) = next.take() {
            let mut batch = vec![first];
            // Enough for every core, then whatever else is already waiting.
            while batch.len() < step {
                match rx.recv_timeout(Duration::from_millis(5)) {
                    Ok(e) => batch.push(e),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            // No more than a round's pixels decoded at once: memory in use is reused,
            // not freshly mapped (and zeroed) batch after batch.
            let mut held: u64 = batch.iter().map(|(_, h)| h.bytes()).sum();
            while batch.len() < pipeline::ROUND_FILES && held < round_bytes {
                match rx.try_recv() {
                    Ok(e) => {
                        held += e.1.bytes();
                        batch.push(e);
                    }
                    Err(_) => break,
                }
            }
            let n = batch.len() as u64;
            let examined: Vec<Examined> = batch
                .into_par_iter()
                .map(|(entry, hold)| {
                    let mut e = examine_entry(entry, cfg);
                    e.hold = hold;
                    let held = pipeline::frame_cost(&e.frames)
                        + pipeline::frame_cost(e.extra.iter().flat_map(|x| &x.frames));
                    e.hold.resize_to(held);
                    e
                })
                .collect();
            cfg.progress.add_read(n);
            if !push_batch(rounds, examined, cfg) {
                open = false;
                break;
            }
            match rx.try_recv() {
                Ok(e) => next = Some(e),
                // Nothing waiting: what is gathered goes on now, so that the memory it
                // holds comes back for the lister.
                Err(TryRecvError::Empty) => {
                    if !rounds.flush() {
                        open = false;
                        break;
                    }
                    next = rx.recv().ok();
                }
                Err(TryRecvError::Disconnected) => break,
            }
        }
        // The lister may be waiting to hand on more: hang up so that it stops.
        drop(rx);
        open && rounds.flush()
    })
}

/// Push a batch of examined entries. Videos are decoded before the next container record
/// (a container's record follows all its members) and before the batch ends (a lister may
/// be waiting for a video's spool to go).
fn push_batch(rounds: &mut video::Rounds, examined: Vec<Examined>, cfg: &ScanConfig) -> bool {
    let mut videos = vec![];
    for e in examined {
        if matches!(e.video, Some(video::VideoPart::Pending { .. })) {
            videos.push(e);
            continue;
        }
        if e.record.contents.is_some() && !rounds.stream_all(std::mem::take(&mut videos), cfg) {
            return false;
        }
        if !push(rounds, e) {
            return false;
        }
    }
    rounds.stream_all(videos, cfg)
}

/// The lister's side: walk the container, reserving each entry's memory before handing it
/// on. A panic inside a container's reader becomes the container's error record.
fn list(
    path: &Path,
    kind: Kind,
    cfg: &ScanConfig,
    budget: &Arc<Budget>,
    done: &HashSet<String>,
    tx: mpsc::SyncSender<(Entry, Reservation)>,
) {
    let is_done = |l: &Location| done.contains(&l.key());
    let mut emit = |e: Entry| {
        let hold = budget.reserve(cost(&e, cfg));
        tx.send((e, hold)).is_ok() && !stopped(cfg)
    };
    let walked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut x = Expander::new(cfg.containers, cfg.digests, &is_done, &mut emit);
        x.file(path, kind);
    }));
    if walked.is_err() {
        let e = caught(&Location::file(path), "container");
        let entry = Entry {
            location: Location::file(path),
            size: None,
            mtime: None,
            content: Content::Refused {
                encrypted: false,
                reason: e.record.reason.unwrap_or_default(),
            },
            fs: None,
        };
        let _ = tx.send((entry, Reservation::default()));
    }
}

/// The summary's count of containers and of the files found inside them (thumbnails
/// apart).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ContainerCounts {
    /// Containers listed to the end (`opened` records).
    pub opened: usize,
    /// Containers that could not be listed, or not to the end.
    pub failed: usize,
    /// Files found inside containers, and what became of them.
    pub entries: usize,
    pub hashed: usize,
    pub skipped: usize,
    pub refused: usize,
    pub encrypted: usize,
    /// Thumbnails found inside pictures, and those unlike their picture.
    pub thumbnails: usize,
    pub thumbnail_mismatches: usize,
}

impl ContainerCounts {
    pub(super) fn count(&mut self, r: &record::FileRecord) {
        if r.thumbnail {
            self.thumbnails += 1;
            return;
        }
        if r.contents.is_some() {
            match r.status {
                record::Status::Opened => self.opened += 1,
                _ => self.failed += 1,
            }
        }
        if r.depth.is_none() {
            return;
        }
        self.entries += 1;
        match r.status {
            record::Status::Ok => self.hashed += 1,
            record::Status::Skipped => self.skipped += 1,
            record::Status::Error => self.refused += 1,
            record::Status::Opened => {}
        }
        if r.is_encrypted() {
            self.encrypted += 1;
        }
    }
}
