//! Queries x reference set -> matches, exact, on either backend. Both backends find the
//! raw pairs (`Hit`s); what to report is decided here, once, for both: the best dihedral
//! variant per (query, entry) and the K nearest.

pub mod mih;
pub mod mih_batch;
pub mod planner;
pub mod video;

pub use planner::{IndexChoice, Planner, Route};

use crate::cpu::hamming::{self, Hit};
use crate::gpu::GpuError;
use crate::gpu::matcher::{Request, SetView};
use crate::hash::FrameHashes;
use crate::refset::{Algo, RefSet};

/// Matching defaults from the reference: PDQ matches at distance <= 31. For pHash, 10 is
/// the top of the usual 8-10 range: a forensic sweep prefers a reviewed false positive to a
/// missed match. File digests match only exactly.
pub fn default_max_distance(algo: Algo) -> u32 {
    match algo {
        Algo::Pdq => 31,
        Algo::Phash => 10,
        Algo::Md5 | Algo::Sha1 | Algo::Sha256 => 0,
    }
}

/// PDQ queries below this quality are skipped (reference recommendation).
pub const DEFAULT_MIN_QUALITY: u8 = 50;

/// Query variants number the forms a query image is matched in: dihedral form `d` of the
/// whole image is `d`, and of the part inside its added borders (`--trim-borders`)
/// `TRIMMED + d`. Merging keeps the lowest number among equal distances, so the whole
/// image wins ties.
pub const TRIMMED: u8 = 8;

/// A variant's orientation (`original`, `rot90`, ...) and box (`whole` or `trimmed`), as
/// match records name them.
pub fn describe_variant(v: u8) -> (&'static str, &'static str) {
    let d = crate::hash::Dihedral::ALL[usize::from(v % TRIMMED)];
    let orientation = match d {
        crate::hash::Dihedral::Original => "original",
        d => d.name(),
    };
    (orientation, if v >= TRIMMED { "trimmed" } else { "whole" })
}

/// The hashes of all queries, flattened: hash `i` is `words[i * w..(i + 1) * w]`, belonging
/// to query `owner[i].0` as dihedral variant `owner[i].1` (0 = as is).
#[derive(Debug, Clone)]
pub struct QueryHashes {
    pub algo: Algo,
    pub words: Vec<u64>,
    pub owner: Vec<(u32, u8)>,
}

impl QueryHashes {
    pub fn new(algo: Algo) -> QueryHashes {
        QueryHashes {
            algo,
            words: vec![],
            owner: vec![],
        }
    }

    pub fn push(&mut self, query: u32, variant: u8, words: &[u64]) {
        assert_eq!(words.len(), self.algo.words());
        self.words.extend_from_slice(words);
        self.owner.push((query, variant));
    }

    /// Add a picture's hash of this algorithm as query `query`, in the forms it is
    /// matched in: PDQ at or above the quality floor, as is (variant `base`) and with
    /// `dihedral` in its 7 other orientations (`base + 1..`); pHash as is. `base` is 0 for
    /// the whole picture and [`TRIMMED`] for the part inside its added borders. Returns
    /// whether a hash was added (not when it is below the floor or was not computed).
    pub fn push_picture(&mut self, query: u32, base: u8, h: &FrameHashes, forms: Forms) -> bool {
        match (self.algo, h.pdq, h.phash) {
            (Algo::Pdq, Some(p), _) if p.quality.0 >= forms.min_quality => {
                let n = if forms.dihedral { 8 } else { 1 };
                for (v, hash) in p.hashes.iter().take(n).enumerate() {
                    self.push(query, base + v as u8, &hash.0);
                }
                true
            }
            (Algo::Phash, _, Some(ph)) => {
                self.push(query, base, &[ph.0]);
                true
            }
            _ => false,
        }
    }

    pub fn len(&self) -> usize {
        self.owner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }
}

/// The forms a picture is matched in: its dihedral variants (PDQ), and the PDQ quality
/// below which it is not matched at all.
#[derive(Debug, Clone, Copy)]
pub struct Forms {
    pub dihedral: bool,
    pub min_quality: u8,
}

