//! The writing side of a scan: hashed rounds are matched (several at once when they queue
//! up) and written, matches first, each file synced, so that what is on disk is always a
//! prefix of the work with nothing half-said.

use std::collections::HashMap;
use std::fs::File;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::record::{AnimationFrame, Hashes, MatchRecord, TrimmedPart};
use super::{Examined, Origin, ScanConfig, Summary, finish, record, video, write_synced};
use crate::engine::FrameHashes;
use crate::matching::{self, Forms, MatchParams, Planner, QueryHashes};
use crate::refset::RefSet;

/// A round with its frames' hashes, from the hashing stage to the writer.
pub(super) struct HashedRound {
    pub(super) round: Vec<Examined>,
    /// Frames each item had (hashes in `hashes`, in order).
    pub(super) counts: Vec<usize>,
    pub(super) hashes: Vec<FrameHashes>,
    pub(super) read_time: Duration,
    pub(super) hash_time: Duration,
}

/// Rounds the writer matches together at most: when matching falls behind, the rounds
/// waiting for it become one set of queries, one pass over each set instead of several.
const MATCH_ROUNDS_AT_ONCE: usize = 8;

/// The writing side: rounds are matched (several at once when they queue up) and written,
/// matches first, each file synced, so that what is on disk is always a prefix of the work
/// with nothing half-said.
pub(super) struct Sink<'a> {
    pub(super) cfg: &'a ScanConfig,
    pub(super) sets: &'a [RefSet],
    pub(super) planner: &'a Planner,
    pub(super) videos: video::Videos,
    pub(super) out: File,
    pub(super) mout: Option<File>,
    pub(super) summary: Summary,
    /// When this run started: records say how far into it they were written.
    pub(super) started: Instant,
    /// What the members of the containers still open became, by the container's key
    /// (its path text and steps).
    pub(super) contents: HashMap<(String, usize), record::Contents>,
    /// The last picture written and its PDQ hash: its thumbnails follow it.
    pub(super) last_picture: Option<(String, crate::hash::Pdq256)>,
}

/// A thumbnail further than this from its picture (PDQ bits) is worth a look: it may show
/// the picture as it was before an edit, or another picture.
pub const THUMBNAIL_MISMATCH_BITS: u32 = 31;

/// A hashed frame of a batch of rounds: (round, item of the round, where it came from,
/// hashes).
type Hashed = (usize, usize, Origin, FrameHashes);

