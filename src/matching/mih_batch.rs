//! Many queries through the multi-index at once, as a join: the same pairs as one query
//! at a time (`mih.rs`), with the memory read in order. Probed slots of all queries are
//! bucketed by slot before the tables are read, so each directory and entry array is
//! walked front to back in small windows; candidates are bucketed by entry before the
//! hash array is read, so it too is read front to back. One query at a time, every probe
//! and every candidate is a random read; here they are mostly cache hits.

use rayon::prelude::*;

use super::mih::{Searched, each_within, finish, skew_limits, slot_run, within_earlier};
use crate::cpu::hamming::Hit;
use crate::refset::index::{IndexView, ball, key, radii};

/// Queries joined together: enough that probes of one bucket share cache lines, few
/// enough that their probes (about 2,000 each) stay within a few tens of megabytes.
const CHUNK: usize = 4096;

/// Buckets of a counting sort: a bucket's window of a table or of the hash array is a
/// few kilobytes to a few hundred.
const BUCKET_BITS: u32 = 8;

/// In a self-join, query `q` is entry `first + q`: a pair is found from its lower entry
/// only (the other side would find it again), so candidates at or below the query's own
/// entry are skipped before they are compared.
#[derive(Debug, Clone, Copy)]
pub struct SelfJoin {
    pub first: u64,
}

/// Every pair within `cutoff` of the queries, as [`super::mih::search`] finds them.
pub fn search_batch(
    index: &IndexView,
    set: &[u64],
    queries: &[u64],
    cutoff: u32,
    w: usize,
    own: Option<SelfJoin>,
) -> Searched {
    let n = set.len() / w;
    let nq = queries.len() / w;
    let cutoffs = vec![cutoff; nq];
    let chunk = chunk_for(index, n, cutoff, nq);
    let parts = queries.par_chunks(chunk * w).enumerate().map(|(c, qs)| {
        let first = c * chunk;
        let own = own.map(|o| SelfJoin {
            first: o.first + first as u64,
        });
        let mut j = Join::new(index, set, qs, cutoff, w, n, own);
        let hits = with_popcnt(&mut j);
        let swept: Vec<u32> = j
            .swept
            .iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .map(|(q, _)| (first + q) as u32)
            .collect();
        let found = Searched {
            hits: hits
                .into_iter()
                .map(|h| Hit {
                    query: h.query + first as u32,
                    ..h
                })
                .collect(),
            compared: j.compared,
            swept: 0,
        };
        (found, swept)
    });
    finish(parts, set, queries, &cutoffs, w)
}

/// One chunk's join.
struct Join<'a> {
    index: &'a IndexView<'a>,
    set: &'a [u64],
    queries: &'a [u64],
    cutoff: u32,
    w: usize,
    own: Option<SelfJoin>,
    radii: Vec<i32>,
    /// `keys[q * m + t]`: query `q`'s key in table `t`.
    keys: Vec<u32>,
    /// `entry << 32 | query << 6 | table`.
    candidates: Vec<u64>,
    scanned: Vec<u32>,
    found: Vec<u32>,
    swept: Vec<bool>,
    max_scan: u32,
    max_found: u32,
    compared: u64,
}

