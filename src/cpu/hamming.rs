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

/// The name of the kernel this CPU runs, for reports.
pub fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            return "avx2+popcnt";
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            return "popcnt";
        }
    }
    "portable"
}

fn kernel<const W: usize>() -> BlockFn {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            return x86::avx2::<W>;
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            return x86::popcnt::<W>;
        }
    }
    block::<W>
}

/// The scan itself; compiled once per instruction set by the wrappers below.
#[inline(always)]
fn block<const W: usize>(
    refs: &[u64],
    base: u64,
    queries: &[u64],
    cutoffs: &[u32],
    out: &mut Vec<Hit>,
) {
    for (qi, (q, &cut)) in queries.chunks_exact(W).zip(cutoffs).enumerate() {
        let q: [u64; W] = q.try_into().expect("W words");
        for (ri, r) in refs.chunks_exact(W).enumerate() {
            let d: u32 = (0..W).map(|w| (r[w] ^ q[w]).count_ones()).sum();
            if d <= cut {
                out.push(Hit {
                    query: qi as u32,
                    entry: base + ri as u64,
                    distance: d,
                });
            }
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

    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn avx2_impl<const W: usize>(r: &[u64], b: u64, q: &[u64], c: &[u32], o: &mut Vec<Hit>) {
        block::<W>(r, b, q, c, o)
    }

    /// Only handed out by `kernel` after the feature was detected.
    pub fn popcnt<const W: usize>(r: &[u64], b: u64, q: &[u64], c: &[u32], o: &mut Vec<Hit>) {
        unsafe { popcnt_impl::<W>(r, b, q, c, o) }
    }

    pub fn avx2<const W: usize>(r: &[u64], b: u64, q: &[u64], c: &[u32], o: &mut Vec<Hit>) {
        unsafe { avx2_impl::<W>(r, b, q, c, o) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_finds_the_same_pairs_as_a_naive_loop() {
        let refs: Vec<u64> = crate::refset::write::random_words(1)
            .take(4 * 3000)
            .collect();
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
        let mut portable = vec![];
        for (b, chunk) in refs.chunks(BLOCK * 4).enumerate() {
            block::<4>(chunk, (b * BLOCK) as u64, &queries, &cut, &mut portable);
        }
        portable.sort();
        assert_eq!(portable, want);
    }
}
