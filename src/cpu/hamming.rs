//! Hamming-distance scan of a reference set against a block of query hashes, on all cores
//! (GPU mirror: `shaders/hamming.wgsl`). Exact: every pair is compared.
//!
//! The reference set is cut into blocks small enough to stay in the L1 cache while every
//! query streams past them, so memory is read once per block, not once per query. The
//! popcount instruction is chosen at run time: the binary also runs on CPUs without it.

use rayon::prelude::*;

/// One pair within its query hash's cutoff: indices into the query hashes and the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub query: u32,
    pub entry: u64,
    pub distance: u32,
}

/// Entries per block: 1024 PDQ hashes are 32 KiB.
const BLOCK: usize = 1024;

type BlockFn = fn(&[u64], u64, &[u64], &[u32], &mut Vec<Hit>);

/// Distances from each query hash (`words` u64 per hash) to each entry of `refs`; pairs
/// whose distance is at most the query's cutoff are returned in (entry block, query,
/// entry) order.
pub fn scan(refs: &[u64], queries: &[u64], cutoffs: &[u32], words: usize) -> Vec<Hit> {
    assert_eq!(
        queries.len(),
        cutoffs.len() * words,
        "one cutoff per query hash"
    );
    let kernel = match words {
        4 => kernel::<4>(),
        1 => kernel::<1>(),
        w => panic!("unsupported hash width: {w} words"),
    };
    refs.par_chunks(BLOCK * words)
        .enumerate()
        .map(|(b, chunk)| {
            let mut out = vec![];
            kernel(chunk, (b * BLOCK) as u64, queries, cutoffs, &mut out);
            out
        })
        .flatten_iter()
        .collect()
}

/// The kernel this CPU runs: `popcnt` where the instruction exists, else `portable`;
/// `HASHSWEEP_CPU_KERNEL=portable` forces the latter for comparisons. (An AVX2 build of the
/// same loop measured no faster here: LLVM's vector popcount costs what it saves.)
pub fn kernel_name() -> &'static str {
    let forced = std::env::var("HASHSWEEP_CPU_KERNEL").is_ok_and(|k| k == "portable");
    #[cfg(target_arch = "x86_64")]
    if !forced && std::arch::is_x86_feature_detected!("popcnt") {
        return "popcnt";
    }
    let _ = forced;
    "portable"
}

fn kernel<const W: usize>() -> BlockFn {
    match kernel_name() {
        #[cfg(target_arch = "x86_64")]
        "popcnt" => x86::popcnt::<W>,
        _ => block::<W>,
    }
}

/// The scan itself; compiled once per instruction set by the wrappers below. Queries go
/// `QB` at a time so each entry loaded from cache serves several comparisons, then the
/// rest one at a time.
#[inline(always)]
fn block<const W: usize>(
    refs: &[u64],
    base: u64,
    queries: &[u64],
    cutoffs: &[u32],
    out: &mut Vec<Hit>,
) {
    let most = cutoffs.iter().copied().max().unwrap_or(0);
    match prefix_words(W, most) {
        1 => block_with::<W, 1>(refs, base, queries, cutoffs, out),
        2 => block_with::<W, 2>(refs, base, queries, cutoffs, out),
        3 => block_with::<W, 3>(refs, base, queries, cutoffs, out),
        _ => block_with::<W, W>(refs, base, queries, cutoffs, out),
    }
}

/// How many leading words to compare before deciding whether the rest is worth it. The
/// distance over a prefix is a lower bound of the whole distance, so skipping a pair whose
/// prefix is already past the cutoff is exact. The prefix is the shortest on which two
/// unrelated hashes (about half their bits apart, as PDQ hashes of different images are)
/// are at least 5 standard deviations past the cutoff, so the full comparison is rare.
pub fn prefix_words(words: usize, cutoff: u32) -> usize {
    (1..=words)
        .find(|&p| {
            let bits = 64.0 * p as f64;
            bits / 2.0 - 5.0 * (bits / 4.0).sqrt() > f64::from(cutoff)
        })
        .unwrap_or(words)
}

/// Queries compared per pass over a block.
const QB: usize = 4;

#[inline(always)]
fn block_with<const W: usize, const P: usize>(
    refs: &[u64],
    base: u64,
    queries: &[u64],
    cutoffs: &[u32],
    out: &mut Vec<Hit>,
) {
    let grouped = cutoffs.len() / QB * QB;
    for q0 in (0..grouped).step_by(QB) {
        let (q, c) = (&queries[q0 * W..(q0 + QB) * W], &cutoffs[q0..q0 + QB]);
        scan_group::<W, QB, P>(refs, base, q, c, q0, out);
    }
    for q in grouped..cutoffs.len() {
        let (qw, c) = (&queries[q * W..(q + 1) * W], &cutoffs[q..q + 1]);
        scan_group::<W, 1, P>(refs, base, qw, c, q, out);
    }
}

