//! Exact matching: the CPU scan against a naive loop, and the GPU against the CPU, on
//! random sets with neighbours planted at every distance around the threshold, on empty and
//! one-entry sets, with top-k, dihedral variants, streaming in chunks and append-buffer
//! overflow.

mod common;

use common::scratch;

use hashsweep::gpu::GpuMatcher;
use hashsweep::gpu::matcher::Request;
use hashsweep::matching::{self, Match, MatchParams, Matcher, Planner, QueryHashes};
use hashsweep::refset::write::{self, Entry, EntrySections};
use hashsweep::refset::{Algo, RefSet};

fn build(name: &str, algo: Algo, hashes: &[Vec<u64>]) -> RefSet {
    // The set is mapped while the caller matches against it: its folder must stay.
    let path = scratch(name).keep().join("set.hsref");
    let entries = hashes
        .iter()
        .enumerate()
        .map(|(i, w)| Entry::labelled(w, format!("e{i}")))
        .collect();
    write::write_set(&path, &mut EntrySections::new(algo, entries)).unwrap();
    RefSet::open(&path).unwrap()
}

/// Flip `k` distinct bits of `h`, spread over all words.
fn flip(h: &[u64], k: usize, seed: u64) -> Vec<u64> {
    let bits = h.len() * 64;
    let mut out = h.to_vec();
    let mut order: Vec<usize> = (0..bits).collect();
    let mut r = hashsweep::hash::random_words(seed);
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
    let mut rnd = hashsweep::hash::random_words(seed);
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
    let qs: Vec<Vec<u64>> = hashsweep::hash::random_words(5)
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
    let base: Vec<u64> = hashsweep::hash::random_words(9).take(4).collect();
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
    g.set_resident_budget(Some(0)); // as a set too large for the device
    g.set_chunk_entries(Some(257));
    g.set_capacity(8);
    let before = g.stats();
    let got = Matcher::Gpu(&g).run(&set, &q, &p).unwrap();
    let after = g.stats();
    assert_eq!(got, cpu);
    assert!(
        after.chunks - before.chunks >= set.len() as u64 / 257,
        "streamed in chunks"
    );
    assert!(
        after.overflow_reruns > before.overflow_reruns,
        "the small buffer overflowed"
    );
    // Resident, the same set overflows the same way and still loses nothing.
    g.set_resident_budget(None);
    g.set_capacity(8);
    assert_eq!(Matcher::Gpu(&g).run(&set, &q, &p).unwrap(), cpu);
}

/// The GPU's raw pairs for a request, as `matching` would ask for them.
fn raw(g: &GpuMatcher, set: &RefSet, q: &QueryHashes, max_distance: u32) -> usize {
    let view = matching::set_view(set);
    let req = Request {
        queries: &q.words,
        max_distance,
        top_k: None,
    };
    g.scan(&view, &req).unwrap().len()
}

#[test]
fn a_resident_set_is_uploaded_once_and_only_found_pairs_come_back() {
    let Some(g) = gpu() else { return };
    let ctx = g.context();
    let algo = Algo::Pdq;
    let (hashes, qs) = planted(algo, 20_000, 5, 41);
    let set = build("resident", algo, &hashes);
    let q = query_hashes(algo, &qs);
    let set_bytes = (set.len() * 32) as u64;
    let before = ctx.counters();
    for d in [31, 10, 31] {
        let p = MatchParams {
            max_distance: d,
            top_k: None,
        };
        let c0 = ctx.counters();
        let pairs = raw(&g, &set, &q, d);
        let c1 = ctx.counters();
        // One submission: its count (16 bytes), then exactly the pairs (8 bytes each).
        assert_eq!(c1.match_submissions - c0.match_submissions, 1);
        assert_eq!(
            c1.bytes_downloaded - c0.bytes_downloaded,
            16 + 8 * pairs as u64,
            "d={d}: only what was found is read back"
        );
        assert_eq!(
            Matcher::Gpu(&g).run(&set, &q, &p).unwrap(),
            Matcher::Cpu.run(&set, &q, &p).unwrap()
        );
    }
    let uploaded = ctx.counters().refs_bytes_uploaded - before.refs_bytes_uploaded;
    eprintln!("FIGURE resident set: {set_bytes} bytes, {uploaded} uploaded over 6 runs");
    assert_eq!(uploaded, set_bytes, "uploaded once, reused by every run");
    assert_eq!(g.stats().resident_uploads, 1);
    // A query far from everything: one 16-byte count comes back, even after an overflow
    // grew the append buffer.
    g.set_capacity(4);
    let near = raw(&g, &set, &q, 64);
    assert!(near > 4);
    let lonely = query_hashes(algo, &[vec![0x5555_5555_5555_5555; 4]]);
    let c0 = ctx.counters();
    assert_eq!(raw(&g, &set, &lonely, 0), 0);
    assert_eq!(ctx.counters().bytes_downloaded - c0.bytes_downloaded, 16);
}

