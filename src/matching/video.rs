//! Video-to-video matching with the vPDQ rule (../shared/spec/vpdq.md): each side's distinct
//! hashes of quality >= F; q% = share of the query's hashes within D of some hash of the
//! compared video, c% the other way; a match when q% >= Pq and c% >= Pc.
//!
//! Against a reference set built from vPDQ files, all query videos go to the matcher in one
//! run over the whole set; the per-video shares are then counted from the hits, so the cost
//! is one range search, not one comparison per pair of videos.

use std::collections::{BTreeMap, BTreeSet};

use super::{MatchParams, Planner, QueryHashes};
use crate::hash::Pdq256;
use crate::refset::{Algo, RefSet};
use crate::video::Feature;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpdqParams {
    /// D: hashes at most this far apart match.
    pub distance: u32,
    /// F: hashes below this quality take no part.
    pub min_quality: u8,
    /// Pq and Pc, in percent.
    pub query_pct: f64,
    pub compared_pct: f64,
}

impl Default for VpdqParams {
    fn default() -> VpdqParams {
        VpdqParams {
            distance: 31,
            min_quality: 50,
            query_pct: 80.0,
            compared_pct: 0.0,
        }
    }
}

/// The distinct hashes of quality >= `min_quality`, sorted.
pub fn distinct(features: &[Feature], min_quality: u8) -> Vec<Pdq256> {
    let set: BTreeSet<[u64; 4]> = features
        .iter()
        .filter(|f| f.quality >= min_quality)
        .map(|f| f.hash.0)
        .collect();
    set.into_iter().map(Pdq256).collect()
}

/// Matched and total distinct hashes on each side of one pair of videos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PairScore {
    pub query_hits: usize,
    pub query_total: usize,
    pub compared_hits: usize,
    pub compared_total: usize,
}

fn pct(hits: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        hits as f64 * 100.0 / total as f64
    }
}

impl PairScore {
    pub fn query_pct(&self) -> f64 {
        pct(self.query_hits, self.query_total)
    }

    pub fn compared_pct(&self) -> f64 {
        pct(self.compared_hits, self.compared_total)
    }

    pub fn is_match(&self, p: &VpdqParams) -> bool {
        self.query_total > 0
            && self.compared_total > 0
            && self.query_pct() >= p.query_pct
            && self.compared_pct() >= p.compared_pct
    }

    /// Set the shares (to 2 decimals, as the reference prints them), the decision and the
    /// counts behind them on a JSON output line.
    pub fn put_json(&self, p: &VpdqParams, line: &mut serde_json::Value) {
        let two = |x: f64| (x * 100.0).round() / 100.0;
        line["query_match_pct"] = two(self.query_pct()).into();
        line["compared_match_pct"] = two(self.compared_pct()).into();
        line["match"] = self.is_match(p).into();
        line["query_hashes"] = serde_json::json!([self.query_hits, self.query_total]);
        line["compared_hashes"] = serde_json::json!([self.compared_hits, self.compared_total]);
    }
}

/// The rule applied to two videos directly, every hash against every hash: the
/// definition that the set-wide search must reproduce.
pub fn compare(query: &[Pdq256], compared: &[Pdq256], distance: u32) -> PairScore {
    let near = |a: &Pdq256, side: &[Pdq256]| side.iter().any(|b| a.distance(b).0 <= distance);
    PairScore {
        query_hits: query.iter().filter(|q| near(q, compared)).count(),
        query_total: query.len(),
        compared_hits: compared.iter().filter(|c| near(c, query)).count(),
        compared_total: compared.len(),
    }
}

/// How many distinct hashes of quality >= F each video of a set holds (the c% totals).
/// Entries of a vPDQ set are already distinct per video (`refs build` merges only within
/// a video, keeping the best quality).
pub struct VideoTotals {
    pub min_quality: u8,
    pub per_video: Vec<usize>,
}

impl VideoTotals {
    pub fn new(set: &RefSet, min_quality: u8) -> VideoTotals {
        let mut per_video = vec![0; set.video_count()];
        for (i, &v) in set.video_of().iter().enumerate() {
            if v != u32::MAX && passes(set, i, min_quality) {
                per_video[v as usize] += 1;
            }
        }
        VideoTotals {
            min_quality,
            per_video,
        }
    }
}

