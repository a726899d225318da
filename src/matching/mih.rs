//! Exact search through a set's multi-index (`refset/index.rs`): every entry within a query
//! hash's cutoff, found without comparing the query with every entry. Same pairs, same
//! `Hit`s as the sweep (`cpu/hamming.rs`); `tests/mih.rs` holds the two to that.
//!
//! Per query hash and table: the query's range splits into a slot (its top bits) and low
//! bits. Every slot within the table's radius is read (`ball(slot_bits, r)` directory
//! reads), and each packed entry in it whose low bits keep the whole range within the
//! radius is a candidate, compared in full with the query. An entry found by an earlier
//! table is not reported again: a candidate counts only in the first table whose radius
//! it lies within, which is decided from the hashes alone, so no set of seen entries is
//! kept. A query whose slots hold more than a share of the list (a skewed list: many
//! near-identical or flat hashes) is swept instead, so no query costs much more than a
//! sweep.

use rayon::prelude::*;

use crate::cpu::hamming::{self, Hit};
use crate::refset::index::{
    IndexView, TableView, expected_work, key, query_cost, radii, sweep_cost,
};

/// A query is swept when its slots hold more than 4 times the entries a uniform list
/// would put there plus `1 / SCAN_SHARE` of the list, or when its candidates pass 4 times
/// their expected number plus `1 / CANDIDATE_SHARE` of the list (the work done so far
/// is dropped): either way the skew would cost more than a sweep, and what it wastes is
/// bounded by a fraction of one.
const SCAN_SHARE: f64 = 32.0;
const CANDIDATE_SHARE: f64 = 64.0;

/// Query hashes handed to one task: enough to amortise the task, few enough to share
/// the work evenly on any core count.
const TASK: usize = 16;

/// What a search found, and the hashes it compared in full to find it.
#[derive(Debug, Default)]
pub struct Searched {
    pub hits: Vec<Hit>,
    /// Candidates compared in full, plus the entries of every swept query's sweep.
    pub compared: u64,
    /// Query hashes swept because their slots held too much of the list.
    pub swept: usize,
}

/// Batches of at least this many query hashes with one cutoff are joined
/// (`mih_batch.rs`); fewer are probed one at a time.
const JOIN_FROM: usize = 64;

/// Every pair (query hash, entry) within the query's cutoff, as `hamming::scan` finds
/// them (in another order; callers sort): joined as a batch where there are enough
/// queries, else one query at a time.
pub fn search(
    index: &IndexView,
    set: &[u64],
    queries: &[u64],
    cutoffs: &[u32],
    w: usize,
) -> Searched {
    match cutoffs.first() {
        Some(&c) if cutoffs.len() >= JOIN_FROM && cutoffs.iter().all(|&x| x == c) => {
            super::mih_batch::search_batch(index, set, queries, c, w, None)
        }
        _ => search_each(index, set, queries, cutoffs, w),
    }
}

/// The hits `finalize` needs for `params`. With `top_k` and a distance past the one the
/// index was chosen for, the radius grows: every query is searched at the served
/// distance first, and only the pictures with fewer than K distinct entries there are
/// searched again at the full distance. A picture with K entries within the served
/// distance has its K nearest among them, so the answer is the full search's.
pub fn search_top(
    index: &IndexView,
    set: &[u64],
    q: &super::QueryHashes,
    params: &super::MatchParams,
) -> Vec<Hit> {
    let (w, d) = (
        q.algo.words(),
        params.max_distance.min(q.algo.bits() as u32),
    );
    let first = index.header.served;
    let Some(k) = params.top_k.filter(|_| d > first) else {
        return search(index, set, &q.words, &vec![d; q.len()], w).hits;
    };
    let near = search(index, set, &q.words, &vec![first; q.len()], w).hits;
    let mut entries: Vec<(u32, u64)> = near
        .iter()
        .map(|h| (q.owner[h.query as usize].0, h.entry))
        .collect();
    entries.sort_unstable();
    entries.dedup();
    let mut enough = std::collections::HashSet::new();
    for group in entries.chunk_by(|a, b| a.0 == b.0) {
        if group.len() >= k {
            enough.insert(group[0].0);
        }
    }
    let again: Vec<u32> = (0..q.len() as u32)
        .filter(|&i| !enough.contains(&q.owner[i as usize].0))
        .collect();
    let mut hits: Vec<Hit> = near
        .into_iter()
        .filter(|h| enough.contains(&q.owner[h.query as usize].0))
        .collect();
    if !again.is_empty() {
        let words: Vec<u64> = again
            .iter()
            .flat_map(|&i| &q.words[i as usize * w..(i as usize + 1) * w])
            .copied()
            .collect();
        // Past the served distance the index can cost more than a sweep: the cheaper.
        let n = (set.len() / w) as u64;
        let cut = vec![d; again.len()];
        let far = match query_cost(&index.table_shapes(), n, d) < sweep_cost(n) {
            true => search(index, set, &words, &cut, w).hits,
            false => hamming::scan(set, &words, &cut, w),
        };
        hits.extend(far.into_iter().map(|h| Hit {
            query: again[h.query as usize],
            ..h
        }));
    }
    hits
}