#[test]
fn a_set_split_over_several_bindings_matches_like_one_and_like_the_cpu() {
    let Some(g) = gpu() else { return };
    for algo in [Algo::Pdq, Algo::Phash] {
        let (hashes, qs) = planted(algo, 7000, 3, 53);
        let set = build(&format!("parts-{}", algo.name()), algo, &hashes);
        let q = query_hashes(algo, &qs);
        // Parts of 1000 entries (plus a short last one), as a 100-million-entry set is cut
        // into binding-sized buffers on a real device.
        g.set_part_bytes(Some(1000 * algo.words() as u64 * 8));
        for top_k in [None, Some(2)] {
            let p = MatchParams {
                max_distance: 31.min(algo.bits() as u32),
                top_k,
            };
            let want = Matcher::Cpu.run(&set, &q, &p).unwrap();
            assert_eq!(
                Matcher::Gpu(&g).run(&set, &q, &p).unwrap(),
                want,
                "{} top_k={top_k:?}",
                algo.name()
            );
            let parts = g.resident_parts(set.instance_id());
            assert_eq!(parts, Some(set.len().div_ceil(1000)), "resident in parts");
            g.set_resident_budget(Some(0));
            assert_eq!(
                Matcher::Gpu(&g).run(&set, &q, &p).unwrap(),
                want,
                "streamed"
            );
            assert_eq!(g.resident_parts(set.instance_id()), None);
            g.set_resident_budget(None);
        }
        g.set_part_bytes(None);
    }
}

#[test]
fn a_gpu_failure_while_matching_falls_back_to_the_cpu_with_the_same_matches() {
    let Some(g) = gpu() else { return };
    let algo = Algo::Pdq;
    let (hashes, qs) = planted(algo, 3000, 4, 61);
    let set = build("fault", algo, &hashes);
    let q = query_hashes(algo, &qs);
    let p = MatchParams {
        max_distance: 31,
        top_k: None,
    };
    let want = Matcher::Cpu.run(&set, &q, &p).unwrap();
    g.set_resident_budget(Some(0));
    g.context().inject(hashsweep::gpu::Fault::AllocFails, 1);
    g.set_capacity(1 << 20); // the next reservation must allocate, and fail
    assert!(Matcher::Gpu(&g).run(&set, &q, &p).is_err());
    // Out of memory was a moment's: fresh buffers, and the device matches again, exactly.
    assert_eq!(Matcher::Gpu(&g).run(&set, &q, &p).unwrap(), want);
    // A run's planner never fails: a hung device moves this call and every later one to
    // the CPU, and the planner says why.
    // Priced as a fast device, so that calls go to it (lavapipe is slower than the CPU).
    let planner = Planner::with(g).pin_gpu_rate(1e15);
    let device = planner.gpu().expect("on the device until it fails");
    device.context().inject(hashsweep::gpu::Fault::Hang, 1);
    assert_eq!(planner.run(&set, &q, &p), want);
    let why = planner
        .fallback()
        .expect("the fallback is said")
        .to_string();
    assert!(why.contains("matching on the CPU"), "{why}");
    assert!(planner.gpu().is_none());
    assert_eq!(planner.run(&set, &q, &p), want);
    assert_eq!(planner.fallback(), Some(why.as_str()), "said once");
}
