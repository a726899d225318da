//! Exact matching: the CPU scan against a naive loop, and the GPU against the CPU, on
//! random sets with neighbours planted at every distance around the threshold, on empty and
//! one-entry sets, with top-k, dihedral variants, streaming in chunks and append-buffer
//! overflow.

mod common;

use common::scratch;

use hashsweep::gpu::GpuMatcher;
use hashsweep::matching::{self, Match, MatchParams, Matcher, QueryHashes};
use hashsweep::refset::write::{self, Entry, EntrySections};
use hashsweep::refset::{Algo, RefSet};

fn build(name: &str, algo: Algo, hashes: &[Vec<u64>]) -> RefSet {
    let path = scratch(name).join("set.hsref");
    let entries = hashes
        .iter()
        .enumerate()
        .map(|(i, w)| Entry {
            words: w.clone(),
            labels: vec![format!("e{i}")],
            quality: None,
            id: None,
            video: None,
        })
        .collect();
    write::write_set(&path, &mut EntrySections::new(algo, entries)).unwrap();
    RefSet::open(&path).unwrap()
}

/// Flip `k` distinct bits of `h`, spread over all words.
fn flip(h: &[u64], k: usize, seed: u64) -> Vec<u64> {
    let bits = h.len() * 64;
    let mut out = h.to_vec();
    let mut order: Vec<usize> = (0..bits).collect();
    let mut r = write::random_words(seed);
    for i in (1..bits).rev() {
        order.swap(i, (r.next().unwrap() % (i as u64 + 1)) as usize);
    }
    for &b in &order[..k] {
        out[b / 64] ^= 1 << (b % 64);
    }
    out
}

/// A random set with, for each query, neighbours planted at every distance 0..=bits.
fn planted(algo: Algo, random: usize, queries: usize, seed: u64) -> (Vec<Vec<u64>>, Vec<Vec<u64>>) {
    let w = algo.words();
    let mut rnd = write::random_words(seed);
    let mut set: Vec<Vec<u64>> = (0..random)
        .map(|_| rnd.by_ref().take(w).collect())
        .collect();
    let qs: Vec<Vec<u64>> = (0..queries)
        .map(|_| rnd.by_ref().take(w).collect())
        .collect();
    for (qi, q) in qs.iter().enumerate() {
        for k in 0..=algo.bits().min(64) {
            set.push(flip(q, k, seed ^ ((qi * 1000 + k) as u64)));
        }
    }
    (set, qs)
}

fn query_hashes(algo: Algo, qs: &[Vec<u64>]) -> QueryHashes {
    let mut q = QueryHashes::new(algo);
    for (i, h) in qs.iter().enumerate() {
        q.push(i as u32, 0, h);
    }
    q
}

/// The definition, written as plainly as possible.
fn naive(set: &RefSet, q: &QueryHashes, p: &MatchParams) -> Vec<Match> {
    let w = q.algo.words();
    let mut hits = vec![];
    for (qi, qh) in q.words.chunks(w).enumerate() {
        for e in 0..set.len() {
            let d: u32 = set
                .hash_words(e)
                .iter()
                .zip(qh)
                .map(|(a, b)| (a ^ b).count_ones())
                .sum();
            if d <= p.max_distance {
                hits.push(hashsweep::cpu::hamming::Hit {
                    query: qi as u32,
                    entry: e as u64,
                    distance: d,
                });
            }
        }
    }
    matching::finalize(&hits, q, p)
}

fn gpu() -> Option<GpuMatcher> {
    let engine = common::gpu_engine()?;
    Some(GpuMatcher::new(engine.gpu_context().unwrap()).unwrap())
}

#[test]
fn cpu_equals_the_definition_at_every_planted_distance() {
    for algo in [Algo::Pdq, Algo::Phash] {
        let (hashes, qs) = planted(algo, 3000, 3, 11);
        let set = build(&format!("cpu-{}", algo.name()), algo, &hashes);
        let q = query_hashes(algo, &qs);
        for d in [0, 1, 8, 10, 31, 32, 63, 64] {
            let p = MatchParams {
                max_distance: d,
                top_k: None,
            };
            let got = Matcher::Cpu.run(&set, &q, &p).unwrap();
            assert_eq!(got, naive(&set, &q, &p), "{} d={d}", algo.name());
            // Each query's own planted neighbours: exactly those at distance <= d.
            let per_query = algo.bits().min(64) + 1;
            let own = |m: &Match| {
                let i: usize = set.labels(m.entry as usize)[0][1..].parse().unwrap();
                i >= 3000 && (i - 3000) / per_query == m.query as usize
            };
            let planted_found = got.iter().filter(|m| own(m)).count();
            assert!(got.iter().all(|m| m.distance <= d));
            assert_eq!(
                planted_found,
                3 * (d as usize + 1).min(per_query),
                "{} d={d}",
                algo.name()
            );
        }
    }
}