impl<'a> Join<'a> {
    fn new(
        index: &'a IndexView<'a>,
        set: &'a [u64],
        queries: &'a [u64],
        cutoff: u32,
        w: usize,
        n: usize,
        own: Option<SelfJoin>,
    ) -> Join<'a> {
        let m = index.tables.len();
        let nq = queries.len() / w;
        let keys = queries
            .chunks_exact(w)
            .flat_map(|q| {
                index
                    .tables
                    .iter()
                    .map(|t| key(q, t.table.start, t.table.bits))
            })
            .collect();
        let (max_scan, max_found) = skew_limits(index, cutoff, n);
        let cap = |x: u64| x.min(u64::from(u32::MAX)) as u32;
        Join {
            index,
            set,
            queries,
            cutoff,
            w,
            own,
            radii: radii(m, cutoff),
            keys,
            candidates: vec![],
            scanned: vec![0; nq],
            found: vec![0; nq],
            swept: vec![false; nq],
            max_scan: cap(max_scan),
            max_found: cap(max_found),
            compared: 0,
        }
    }

    /// Table by table: its probes, then its candidates compared, so that only one
    /// table's candidates are held at a time. A query swept on the way loses the hits
    /// earlier tables gave it (the sweep finds them all).
    #[inline(always)]
    fn run(&mut self) -> Vec<Hit> {
        let mut hits = vec![];
        for t in 0..self.index.tables.len() {
            if self.radii[t] >= 0 {
                self.probe_table(t);
                self.verify(&mut hits);
            }
        }
        hits.retain(|h| !self.swept[h.query as usize]);
        hits
    }

    /// Every (slot, query) probe of table `t`, bucketed by slot, then the table read in
    /// that order; packed entries whose low bits keep the range within the radius become
    /// candidates.
    #[inline(always)]
    fn probe_table(&mut self, t: usize) {
        let m = self.index.tables.len();
        let tv = &self.index.tables[t];
        let (slot_bits, low_bits) = (tv.table.slot_bits, tv.table.low_bits());
        let r = self.radii[t];
        let mut probes: Vec<u64> = vec![];
        for q in 0..self.swept.len() {
            let slot = self.keys[q * m + t] >> low_bits;
            each_within(slot, slot_bits, r, &mut |s, _| {
                probes.push(u64::from(s) << 32 | q as u64);
            });
        }
        let shift = slot_bits.saturating_sub(BUCKET_BITS) + 32;
        let probes = bucketed(probes, shift, slot_bits.min(BUCKET_BITS));
        let id_bits = self.index.header.id_bits;
        let id_mask = ((1u64 << id_bits) - 1) as u32;
        let low_mask = ((1u64 << low_bits) - 1) as u32;
        for (i, &p) in probes.iter().enumerate() {
            // Prefetched ahead: the directory word, then (once it has arrived) the run of
            // entries it points to; probes in slot order make both short strides.
            if let Some(&ahead) = probes.get(i + 2 * AHEAD) {
                prefetch(tv.dir, (ahead >> 32) as usize);
            }
            if let Some(&ahead) = probes.get(i + AHEAD) {
                if let Some(&a) = tv.dir.get((ahead >> 32) as usize) {
                    prefetch(tv.entries, a as usize);
                }
            }
            let (s, q) = ((p >> 32) as u32, (p & 0xFFFF_FFFF) as usize);
            if self.swept[q] {
                continue;
            }
            let k = self.keys[q * m + t];
            let left = r - ((k >> low_bits) ^ s).count_ones() as i32;
            let (a, b) = slot_run(tv, s);
            let Some(entries) = tv.entries.get(a as usize..b as usize) else {
                continue;
            };
            self.scanned[q] = self.scanned[q].saturating_add(entries.len() as u32);
            let floor = self.own.map(|o| o.first + q as u64);
            for &x in entries {
                let x_low = (u64::from(x) >> id_bits) as u32;
                if ((x_low ^ (k & low_mask)).count_ones() as i32) > left {
                    continue;
                }
                let id = x & id_mask;
                if floor.is_some_and(|f| u64::from(id) <= f) {
                    continue;
                }
                self.found[q] += 1;
                self.candidates
                    .push(u64::from(id) << 32 | (q as u64) << 6 | t as u64);
            }
            if self.scanned[q] > self.max_scan || self.found[q] > self.max_found {
                self.swept[q] = true;
            }
        }
    }

    /// Candidates bucketed by entry, then compared in that order.
    #[inline(always)]
    fn verify(&mut self, hits: &mut Vec<Hit>) {
        let id_bits = self.index.header.id_bits;
        let shift = id_bits.saturating_sub(BUCKET_BITS) + 32;
        let cands = bucketed(
            std::mem::take(&mut self.candidates),
            shift,
            id_bits.min(BUCKET_BITS),
        );
        let (w, m) = (self.w, self.index.tables.len());
        for (i, &c) in cands.iter().enumerate() {
            if let Some(&ahead) = cands.get(i + AHEAD) {
                prefetch(self.set, (ahead >> 32) as usize * w);
            }
            let (id, q, t) = (
                (c >> 32) as usize,
                ((c >> 6) & 0x3FF_FFFF) as usize,
                (c & 63) as usize,
            );
            if self.swept[q] {
                continue;
            }
            let Some(h) = self.set.get(id * w..(id + 1) * w) else {
                continue;
            };
            let qh = &self.queries[q * w..(q + 1) * w];
            let d: u32 = h.iter().zip(qh).map(|(a, b)| (a ^ b).count_ones()).sum();
            self.compared += 1;
            let keys = &self.keys[q * m..(q + 1) * m];
            if d <= self.cutoff && !within_earlier(self.index, &self.radii, keys, t, h) {
                hits.push(Hit {
                    query: q as u32,
                    entry: id as u64,
                    distance: d,
                });
            }
        }
    }
}