/// [`search`] one query at a time: each probe and candidate a random read.
pub fn search_each(
    index: &IndexView,
    set: &[u64],
    queries: &[u64],
    cutoffs: &[u32],
    w: usize,
) -> Searched {
    let n = set.len() / w;
    let parts = cutoffs.par_chunks(TASK).enumerate().map(|(c, cut)| {
        let mut out = (Searched::default(), vec![]);
        let mut probe = Probe::default();
        for (j, &cutoff) in cut.iter().enumerate() {
            let qi = c * TASK + j;
            let ask = Ask {
                index,
                set,
                w,
                q: &queries[qi * w..(qi + 1) * w],
                cutoff,
                qi: qi as u32,
                n,
            };
            if !probe.one_fast(&ask, &mut out.0) {
                out.1.push(qi as u32);
            }
        }
        out
    });
    finish(parts, set, queries, cutoffs, w)
}

/// The chunks' finds joined, then the queries they left to the sweep swept.
pub(super) fn finish(
    parts: impl ParallelIterator<Item = (Searched, Vec<u32>)>,
    set: &[u64],
    queries: &[u64],
    cutoffs: &[u32],
    w: usize,
) -> Searched {
    let (mut found, swept) = parts.reduce(
        || (Searched::default(), vec![]),
        |mut a, b| {
            a.0.hits.extend(b.0.hits);
            a.0.compared += b.0.compared;
            a.1.extend(b.1);
            a
        },
    );
    found.hits.extend(sweep(set, queries, cutoffs, w, &swept));
    found.compared += (swept.len() * (set.len() / w)) as u64;
    found.swept = swept.len();
    found
}

/// The queries `which` swept, with their own numbers in the hits.
pub(super) fn sweep(
    set: &[u64],
    queries: &[u64],
    cutoffs: &[u32],
    w: usize,
    which: &[u32],
) -> Vec<Hit> {
    if which.is_empty() {
        return vec![];
    }
    let qs: Vec<u64> = which
        .iter()
        .flat_map(|&q| &queries[q as usize * w..(q as usize + 1) * w])
        .copied()
        .collect();
    let cut: Vec<u32> = which.iter().map(|&q| cutoffs[q as usize]).collect();
    let mut hits = hamming::scan(set, &qs, &cut, w);
    for h in &mut hits {
        h.query = which[h.query as usize];
    }
    hits
}

/// One query hash and what it is searched in.
#[derive(Clone, Copy)]
struct Ask<'a> {
    index: &'a IndexView<'a>,
    set: &'a [u64],
    w: usize,
    q: &'a [u64],
    cutoff: u32,
    qi: u32,
    n: usize,
}

/// A slot run to scan: table, entries `start..end`, and the radius left for the low bits.
struct Run {
    table: u32,
    start: u32,
    end: u32,
    left: i32,
}

/// Buffers reused from query to query, and the limits of the last cutoff seen.
#[derive(Default)]
struct Probe {
    runs: Vec<Run>,
    keys: Vec<u32>,
    radii: Vec<i32>,
    limits: Option<(u32, u64, u64)>,
}

impl Probe {
    /// [`one`](Probe::one) compiled with `popcnt` where the CPU has it.
    fn one_fast(&mut self, ask: &Ask, out: &mut Searched) -> bool {
        #[cfg(target_arch = "x86_64")]
        if has_popcnt() {
            #[target_feature(enable = "popcnt")]
            unsafe fn one(p: &mut Probe, ask: &Ask, out: &mut Searched) -> bool {
                p.one(ask, out)
            }
            // SAFETY: the feature was detected at run time.
            return unsafe { one(self, ask, out) };
        }
        self.one(ask, out)
    }