#[derive(Debug, Clone, Copy)]
pub struct MatchParams {
    pub max_distance: u32,
    pub top_k: Option<usize>,
}

/// One reported match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    pub query: u32,
    pub distance: u32,
    pub entry: u64,
    pub variant: u8,
}

/// Merge variants (smallest distance, then lowest variant) and keep the K nearest per query
/// (by distance, then entry index). Sorted by query, distance, entry.
pub fn finalize(hits: &[Hit], q: &QueryHashes, params: &MatchParams) -> Vec<Match> {
    let mut all: Vec<Match> = hits
        .iter()
        .map(|h| {
            let (query, variant) = q.owner[h.query as usize];
            Match {
                query,
                distance: h.distance,
                entry: h.entry,
                variant,
            }
        })
        .collect();
    all.sort_by_key(|m| (m.query, m.entry, m.distance, m.variant));
    all.dedup_by_key(|m| (m.query, m.entry));
    all.sort();
    if let Some(k) = params.top_k {
        let mut kept = Vec::with_capacity(all.len());
        for group in all.chunk_by(|a, b| a.query == b.query) {
            kept.extend_from_slice(&group[..group.len().min(k)]);
        }
        all = kept;
    }
    all
}

/// A set as the GPU matcher sees it, keyed so that it stays resident while open.
pub fn set_view(set: &RefSet) -> SetView<'_> {
    SetView {
        key: set.instance_id(),
        words: set.words(),
        hash_words: set.algo().words(),
    }
}

/// Which backend scans: one kernel, no fallback (tests compare the two; runs go through a
/// [`Planner`]).
pub enum Matcher<'a> {
    Cpu,
    Gpu(&'a crate::gpu::GpuMatcher),
}

impl Matcher<'_> {
    pub fn run(
        &self,
        set: &RefSet,
        q: &QueryHashes,
        params: &MatchParams,
    ) -> Result<Vec<Match>, GpuError> {
        assert_eq!(set.algo(), q.algo, "query and set algorithms differ");
        if q.is_empty() || set.is_empty() {
            return Ok(vec![]);
        }
        let hits = match self {
            Matcher::Cpu => {
                let cutoffs = vec![params.max_distance.min(q.algo.bits() as u32); q.len()];
                hamming::scan(set.words(), &q.words, &cutoffs, q.algo.words())
            }
            Matcher::Gpu(g) => {
                let view = set_view(set);
                let req = Request {
                    queries: &q.words,
                    max_distance: params.max_distance,
                    top_k: params.top_k,
                };
                g.scan(&view, &req)?
            }
        };
        Ok(finalize(&hits, q, params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(query: u32, entry: u64, distance: u32) -> Hit {
        Hit {
            query,
            entry,
            distance,
        }
    }

    #[test]
    fn variants_merge_to_the_closest_and_top_k_breaks_ties_by_entry() {
        let mut q = QueryHashes::new(Algo::Phash);
        for v in 0..2 {
            q.push(0, v, &[0]);
        }
        q.push(1, 0, &[0]);
        let hits = [
            hit(0, 5, 9),
            hit(1, 5, 4),
            hit(0, 7, 4),
            hit(2, 3, 1),
            hit(2, 1, 1),
            hit(2, 2, 0),
        ];
        let all = finalize(
            &hits,
            &q,
            &MatchParams {
                max_distance: 10,
                top_k: None,
            },
        );
        assert_eq!(
            all.iter()
                .map(|m| (m.query, m.entry, m.distance, m.variant))
                .collect::<Vec<_>>(),
            [
                (0, 5, 4, 1),
                (0, 7, 4, 0),
                (1, 2, 0, 0),
                (1, 1, 1, 0),
                (1, 3, 1, 0)
            ]
        );
        let top = finalize(
            &hits,
            &q,
            &MatchParams {
                max_distance: 10,
                top_k: Some(2),
            },
        );
        assert_eq!(
            top.iter()
                .filter(|m| m.query == 1)
                .map(|m| m.entry)
                .collect::<Vec<_>>(),
            [2, 1]
        );
    }
}
