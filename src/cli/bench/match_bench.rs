//! `hashsweep bench match`: comparisons per second of the CPU matcher and of the GPU
//! matcher with the set resident and streamed, each beside the bound that limits it.

use std::path::PathBuf;
use std::time::Duration;

use super::{Figure, gpu_beside_cpu, publish, repeat};
use crate::cpu::hamming;
use crate::engine::{BackendChoice, Engine};
use crate::refset::Algo;

/// Published peak memory bandwidth of common compute GPUs, GB/s, by a name fragment; the
/// matcher streams the set from memory, so this bounds its speed on large sets.
pub fn memory_bandwidth_gbs(adapter: &str) -> Option<f64> {
    const KNOWN: [(&str, f64); 9] = [
        ("H200", 4800.0),
        ("H100 PCIe", 2000.0),
        ("H100", 3350.0),
        ("A100", 1555.0),
        ("L40S", 864.0),
        ("RTX 4090", 1008.0),
        ("RTX 3090", 936.0),
        ("L4", 300.0),
        ("T4", 320.0),
    ];
    KNOWN
        .iter()
        .find(|(k, _)| adapter.contains(k))
        .map(|&(_, b)| b)
}

pub(super) fn read_raw(path: &PathBuf, words: usize) -> anyhow::Result<Vec<u64>> {
    let bytes = std::fs::read(path)?;
    if bytes.len() % (words * 8) != 0 {
        anyhow::bail!(
            "{}: {} bytes is not a whole number of hashes",
            path.display(),
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect())
}

/// Random set and queries; every tenth query is a planted neighbour of some entry, so the
/// run reports matches to compare across backends.
pub(super) fn random_match_data(algo: Algo, n: u64, q: u64) -> (Vec<u64>, Vec<u64>) {
    let w = algo.words();
    let refs: Vec<u64> = crate::hash::random_words(1).take(n as usize * w).collect();
    let mut qs: Vec<u64> = crate::hash::random_words(2).take(q as usize * w).collect();
    for i in (0..q as usize).step_by(10).filter(|_| n > 0) {
        let e = (i * 7919) % n as usize;
        qs[i * w..(i + 1) * w].copy_from_slice(&refs[e * w..(e + 1) * w]);
        qs[i * w] ^= (1u64 << (i % 40)) - 1; // i % 40 bits away
    }
    (refs, qs)
}

pub(super) fn bench_match(
    algo: Algo,
    refs: &[u64],
    queries: &[u64],
    max_distance: u32,
    backend: BackendChoice,
    min_time: f64,
    json_path: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let w = algo.words();
    let (n, q) = (refs.len() / w, queries.len() / w);
    let comparisons = n as f64 * q as f64;
    let min = Duration::from_secs_f64(min_time);
    let cut = vec![max_distance; q];
    let mut found = 0;
    let (runs, secs) = repeat(min, || found = hamming::scan(refs, queries, &cut, w).len());
    let mut figures = vec![Figure {
        name: format!("match_{n}x{q}_{}_d{max_distance}", algo.name()),
        backend: format!(
            "cpu ({} threads, {})",
            rayon::current_num_threads(),
            hamming::kernel_name()
        ),
        rate: comparisons * runs as f64 / secs,
        unit: "comparisons/s",
        megapixels_per_s: None,
        note: format!(
            "{found} pairs within {max_distance}; {:.3} s per run; set read at {:.2} GB/s",
            secs / runs as f64,
            (refs.len() * 8) as f64 * runs as f64 / secs / 1e9
        ),
    }];
    let engine = gpu_beside_cpu(backend);
    if let Some(e) = &engine {
        figures.extend(gpu_match_figures(
            e,
            algo,
            refs,
            queries,
            max_distance,
            min,
            found,
        )?);
    }
    let adapter = engine.as_ref().and_then(|e| e.adapter());
    publish(&figures, adapter, json_path)
}

/// The GPU matcher twice on the same data: with the set resident on the device (uploaded
/// once, then only queries cross the bus; bound by the adapter's popcount rate) and streamed
/// through in chunks as a set too large for the device is (bound by the bus and memory).
fn gpu_match_figures(
    e: &Engine,
    algo: Algo,
    refs: &[u64],
    queries: &[u64],
    max_distance: u32,
    min: Duration,
    cpu_found: usize,
) -> anyhow::Result<Vec<Figure>> {
    let Some(ctx) = e.gpu_context() else {
        return Ok(vec![]);
    };
    let w = algo.words();
    let (n, q) = (refs.len() / w, queries.len() / w);
    let comparisons = n as f64 * q as f64;
    let m = crate::gpu::GpuMatcher::new(ctx.clone())?;
    let set = crate::gpu::matcher::SetView {
        key: u64::MAX,
        words: refs,
        hash_words: w,
    };
    let req = crate::gpu::matcher::Request {
        queries,
        max_distance,
        top_k: None,
    };
    let name = e.adapter().map_or(String::new(), |a| a.name.clone());
    let mut out = vec![];
    for (how, budget) in [("resident", None), ("streamed", Some(0))] {
        m.set_resident_budget(budget);
        let before = ctx.counters();
        let mut found = m.scan(&set, &req)?.len(); // warm-up: upload, shaders, buffers
        let (runs, secs) = repeat(min, || {
            found = m.scan(&set, &req).expect("GPU scan").len();
        });
        let after = ctx.counters();
        let rate = comparisons * runs as f64 / secs;
        let uploaded = after.refs_bytes_uploaded - before.refs_bytes_uploaded;
        let bound = match how {
            "resident" => popcount_pairs_per_s(&name, w).map_or(String::new(), |b| {
                format!(
                    "; {:.1}% of the adapter's popcount bound {b:.3e} pairs/s",
                    rate / b * 100.0
                )
            }),
            _ => memory_bandwidth_gbs(&name).map_or(String::new(), |b| {
                let gbs = (refs.len() * 8) as f64 * runs as f64 / secs / 1e9;
                format!("; set read at {gbs:.2} GB/s of a {b:.0} GB/s memory bound")
            }),
        };
        out.push(Figure {
            name: format!("match_{n}x{q}_{}_d{max_distance}_{how}", algo.name()),
            backend: e.describe(),
            rate,
            unit: "comparisons/s",
            megapixels_per_s: None,
            note: format!(
                "{found} pairs{}; {:.1} MB of set uploaded over {} runs{bound}",
                if found == cpu_found {
                    " (= cpu)"
                } else {
                    " (DIFFERS FROM CPU)"
                },
                uploaded as f64 / 1e6,
                runs + 1
            ),
        });
    }
    m.set_resident_budget(None);
    Ok(out)
}

/// Published shape of common NVIDIA compute GPUs: streaming multiprocessors and boost clock
/// (GHz). From compute capability 7.0 on, an SM issues 16 32-bit population counts per clock
/// (CUDA programming guide's instruction throughput table), so a resident-set scan, one
/// popcount per 32-bit word of each pair, can reach at most SMs x 16 x clock / words pairs/s.
pub fn popcount_pairs_per_s(adapter: &str, hash_words: usize) -> Option<f64> {
    const KNOWN: [(&str, f64, f64); 9] = [
        ("H200", 132.0, 1.98),
        ("H100 PCIe", 114.0, 1.755),
        ("H100", 132.0, 1.98),
        ("A100", 108.0, 1.41),
        ("L40S", 142.0, 2.52),
        ("RTX 4090", 128.0, 2.52),
        ("RTX 3090", 82.0, 1.695),
        ("L4", 58.0, 2.04),
        ("T4", 40.0, 1.59),
    ];
    KNOWN
        .iter()
        .find(|(k, ..)| adapter.contains(k))
        .map(|&(_, sms, ghz)| sms * 16.0 * ghz * 1e9 / (hash_words * 2) as f64)
}