#[test]
fn gpu_equals_cpu_at_every_planted_distance_and_with_top_k() {
    let Some(g) = gpu() else { return };
    for algo in [Algo::Pdq, Algo::Phash] {
        let (hashes, qs) = planted(algo, 5000, 4, 23);
        let set = build(&format!("gpu-{}", algo.name()), algo, &hashes);
        let q = query_hashes(algo, &qs);
        for d in [0, 5, 31, 32, 64] {
            for top_k in [None, Some(1), Some(3), Some(1000)] {
                let p = MatchParams {
                    max_distance: d,
                    top_k,
                };
                let cpu = Matcher::Cpu.run(&set, &q, &p).unwrap();
                let gpu = Matcher::Gpu(&g).run(&set, &q, &p).unwrap();
                assert_eq!(gpu, cpu, "{} d={d} top_k={top_k:?}", algo.name());
            }
        }
    }
}

#[test]
fn empty_and_one_entry_sets_and_empty_queries() {
    let g = gpu();
    let algo = Algo::Pdq;
    let qs: Vec<Vec<u64>> = write::random_words(5)
        .take(8)
        .collect::<Vec<_>>()
        .chunks(4)
        .map(<[u64]>::to_vec)
        .collect();
    let q = query_hashes(algo, &qs);
    let p = MatchParams {
        max_distance: 64,
        top_k: None,
    };
    let empty = build("empty", algo, &[]);
    assert!(empty.is_empty());
    assert!(Matcher::Cpu.run(&empty, &q, &p).unwrap().is_empty());
    let one = build("one", algo, &[flip(&qs[1], 7, 1)]);
    let got = Matcher::Cpu.run(&one, &q, &p).unwrap();
    assert_eq!(
        got.iter()
            .map(|m| (m.query, m.distance))
            .collect::<Vec<_>>(),
        [(1, 7)]
    );
    assert!(
        Matcher::Cpu
            .run(&one, &QueryHashes::new(algo), &p)
            .unwrap()
            .is_empty()
    );
    if let Some(g) = g {
        assert!(Matcher::Gpu(&g).run(&empty, &q, &p).unwrap().is_empty());
        assert_eq!(Matcher::Gpu(&g).run(&one, &q, &p).unwrap(), got);
    }
}

#[test]
fn dihedral_variants_report_the_closest_variant() {
    let algo = Algo::Pdq;
    let base: Vec<u64> = write::random_words(9).take(4).collect();
    let set = build("dih", algo, std::slice::from_ref(&base));
    let mut q = QueryHashes::new(algo);
    q.push(0, 0, &flip(&base, 20, 1));
    q.push(0, 3, &flip(&base, 2, 2));
    q.push(0, 5, &flip(&base, 2, 3));
    let p = MatchParams {
        max_distance: 31,
        top_k: None,
    };
    let got = Matcher::Cpu.run(&set, &q, &p).unwrap();
    assert_eq!(got.len(), 1, "one row per (query, entry)");
    assert_eq!(
        (got[0].distance, got[0].variant),
        (2, 3),
        "closest, then lowest variant"
    );
    if let Some(g) = gpu() {
        assert_eq!(Matcher::Gpu(&g).run(&set, &q, &p).unwrap(), got);
    }
}

#[test]
fn gpu_streams_small_chunks_and_recovers_from_append_overflow_without_losing_a_match() {
    let Some(g) = gpu() else { return };
    let algo = Algo::Pdq;
    let (hashes, qs) = planted(algo, 2000, 6, 31);
    let set = build("overflow", algo, &hashes);
    let q = query_hashes(algo, &qs);
    let p = MatchParams {
        max_distance: 64,
        top_k: None,
    };
    let cpu = Matcher::Cpu.run(&set, &q, &p).unwrap();
    assert!(cpu.len() > 300);
    g.set_chunk_entries(Some(257));
    g.set_capacity(8);
    let before = g.stats();
    let got = Matcher::Gpu(&g).run(&set, &q, &p).unwrap();
    let after = g.stats();
    g.set_chunk_entries(None);
    assert_eq!(got, cpu);
    assert!(
        after.chunks - before.chunks >= set.len() as u64 / 257,
        "streamed in chunks"
    );
    assert!(
        after.overflow_reruns > before.overflow_reruns,
        "the small buffer overflowed"
    );
}
