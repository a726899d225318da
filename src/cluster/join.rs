//! The self-join: every pair of hashes within a distance, compared exhaustively by the
//! matchers' own kernels (CPU `hamming::scan`, or the GPU matcher with the hashes resident).
//!
//! On the CPU each block of queries is compared only with the hashes from its own start on,
//! so each pair is compared once (n²/2 comparisons). The GPU compares each block with all
//! hashes (a resident set is uploaded once) and keeps the pairs in order. With dihedral
//! variants a pair counts when any form of either hash is within the distance of the
//! other's original, so every block is compared with all hashes in both modes.

use crate::cpu::hamming::{self, Hit};
use crate::gpu::GpuMatcher;
use crate::gpu::matcher::{Request, SetView};
use crate::matching::mih_batch::{SelfJoin, search_batch};
use crate::matching::{Planner, Route};
use crate::refset::index::{self, IndexView, Plan, Shape};

/// Queries per block: enough work per call to keep all cores (or the GPU) busy, few enough
/// that one block's pairs stay small.
pub(super) const BLOCK: usize = 4096;

/// A pair of distinct hash indices `a < b` and their distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    pub distance: u32,
}

/// What the join compares.
pub struct JoinInput<'a> {
    /// `w` words per hash.
    pub words: &'a [u64],
    pub w: usize,
    /// Seven other forms per hash (`7 * w` words each), for dihedral matching.
    pub variants: Option<&'a [u64]>,
    pub max_distance: u32,
    /// Identifies these hashes to the GPU matcher so that they are uploaded once.
    pub key: u64,
}

impl JoinInput<'_> {
    fn len(&self) -> usize {
        self.words.len() / self.w
    }

    /// Query hashes of block `[start, end)`: each original, then its variants.
    fn queries(&self, start: usize, end: usize) -> (Vec<u64>, usize) {
        let w = self.w;
        let Some(v) = self.variants else {
            return (self.words[start * w..end * w].to_vec(), 1);
        };
        let mut q = Vec::with_capacity((end - start) * 8 * w);
        for i in start..end {
            q.extend_from_slice(&self.words[i * w..(i + 1) * w]);
            q.extend_from_slice(&v[i * 7 * w..(i + 1) * 7 * w]);
        }
        (q, 8)
    }
}

/// Calls `each` with the pairs of every block (no pair twice within a block; across blocks
/// only in dihedral mode, where the caller keeps the smallest distance). Returns the number
/// of hash comparisons made. A GPU failure moves that block and the rest to the CPU (the
/// planner's one policy).
pub fn self_join(input: &JoinInput, planner: &Planner, mut each: impl FnMut(&[Pair])) -> u64 {
    if let Some(c) = through_index(input, planner, &mut each) {
        return c;
    }
    let n = input.len();
    let t = std::time::Instant::now();
    let mut comparisons = 0u64;
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let (queries, forms) = input.queries(start, end);
        // Against all hashes unless the pairs are symmetric and the CPU can skip the rest.
        let from = if input.variants.is_none() && planner.gpu().is_none() {
            start
        } else {
            0
        };
        // A GPU failure here leaves `from` at 0: the CPU compares more, finds the same.
        let hits = planner.either(
            |g| gpu_hits(g, input, &queries),
            || {
                let cutoffs = vec![input.max_distance; queries.len() / input.w];
                hamming::scan(&input.words[from * input.w..], &queries, &cutoffs, input.w)
            },
        );
        comparisons += (queries.len() / input.w) as u64 * (n - from) as u64;
        each(&pairs(&hits, start, from, forms));
        start = end;
    }
    let route = match planner.gpu() {
        Some(_) => Route::GpuSweep,
        None => Route::CpuSweep,
    };
    planner.record(route, n, t.elapsed().as_secs_f64());
    comparisons
}