impl Sink<'_> {
    fn stage(&mut self, name: &str, t: Duration) {
        *self
            .summary
            .stage_seconds
            .entry(name.to_string())
            .or_default() += t.as_secs_f64();
    }

    /// Match and write rounds until the hashing stage hangs up; returns itself for the
    /// summary.
    pub(super) fn drain(mut self, rx: mpsc::Receiver<HashedRound>) -> anyhow::Result<Self> {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MATCH_ROUNDS_AT_ONCE {
                match rx.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            self.rounds(batch)?;
        }
        Ok(self)
    }

    fn rounds(&mut self, batch: Vec<HashedRound>) -> anyhow::Result<()> {
        let t = Instant::now();
        let mut rounds = vec![];
        let mut hashed = vec![];
        for (r, h) in batch.into_iter().enumerate() {
            self.stage("read+decode", h.read_time);
            self.stage("hash", h.hash_time);
            let mut round = h.round;
            hashed.extend(self.spread(r, &mut round, &h.counts, h.hashes));
            rounds.push(round);
        }
        let mut mlines = self.frame_matches(&rounds, &hashed)?;
        self.stage("match", t.elapsed());
        let t = Instant::now();
        let mut lines = String::new();
        for (round, m) in rounds.into_iter().zip(mlines.iter_mut()) {
            lines += &self.records(round, m)?;
        }
        // Matches first: a file whose record is written has all its matches on disk.
        let cannot = |p: &std::path::Path| format!("cannot write {}", p.display());
        if let Some(m) = self.mout.as_mut() {
            write_synced(m, &mlines.concat())
                .with_context(|| cannot(&super::matches_path(&self.cfg.out)))?;
        }
        write_synced(&mut self.out, &lines).with_context(|| cannot(&self.cfg.out))?;
        self.stage("write", t.elapsed());
        Ok(())
    }

    /// Hand each item its hashes: into an image's record (animation frames in `frames`),
    /// or to its video's features. Returns every hashed frame, for matching.
    fn spread(
        &mut self,
        r: usize,
        round: &mut [Examined],
        counts: &[usize],
        hashes: Vec<FrameHashes>,
    ) -> Vec<Hashed> {
        let mut hashed = vec![];
        let mut it = hashes.into_iter();
        for (i, (e, &n)) in round.iter_mut().zip(counts).enumerate() {
            let hs: Vec<FrameHashes> = it.by_ref().take(n).collect();
            if let Some(video::VideoPart::Frames {
                id,
                numbers,
                frame_rate,
                ..
            }) = &e.video
            {
                let at = self.videos.add(*id, numbers, *frame_rate, &hs);
                self.summary.video_frames += at.len();
                hashed.extend(
                    at.into_iter()
                        .zip(hs)
                        .map(|(v, h)| (r, i, Origin::Video(v), h)),
                );
                continue;
            }
            if let Some(first) = hs.first() {
                e.record.hashes = Hashes::of(first);
                hashed.push((r, i, Origin::Image, *first));
            }
            // The part inside added borders comes second, before any animation frames.
            let mut rest = hs.get(1..).unwrap_or_default();
            if let (Some(region), Some(h)) = (e.trimmed, rest.first()) {
                e.record.trimmed = Some(TrimmedPart {
                    region,
                    hashes: Hashes::of(h),
                });
                hashed.push((r, i, Origin::Trimmed, *h));
                rest = &rest[1..];
            }
            if !rest.is_empty() {
                e.record.frames = rest
                    .iter()
                    .enumerate()
                    .map(|(index, h)| AnimationFrame {
                        index,
                        hashes: Hashes::of(h),
                    })
                    .collect();
                hashed.extend(
                    rest.iter()
                        .enumerate()
                        .map(|(k, h)| (r, i, Origin::Animation(k), *h)),
                );
            }
        }
        hashed
    }

    /// The batch's frames against every set, one pass per set, as match lines per round.
    fn frame_matches(
        &mut self,
        rounds: &[Vec<Examined>],
        hashed: &[Hashed],
    ) -> anyhow::Result<Vec<String>> {
        let mut mlines = vec![String::new(); rounds.len()];
        for set in self.sets.iter().filter(|s| !s.algo().is_digest()) {
            let found = match_frames(set, self.planner, hashed, self.cfg);
            for m in found {
                let (r, i, origin, _) = hashed[m.query as usize];
                let record = &rounds[r][i].record;
                let (variant, region) = matching::describe_variant(m.variant);
                let (frame, timestamp) = match origin {
                    Origin::Image | Origin::Trimmed => (None, None),
                    Origin::Animation(k) => (Some(k as u64), None),
                    Origin::Video(v) => (Some(v.number), Some(v.timestamp)),
                };
                let label = set.label_text(m.entry as usize);
                let source = crate::refset::exchange::source(&label);
                self.summary.count_match(source.as_ref());
                let line = serde_json::to_string(&MatchRecord {
                    path: record.path.clone(),
                    path_escaped: record.path_escaped,
                    depth: record.depth,
                    kind: set.algo().name(),
                    refset: set.path().to_string_lossy().into_owned(),
                    entry_id: set.ids()[m.entry as usize],
                    source,
                    label,
                    distance: m.distance,
                    variant: Some(variant),
                    region: self.cfg.decode.trim_borders.then_some(region),
                    frame,
                    timestamp,
                })?;
                mlines[r] += &format!("{line}\n");
            }
        }
        Ok(mlines)
    }

    /// The records of the files this round completes (a video only with its last piece,
    /// after its whole-video matches, which go to `mlines`), counted and shown.
    fn records(&mut self, round: Vec<Examined>, mlines: &mut String) -> anyhow::Result<String> {
        let mut lines = String::new();
        let s = &self.summary;
        let (before_err, before_bytes) = (s.errors(), s.bytes_read);
        let mut n = 0;
        for mut e in round {
            if let Some(video::VideoPart::Frames { id, last, .. }) = e.video {
                if !last {
                    continue;
                }
                let found =
                    self.videos
                        .finish(id, &mut e.record, self.sets, self.planner, self.cfg)?;
                for line in found {
                    self.summary.count_match(None);
                    *mlines += &format!("{line}\n");
                }
            }
            n += 1;
            self.account(&mut e.record);
            for m in digest_matches(&e.record, self.sets) {
                self.summary.count_match(m.source.as_ref());
                *mlines += &format!("{}\n", serde_json::to_string(&m)?);
            }
            let mut r = finish(e.record, &mut self.summary);
            r.elapsed_s = Some((self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
            lines += &format!("{}\n", record::line(self.cfg.format, &r));
        }
        let s = &self.summary;
        self.cfg.progress.add(
            n,
            (s.errors() - before_err) as u64,
            s.bytes_read - before_bytes,
        );
        Ok(lines)
    }
}

impl Sink<'_> {
    /// Count a member into its container's contents, hand a container what its members
    /// became, and compare a thumbnail with its picture.
    fn account(&mut self, r: &mut record::FileRecord) {
        if r.thumbnail {
            self.compare_thumbnail(r);
            return;
        }
        let depth = r.depth.unwrap_or(0);
        if let Some(c) = &r.container {
            let key = (c.clone(), depth - 1);
            self.contents.entry(key).or_default().count(r);
        }
        if r.contents.is_some() {
            let mine = self.contents.remove(&(r.path.clone(), depth));
            r.contents = Some(mine.unwrap_or_default());
        }
        self.last_picture = r.hashes.pdq.map(|h| (r.path.clone(), h));
    }

    /// A thumbnail unlike its picture, as found and inside the borders it added (a
    /// letterboxed thumbnail of a wide photo is normal), gets a warning.
    fn compare_thumbnail(&mut self, t: &mut record::FileRecord) {
        let Some((parent, pdq)) = &self.last_picture else {
            return;
        };
        if t.container.as_ref() != Some(parent) {
            return;
        }
        let forms = [t.hashes.pdq, t.trimmed.and_then(|p| p.hashes.pdq)];
        let Some(d) = forms.iter().flatten().map(|h| h.distance(pdq).0).min() else {
            return;
        };
        if d > THUMBNAIL_MISMATCH_BITS {
            t.warnings.push(format!(
                "thumbnail_mismatch: {d} bits from its picture (over {THUMBNAIL_MISMATCH_BITS}): it may show the picture before an edit, or another picture"
            ));
            self.summary.containers.thumbnail_mismatches += 1;
        }
    }
}

