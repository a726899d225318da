//! `hashsweep bench index`: the multi-index against the sweep on one set, side by side in
//! one process: batch time (medians of rounds), identical pairs checked, single-query
//! latency (p50, p99) and anonymous memory. Half the queries are planted near entries at
//! 0-31 bits, half are random, as issue 25 asks.

use std::path::PathBuf;
use std::time::Instant;

use super::{Figure, publish};
use crate::cpu::hamming::{self, Hit};
use crate::matching::mih;
use crate::refset::RefSet;

#[derive(clap::Args, Debug)]
pub struct IndexBench {
    /// An indexed set (`refs random` or `refs build` write one; `refs index` adds it).
    pub set: PathBuf,
    /// Query hashes: half planted near entries at 0-31 bits, half random.
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// Pairs at most this far apart are found.
    #[arg(long, default_value_t = 31)]
    pub max_distance: u32,
    /// Rounds of each; the figures are medians.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Queries the sweep is timed on, scaled to all (a sweep of 100M entries is slow).
    #[arg(long, default_value_t = 1000)]
    pub sweep_sample: usize,
    /// Queries timed one per call for latency percentiles.
    #[arg(long, default_value_t = 1000)]
    pub single: usize,
    /// Write the report as JSON to this file too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the queries as packed little-endian hashes (benches/compare/mih_vs_faiss.py
    /// gives them to FAISS).
    #[arg(long)]
    pub write_queries: Option<PathBuf>,
}

/// Queries: even ones a copy of some entry with 0-31 random bits flipped, odd ones random.
pub fn planted_queries(set: &RefSet, q: usize, seed: u64) -> Vec<u64> {
    let w = set.algo().words();
    let bits = set.algo().bits() as u64;
    let mut r = crate::hash::random_words(seed);
    let mut out = Vec::with_capacity(q * w);
    for i in 0..q {
        if i % 2 == 1 || set.is_empty() {
            out.extend(r.by_ref().take(w));
            continue;
        }
        let e = (r.next().unwrap_or(0) % set.len() as u64) as usize;
        let mut h = set.hash_words(e).to_vec();
        for _ in 0..r.next().unwrap_or(0) % 32 {
            let b = r.next().unwrap_or(0) % bits;
            h[(b / 64) as usize] ^= 1 << (b % 64);
        }
        out.extend(h);
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sorted(mut h: Vec<Hit>) -> Vec<(u32, u64, u32)> {
    let mut v: Vec<_> = h
        .drain(..)
        .map(|h| (h.query, h.entry, h.distance))
        .collect();
    v.sort_unstable();
    v
}

/// Anonymous resident memory of this process, bytes (Linux; 0 elsewhere).
pub fn rss_anon() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

pub fn bench_index(b: IndexBench) -> anyhow::Result<i32> {
    let set = RefSet::open(&b.set)?;
    let Some(index) = set.index() else {
        anyhow::bail!(
            "{} has no index: add one with `hashsweep refs index {}`",
            b.set.display(),
            b.set.display()
        );
    };
    let (w, n) = (set.algo().words(), set.len());
    let d = b.max_distance;
    let queries = planted_queries(&set, b.queries, 11);
    let cut = vec![d; b.queries];
    if let Some(p) = &b.write_queries {
        std::fs::write(p, bytemuck::cast_slice::<u64, u8>(&queries))?;
    }
    let rss_before = rss_anon();
    let mut mih_times = vec![];
    let mut found = mih::Searched::default();
    for _ in 0..b.rounds.max(1) {
        let t = Instant::now();
        found = mih::search(&index, set.words(), &queries, &cut, w);
        mih_times.push(t.elapsed().as_secs_f64());
    }
    let rss_mih = rss_anon();
    let mut each_times = vec![];
    for _ in 0..b.rounds.max(1) {
        let t = Instant::now();
        std::hint::black_box(mih::search_each(&index, set.words(), &queries, &cut, w));
        each_times.push(t.elapsed().as_secs_f64());
    }
    let sample = b.sweep_sample.min(b.queries).max(1);
    let mut sweep_times = vec![];
    let mut swept = vec![];
    for _ in 0..b.rounds.max(1) {
        let t = Instant::now();
        swept = hamming::scan(set.words(), &queries[..sample * w], &cut[..sample], w);
        sweep_times.push(t.elapsed().as_secs_f64() * b.queries as f64 / sample as f64);
    }
    let through_index: Vec<Hit> = found
        .hits
        .iter()
        .copied()
        .filter(|h| (h.query as usize) < sample)
        .collect();
    let (a, s) = (sorted(through_index), sorted(swept));
    anyhow::ensure!(
        a == s,
        "the index found {} pairs, the sweep {}",
        a.len(),
        s.len()
    );
    let (m, f) = (median(mih_times), median(sweep_times));
    let mut lat = vec![];
    for i in 0..b.single.min(b.queries) {
        let t = Instant::now();
        let one = mih::search(
            &index,
            set.words(),
            &queries[i * w..(i + 1) * w],
            &cut[..1],
            w,
        );
        std::hint::black_box(one);
        lat.push(t.elapsed().as_secs_f64());
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let tables = index.tables.len();
    let name = format!("index_{n}x{}_{}_d{d}", b.queries, set.algo().name());
    let figures = vec![
        Figure {
            name: name.clone(),
            backend: format!(
                "mih ({tables} tables, {} threads)",
                rayon::current_num_threads()
            ),
            rate: b.queries as f64 / m,
            unit: "queries/s",
            megapixels_per_s: None,
            note: format!(
                "{m:.3} s median of {}; {} pairs (same as the sweep's on its {sample} queries); {} compared in full, {} swept for skew; {:.0}x the sweep; anonymous memory +{} MB",
                b.rounds,
                found.hits.len(),
                found.compared,
                found.swept,
                f / m,
                rss_mih.saturating_sub(rss_before) >> 20
            ),
        },
        Figure {
            name: name.clone(),
            backend: "mih, queries probed one at a time".into(),
            rate: b.queries as f64 / median(each_times.clone()),
            unit: "queries/s",
            megapixels_per_s: None,
            note: format!(
                "{:.3} s median of {}; the join above is {:.1}x this",
                median(each_times.clone()),
                b.rounds,
                median(each_times) / m
            ),
        },
        Figure {
            name: name.clone(),
            backend: format!(
                "cpu sweep ({} threads, {})",
                rayon::current_num_threads(),
                hamming::kernel_name()
            ),
            rate: b.queries as f64 / f,
            unit: "queries/s",
            megapixels_per_s: None,
            note: format!(
                "{f:.3} s median of {}, timed on {sample} queries and scaled",
                b.rounds
            ),
        },
        Figure {
            name: format!("{name}_single"),
            backend: "mih, one query per call".into(),
            rate: lat.len() as f64 / lat.iter().sum::<f64>().max(1e-12),
            unit: "queries/s",
            megapixels_per_s: None,
            note: format!(
                "latency p50 {:.3} ms, p99 {:.3} ms over {} queries",
                pct(0.5) * 1e3,
                pct(0.99) * 1e3,
                lat.len()
            ),
        },
    ];
    publish(&figures, None, b.json)
}