/// The join as queries of every hash (and its forms) through a multi-index built over
/// the hashes, when the planner's model says that beats the sweep: `None` otherwise.
/// Each block's pairs are found from all hashes, so a pair is kept in its first hash's
/// block (the sweep's own rule), or with variants from both sides, as the sweep does.
fn through_index(
    input: &JoinInput,
    planner: &Planner,
    each: &mut impl FnMut(&[Pair]),
) -> Option<u64> {
    let n = input.len();
    let bits = (input.w * 64) as u32;
    let plan = Plan::best_shaped(bits, n as u64, input.max_distance, Shape::JOIN)?;
    let forms = if input.variants.is_some() { 8 } else { 1 };
    // The index is asked once per hash and form; the sweep compares each pair once, or
    // every form with every hash.
    let mih_cost =
        (n * forms) as f64 * index::query_cost(&plan.tables, n as u64, input.max_distance);
    let sweep_queries = if forms == 1 { n.div_ceil(2) } else { n * forms };
    if !planner.prefers_index(mih_cost, n as u64, sweep_queries) {
        return None;
    }
    let t = std::time::Instant::now();
    let built = index::build_all(&plan, input.words, input.w);
    let view = IndexView::of(&plan, &built);
    let mut compared = 0u64;
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let (queries, forms) = input.queries(start, end);
        // Without variants query `q` is hash `start + q`, and its pairs with lower hashes
        // were found from those: skipped before they are compared.
        let own = (forms == 1).then_some(SelfJoin {
            first: start as u64,
        });
        let found = search_batch(
            &view,
            input.words,
            &queries,
            input.max_distance,
            input.w,
            own,
        );
        compared += found.compared;
        each(&pairs(&found.hits, start, 0, forms));
        start = end;
    }
    planner.record(Route::Mih, n * forms, t.elapsed().as_secs_f64());
    Some(compared)
}

fn gpu_hits(
    g: &GpuMatcher,
    input: &JoinInput,
    queries: &[u64],
) -> Result<Vec<Hit>, crate::gpu::GpuError> {
    let view = SetView {
        key: input.key,
        words: input.words,
        hash_words: input.w,
    };
    let req = Request {
        queries,
        max_distance: input.max_distance,
        top_k: None,
    };
    g.scan(&view, &req)
}

/// Hits of a block (query `q` is hash `start + q / forms`, entry `e` is hash `from + e`) as
/// ordered pairs of distinct hashes, each once with its smallest distance.
fn pairs(hits: &[Hit], start: usize, from: usize, forms: usize) -> Vec<Pair> {
    let mut out: Vec<Pair> = hits
        .iter()
        .filter_map(|h| {
            let q = (start + h.query as usize / forms) as u32;
            let e = (from as u64 + h.entry) as u32;
            (q != e).then(|| Pair {
                a: q.min(e),
                b: q.max(e),
                distance: h.distance,
            })
        })
        // Without variants a pair found from both of its hashes is kept from the first.
        .filter(|p| forms > 1 || p.a as usize >= start)
        .collect();
    out.sort_unstable();
    out.dedup_by_key(|p| (p.a, p.b));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::IndexChoice;

    fn brute(words: &[u64], w: usize, d: u32) -> Vec<Pair> {
        let n = words.len() / w;
        let mut out = vec![];
        for a in 0..n {
            for b in a + 1..n {
                let dist = (0..w)
                    .map(|k| (words[a * w + k] ^ words[b * w + k]).count_ones())
                    .sum();
                if dist <= d {
                    out.push(Pair {
                        a: a as u32,
                        b: b as u32,
                        distance: dist,
                    });
                }
            }
        }
        out
    }

    #[test]
    fn the_cpu_join_finds_every_pair_once_across_blocks() {
        // More hashes than one block, in near-duplicate runs so that pairs cross blocks.
        let mut words = vec![];
        let mut rng = crate::hash::random_words(3);
        for i in 0..(BLOCK + 900) as u64 {
            let base = i / 5;
            words.push(base.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (rng.next().unwrap() & 0x11));
        }
        let input = JoinInput {
            words: &words,
            w: 1,
            variants: None,
            max_distance: 3,
            key: u64::MAX,
        };
        let mut found = vec![];
        let sweep = Planner::cpu().index(IndexChoice::Flat);
        let comparisons = self_join(&input, &sweep, |p| found.extend_from_slice(p));
        found.sort();
        assert_eq!(found, brute(&words, 1, 3));
        assert!(!found.is_empty());
        // Through an index built over the hashes: the same pairs, each once.
        let mut through = vec![];
        let mih = Planner::cpu().index(IndexChoice::Mih);
        self_join(&input, &mih, |p| through.extend_from_slice(p));
        through.sort();
        assert_eq!(through, found);
        assert!(mih.stats().contains_key("mih"));
        // Each block against the hashes from its own start on: n²/2 for many blocks.
        let (n, b) = (words.len() as u64, BLOCK as u64);
        assert_eq!(comparisons, b * n + (n - b) * (n - b));
    }
}