    /// Search one query hash; false (and nothing added) when it should be swept.
    #[inline(always)]
    fn one(&mut self, ask: &Ask, out: &mut Searched) -> bool {
        let Ask {
            index,
            set,
            w,
            q,
            cutoff,
            qi,
            n,
        } = *ask;
        self.radii = radii(index.tables.len(), cutoff);
        let (max_scan, max_compared) = self.limits(index, cutoff, n);
        self.keys.clear();
        self.keys.extend(
            index
                .tables
                .iter()
                .map(|t| key(q, t.table.start, t.table.bits)),
        );
        self.runs.clear();
        let mut total = 0u64;
        for (ti, t) in index.tables.iter().enumerate() {
            let r = self.radii[ti];
            if r < 0 {
                continue;
            }
            let slot = self.keys[ti] >> t.table.low_bits();
            let runs = &mut self.runs;
            each_within(slot, t.table.slot_bits, r, &mut |s, e| {
                let (a, b) = slot_run(t, s);
                if b > a {
                    total += u64::from(b - a);
                    runs.push(Run {
                        table: ti as u32,
                        start: a,
                        end: b,
                        left: r - e,
                    });
                }
            });
        }
        if total > max_scan {
            return false;
        }
        let (first_hit, mut compared) = (out.hits.len(), 0u64);
        let id_bits = index.header.id_bits;
        let id_mask = ((1u64 << id_bits) - 1) as u32;
        for run in &self.runs {
            let t = &index.tables[run.table as usize];
            let low = self.keys[run.table as usize] & low_mask(t);
            let Some(entries) = t.entries.get(run.start as usize..run.end as usize) else {
                continue;
            };
            for &x in entries {
                let x_low = (u64::from(x) >> id_bits) as u32;
                if ((x_low ^ low).count_ones() as i32) > run.left {
                    continue;
                }
                let id = (x & id_mask) as usize;
                let Some(h) = set.get(id * w..(id + 1) * w) else {
                    continue;
                };
                let d = distance(h, q);
                compared += 1;
                if compared > max_compared {
                    out.hits.truncate(first_hit);
                    out.compared += compared;
                    return false;
                }
                if d <= cutoff
                    && !within_earlier(index, &self.radii, &self.keys, run.table as usize, h)
                {
                    out.hits.push(Hit {
                        query: qi,
                        entry: id as u64,
                        distance: d,
                    });
                }
            }
        }
        out.compared += compared;
        true
    }

    /// The skew limits for `cutoff` (computed once per cutoff).
    fn limits(&mut self, index: &IndexView, cutoff: u32, n: usize) -> (u64, u64) {
        match self.limits {
            Some((c, s, k)) if c == cutoff => (s, k),
            _ => {
                let (s, k) = skew_limits(index, cutoff, n);
                self.limits = Some((cutoff, s, k));
                (s, k)
            }
        }
    }
}

/// Whether the sweep's kernel uses `popcnt` (`hamming::kernel_name`), asked once.
pub(super) fn has_popcnt() -> bool {
    static POPCNT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *POPCNT.get_or_init(|| hamming::kernel_name() == "popcnt")
}

/// The entries a query may look at and the candidates it may compare before it is swept
/// instead (see `SCAN_SHARE`).
pub(super) fn skew_limits(index: &IndexView, cutoff: u32, n: usize) -> (u64, u64) {
    let w = expected_work(&index.table_shapes(), n as u64, cutoff);
    let n = n as f64;
    (
        (4.0 * w.scanned + n / SCAN_SHARE) as u64,
        (4.0 * w.candidates + n / CANDIDATE_SHARE) as u64,
    )
}

/// Whether a table before `table` holds `h` within its radius of the query's `keys` (and
/// so reported it): each pair counts once, from the first table that finds it.
#[inline(always)]
pub(super) fn within_earlier(
    index: &IndexView,
    radii: &[i32],
    keys: &[u32],
    table: usize,
    h: &[u64],
) -> bool {
    index.tables[..table].iter().enumerate().any(|(ti, t)| {
        let r = radii[ti];
        r >= 0 && (key(h, t.table.start, t.table.bits) ^ keys[ti]).count_ones() as i32 <= r
    })
}

fn low_mask(t: &TableView) -> u32 {
    ((1u64 << t.table.low_bits()) - 1) as u32
}

/// Entries of slot `s`, `(start, end)`; empty where a damaged directory says nonsense.
#[inline(always)]
pub(super) fn slot_run(t: &TableView, s: u32) -> (u32, u32) {
    match (t.dir.get(s as usize), t.dir.get(s as usize + 1)) {
        (Some(&a), Some(&b)) if a <= b => (a, b),
        _ => (0, 0),
    }
}

#[inline(always)]
fn distance(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Calls `f(v, e)` for every `v` of `bits` bits within `r` of `v0`, `e` being the
/// distance: each once, by flipping ever higher bits.
pub fn each_within(v0: u32, bits: u32, r: i32, f: &mut dyn FnMut(u32, i32)) {
    fn go(v: u32, from: u32, bits: u32, left: i32, e: i32, f: &mut dyn FnMut(u32, i32)) {
        f(v, e);
        if left == 0 {
            return;
        }
        for b in from..bits {
            go(v ^ (1 << b), b + 1, bits, left - 1, e + 1, f);
        }
    }
    if r >= 0 {
        go(v0, 0, bits, r, 0, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_within_visits_the_ball_once() {
        let mut seen = std::collections::HashSet::new();
        each_within(0b1010, 6, 2, &mut |v, e| {
            assert_eq!((v ^ 0b1010).count_ones() as i32, e);
            assert!(seen.insert(v));
        });
        assert_eq!(seen.len(), 1 + 6 + 15);
    }
}