/// A file's digests against the digest sets: exact lookups in the mapped, sorted arrays.
/// Returns match lines.
fn digest_matches(r: &record::FileRecord, sets: &[RefSet]) -> Vec<MatchRecord> {
    let mut found = vec![];
    for set in sets.iter().filter(|s| s.algo().is_digest()) {
        let Some(words) = r
            .digest(set.algo())
            .and_then(|hex| crate::refset::input::digest_words(hex, set.algo()))
        else {
            continue;
        };
        for entry in set.find_exact(&words) {
            let label = set.label_text(entry);
            found.push(MatchRecord {
                path: r.path.clone(),
                path_escaped: r.path_escaped,
                depth: r.depth,
                kind: set.algo().name(),
                refset: set.path().to_string_lossy().into_owned(),
                entry_id: set.ids()[entry],
                source: crate::refset::exchange::source(&label),
                label,
                distance: 0,
                variant: None,
                region: None,
                frame: None,
                timestamp: None,
            });
        }
    }
    found
}

/// A batch's hashes against one set; query `i` is `hashed[i]`.
fn match_frames(
    set: &RefSet,
    planner: &Planner,
    hashed: &[Hashed],
    cfg: &ScanConfig,
) -> Vec<matching::Match> {
    let mut q = QueryHashes::new(set.algo());
    let forms = Forms {
        dihedral: cfg.dihedral,
        min_quality: cfg.min_quality,
    };
    for (i, (_, _, origin, h)) in hashed.iter().enumerate() {
        // Video frames meet sets of video frames as whole videos (vPDQ rule), not frame by
        // frame; see `video::Videos::finish`.
        if set.has_videos() && matches!(origin, Origin::Video(_)) {
            continue;
        }
        // A trimmed part is a form of its image: same query, variants from TRIMMED on.
        let (query, base) = match origin {
            Origin::Trimmed => (i - 1, matching::TRIMMED),
            _ => (i, 0),
        };
        q.push_picture(query as u32, base, h, forms);
    }
    let params = MatchParams {
        max_distance: cfg
            .max_distance
            .unwrap_or_else(|| matching::default_max_distance(set.algo())),
        top_k: None,
    };
    planner.run(set, &q, &params)
}