/// How many probes or candidates ahead their memory is asked for: enough misses in
/// flight to cover a memory latency.
const AHEAD: usize = 16;

/// Ask for the cache line holding `v[i]` (nothing when `i` is out of range).
#[inline(always)]
pub(super) fn prefetch<T>(v: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = v.get(i) {
        // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (x as *const T).cast::<i8>(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, i);
}

/// The join compiled with the `popcnt` instruction where the CPU has it (as the sweep's
/// kernel is: `hamming::kernel_name`), else as is.
fn with_popcnt(j: &mut Join) -> Vec<Hit> {
    #[cfg(target_arch = "x86_64")]
    if super::mih::has_popcnt() {
        #[target_feature(enable = "popcnt")]
        unsafe fn run(j: &mut Join) -> Vec<Hit> {
            j.run()
        }
        // SAFETY: the feature was detected at run time.
        return unsafe { run(j) };
    }
    j.run()
}

/// Queries per chunk: at most [`CHUNK`], few enough that one table's probes and
/// candidates (each held twice, before and after bucketing) stay within `MEMORY`, and
/// enough chunks for every core.
fn chunk_for(index: &IndexView, n: usize, cutoff: u32, nq: usize) -> usize {
    const MEMORY: f64 = 64e6;
    let r = radii(index.tables.len(), cutoff);
    let per_query = index
        .tables
        .iter()
        .zip(&r)
        .map(|(t, &r)| {
            let probes = ball(t.table.slot_bits, r);
            probes + n as f64 * ball(t.table.bits, r) / 2f64.powi(t.table.bits as i32)
        })
        .fold(1.0, f64::max)
        * 16.0;
    let by_memory = (MEMORY / per_query) as usize;
    let by_cores = nq.div_ceil(rayon::current_num_threads());
    CHUNK.min(by_memory).min(by_cores).max(64)
}

/// A counting sort of `v` by `(x >> shift)`, which takes `bits` bits: ordered by
/// bucket, in first-come order within one.
fn bucketed(v: Vec<u64>, shift: u32, bits: u32) -> Vec<u64> {
    let buckets = 1usize << bits;
    let mut start = vec![0usize; buckets + 1];
    for &x in &v {
        start[(x >> shift) as usize & (buckets - 1)] += 1;
    }
    let mut at = 0;
    for s in start.iter_mut() {
        let c = *s;
        *s = at;
        at += c;
    }
    let mut out = vec![0u64; v.len()];
    for &x in &v {
        let b = (x >> shift) as usize & (buckets - 1);
        out[start[b]] = x;
        start[b] += 1;
    }
    out
}