/// A set without quality (a plain list merged in) does not filter.
fn passes(set: &RefSet, entry: usize, min_quality: u8) -> bool {
    set.quality(entry).is_none_or(|q| q >= min_quality)
}

/// One query video against one video of the set, for every pair with a hit either way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoMatch {
    pub query: usize,
    pub video: usize,
    pub score: PairScore,
}

/// Every query (its `distinct` hashes) against every video of `set`, in one matcher run.
/// Pairs without a single hit are left out: their shares are 0.
pub fn against_set(
    set: &RefSet,
    totals: &VideoTotals,
    planner: &Planner,
    queries: &[Vec<Pdq256>],
    p: &VpdqParams,
) -> Vec<VideoMatch> {
    assert_eq!(set.algo(), Algo::Pdq, "vPDQ sets hold PDQ hashes");
    assert_eq!(totals.min_quality, p.min_quality);
    let mut q = QueryHashes::new(Algo::Pdq);
    let mut video_of_hash = vec![];
    for (v, hashes) in queries.iter().enumerate() {
        for h in hashes {
            q.push(video_of_hash.len() as u32, 0, &h.0);
            video_of_hash.push(v);
        }
    }
    let params = MatchParams {
        max_distance: p.distance,
        top_k: None,
    };
    let hits = planner.run(set, &q, &params);
    let video_of = set.video_of();
    // (query video, set video) -> (query hashes hit, set entries hit)
    let mut pairs: BTreeMap<(usize, usize), (BTreeSet<u32>, BTreeSet<u64>)> = BTreeMap::new();
    for m in hits {
        let e = m.entry as usize;
        let v = video_of.get(e).copied().unwrap_or(u32::MAX);
        if v == u32::MAX || !passes(set, e, p.min_quality) {
            continue;
        }
        let pair = pairs
            .entry((video_of_hash[m.query as usize], v as usize))
            .or_default();
        pair.0.insert(m.query);
        pair.1.insert(m.entry);
    }
    pairs
        .into_iter()
        .map(|((query, video), (qh, ch))| VideoMatch {
            query,
            video,
            score: PairScore {
                query_hits: qh.len(),
                query_total: queries[query].len(),
                compared_hits: ch.len(),
                compared_total: totals.per_video[video],
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seed: u64) -> Pdq256 {
        let mut w = crate::hash::random_words(seed);
        Pdq256([
            w.next().unwrap(),
            w.next().unwrap(),
            w.next().unwrap(),
            w.next().unwrap(),
        ])
    }

    fn feature(hash: Pdq256, quality: u8) -> Feature {
        Feature {
            frame: 0,
            quality,
            hash,
            timestamp: 0.0,
        }
    }

    #[test]
    fn distinct_drops_low_quality_and_repeats() {
        let f = [
            feature(h(1), 100),
            feature(h(1), 90),
            feature(h(2), 49),
            feature(h(3), 50),
        ];
        let d = distinct(&f, 50);
        assert_eq!(d.len(), 2);
        assert!(d.contains(&h(1)) && d.contains(&h(3)));
    }

    #[test]
    fn shares_count_each_side_separately() {
        // Query: a, b, c, d; compared: a', x where a' is 5 bits from a. q% = 25, c% = 50.
        let a = h(10);
        let mut a2 = a;
        for bit in [0, 60, 100, 200, 255] {
            a2.0[bit / 64] ^= 1 << (bit % 64);
        }
        let s = compare(&[a, h(11), h(12), h(13)], &[a2, h(14)], 31);
        assert_eq!(
            (
                s.query_hits,
                s.query_total,
                s.compared_hits,
                s.compared_total
            ),
            (1, 4, 1, 2)
        );
        assert_eq!((s.query_pct(), s.compared_pct()), (25.0, 50.0));
        let p = VpdqParams::default();
        assert!(!s.is_match(&p));
        assert!(s.is_match(&VpdqParams {
            query_pct: 25.0,
            ..p
        }));
        // Exactly D apart matches; D + 1 does not.
        assert_eq!(compare(&[a], &[a2], 5).query_hits, 1);
        assert_eq!(compare(&[a], &[a2], 4).query_hits, 0);
        assert!(!compare(&[], &[a], 31).is_match(&VpdqParams {
            query_pct: 0.0,
            ..p
        }));
    }
}