#[inline(always)]
fn distance<const W: usize>(a: &[u64; W], b: &[u64; W], words: std::ops::Range<usize>) -> u32 {
    words.map(|w| (a[w] ^ b[w]).count_ones()).sum()
}

#[inline(always)]
fn scan_group<const W: usize, const G: usize, const P: usize>(
    refs: &[u64],
    base: u64,
    queries: &[u64],
    cutoffs: &[u32],
    first: usize,
    out: &mut Vec<Hit>,
) {
    let qs: [[u64; W]; G] =
        std::array::from_fn(|j| queries[j * W..(j + 1) * W].try_into().expect("W words"));
    let cut: [u32; G] = cutoffs.try_into().expect("G cutoffs");
    for (ri, r) in refs.chunks_exact(W).enumerate() {
        let r: [u64; W] = r.try_into().expect("W words");
        let prefix: [u32; G] = std::array::from_fn(|j| distance(&r, &qs[j], 0..P));
        // One rarely taken branch for the whole group.
        if (0..G).fold(false, |hit, j| hit | (prefix[j] <= cut[j])) {
            record(out, &r, &qs, &prefix, &cut, P, first, base + ri as u64);
        }
    }
}

#[cold]
#[allow(clippy::too_many_arguments)]
fn record<const W: usize, const G: usize>(
    out: &mut Vec<Hit>,
    r: &[u64; W],
    qs: &[[u64; W]; G],
    prefix: &[u32; G],
    cut: &[u32; G],
    p: usize,
    first: usize,
    entry: u64,
) {
    for j in 0..G {
        let d = prefix[j] + distance(r, &qs[j], p..W);
        if d <= cut[j] {
            out.push(Hit {
                query: (first + j) as u32,
                entry,
                distance: d,
            });
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Hit, block};

    #[target_feature(enable = "popcnt")]
    unsafe fn popcnt_impl<const W: usize>(
        r: &[u64],
        b: u64,
        q: &[u64],
        c: &[u32],
        o: &mut Vec<Hit>,
    ) {
        block::<W>(r, b, q, c, o)
    }

    /// Only handed out by `kernel` after the feature was detected.
    pub fn popcnt<const W: usize>(r: &[u64], b: u64, q: &[u64], c: &[u32], o: &mut Vec<Hit>) {
        unsafe { popcnt_impl::<W>(r, b, q, c, o) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_finds_the_same_pairs_as_a_naive_loop() {
        let refs: Vec<u64> = crate::hash::random_words(1).take(4 * 3000).collect();
        let mut queries: Vec<u64> = refs[4 * 10..4 * 12].to_vec();
        queries[0] ^= 0b111; // 3 bits from entry 10
        let cut = [5, 0];
        let want: Vec<Hit> = (0..3000u64)
            .flat_map(|e| (0..2u32).map(move |q| (e, q)))
            .filter_map(|(e, q)| {
                let d: u32 = (0..4)
                    .map(|w| (refs[e as usize * 4 + w] ^ queries[q as usize * 4 + w]).count_ones())
                    .sum();
                (d <= cut[q as usize]).then_some(Hit {
                    query: q,
                    entry: e,
                    distance: d,
                })
            })
            .collect();
        let mut got = scan(&refs, &queries, &cut, 4);
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want);
        assert!(got.contains(&Hit {
            query: 0,
            entry: 10,
            distance: 3
        }));
        assert!(got.contains(&Hit {
            query: 1,
            entry: 11,
            distance: 0
        }));
        for p in 1..=4 {
            let mut portable = vec![];
            for (b, chunk) in refs.chunks(BLOCK * 4).enumerate() {
                match p {
                    1 => {
                        block_with::<4, 1>(chunk, (b * BLOCK) as u64, &queries, &cut, &mut portable)
                    }
                    2 => {
                        block_with::<4, 2>(chunk, (b * BLOCK) as u64, &queries, &cut, &mut portable)
                    }
                    3 => {
                        block_with::<4, 3>(chunk, (b * BLOCK) as u64, &queries, &cut, &mut portable)
                    }
                    _ => {
                        block_with::<4, 4>(chunk, (b * BLOCK) as u64, &queries, &cut, &mut portable)
                    }
                }
            }
            portable.sort();
            assert_eq!(portable, want, "prefix of {p} words");
        }
    }

    #[test]
    fn prefix_is_two_words_at_the_pdq_threshold_and_whole_when_pruning_cannot_help() {
        assert_eq!(prefix_words(4, 31), 2);
        assert_eq!(prefix_words(4, 0), 1);
        assert_eq!(prefix_words(4, 128), 4);
        assert_eq!(prefix_words(1, 10), 1);
    }
}
