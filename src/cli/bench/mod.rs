//! `hashsweep bench hash`: CPU per-frame cost, GPU batch throughput at several batch sizes,
//! and optionally a corpus end to end. Every report records the machine it ran on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Subcommand;

mod hash_bench;
mod index_bench;
mod match_bench;
mod robustness_bench;
mod video_bench;
use serde::Serialize;
use serde_json::json;

use crate::engine::{Algorithms, BackendChoice, Engine, EngineOptions};
use crate::frame::Frame;
use crate::matching;
use crate::refset::Algo;

#[derive(Subcommand, Debug)]
pub enum BenchArgs {
    /// Hashing throughput: CPU per frame, GPU per batch size, and a corpus if given.
    Hash {
        /// Folder of images to hash end to end (default: generated JPEGs from thumbnail to
        /// 24 MP).
        corpus: Option<PathBuf>,
        /// GPU backend to measure beside the CPU (`gpu` includes software adapters).
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Batch sizes for the GPU throughput figure.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
        batch_sizes: Vec<usize>,
        /// Minimum seconds per measurement.
        #[arg(long, default_value_t = 1.0)]
        min_time: f64,
        /// Write the report as JSON to this file too.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Robustness to common edits: recall at the recommended threshold, the threshold for
    /// 99.9% precision, distance distributions; Markdown, CSV and SVG into --output.
    Robustness {
        /// Folder of images (default: generated images).
        corpus: Option<PathBuf>,
        /// How many images to generate when no corpus is given.
        #[arg(long, default_value_t = 40)]
        generate: usize,
        /// Images larger than this on their long side are first reduced to it (speed).
        #[arg(long, default_value_t = 1024)]
        max_side: u32,
        /// Folder the tables and plots are written to.
        #[arg(short, long, default_value = "robustness")]
        output: PathBuf,
        /// Backend that hashes the originals and their edits.
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
    },
    /// vPDQ end to end: the videos of a folder decoded by FFmpeg and hashed, frames per
    /// second per backend and interval, with the decode-only rate beside it.
    Video {
        /// Folder of videos (default: the shared sample clips beside the checkout).
        folder: Option<PathBuf>,
        /// GPU backend to measure beside the CPU (`gpu` includes software adapters).
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Seconds between hashed frames; 0 = every frame.
        #[arg(long, value_delimiter = ',', default_value = "1,0")]
        intervals: Vec<f64>,
        /// Write the report as JSON to this file too.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The multi-index against the sweep on one indexed set: batch time (medians),
    /// identical pairs, single-query latency and memory.
    Index(index_bench::IndexBench),
    /// Matching throughput: comparisons per second per backend on random hashes.
    Match {
        /// Reference entries (random, generated in memory).
        #[arg(long, default_value_t = 1_000_000)]
        refs_count: u64,
        /// Query hashes.
        #[arg(long, default_value_t = 1000)]
        queries: u64,
        /// Hash kind of the random set and queries.
        #[arg(long, value_enum, default_value = "pdq")]
        algo: super::refs::AlgoArg,
        /// Pairs counted at most this far apart (default: 31 for PDQ, 10 for pHash).
        #[arg(long)]
        max_distance: Option<u32>,
        /// Backends to measure beside the CPU (`gpu` includes software adapters).
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Packed little-endian hashes to use as the set instead of random ones
        /// (benches/compare/faiss_range.py writes them, for a side-by-side run).
        #[arg(long, requires = "raw_queries")]
        raw_refs: Option<PathBuf>,
        /// Packed little-endian hashes to use as the queries (with --raw-refs).
        #[arg(long)]
        raw_queries: Option<PathBuf>,
        /// Minimum seconds per measurement.
        #[arg(long, default_value_t = 1.0)]
        min_time: f64,
        /// Write the report as JSON to this file too.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(Serialize)]
pub(super) struct Figure {
    name: String,
    backend: String,
    /// Frames per second for hashing figures, comparisons per second for matching ones.
    rate: f64,
    unit: &'static str,
    megapixels_per_s: Option<f64>,
    note: String,
}

pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    match args {
        BenchArgs::Hash {
            corpus,
            backend,
            batch_sizes,
            min_time,
            json,
        } => hash_bench::bench_hash(corpus, backend, &batch_sizes, min_time, json),
        BenchArgs::Robustness {
            corpus,
            generate,
            max_side,
            output,
            backend,
        } => robustness_bench::bench_robustness(corpus, generate, max_side, &output, backend),
        BenchArgs::Video {
            folder,
            backend,
            intervals,
            json,
        } => video_bench::bench_video(folder, backend, &intervals, json),
        BenchArgs::Index(b) => index_bench::bench_index(b),
        BenchArgs::Match {
            refs_count,
            queries,
            algo,
            max_distance,
            backend,
            raw_refs,
            raw_queries,
            min_time,
            json,
        } => {
            let algo = Algo::from(algo);
            let words = algo.words();
            let (refs, qs) = match (raw_refs, raw_queries) {
                (Some(r), Some(q)) => (
                    match_bench::read_raw(&r, words)?,
                    match_bench::read_raw(&q, words)?,
                ),
                _ => match_bench::random_match_data(algo, refs_count, queries),
            };
            let d = max_distance.unwrap_or_else(|| matching::default_max_distance(algo));
            match_bench::bench_match(algo, &refs, &qs, d, backend, min_time, json)
        }
    }
}

/// The GPU engine to measure beside the CPU, if `backend` allows one and it opens.
pub(super) fn gpu_beside_cpu(backend: BackendChoice) -> Option<Engine> {
    match backend {
        BackendChoice::Cpu => None,
        b => Engine::open(b, None).ok().filter(|e| e.adapter().is_some()),
    }
}

/// The CPU, then with a GPU the hybrid engine (what `--backend gpu` runs) and the device
/// alone (`--gpu-only`), each with a name for the tables.
fn engines_beside_cpu(backend: BackendChoice) -> Vec<(&'static str, Engine)> {
    let mut out = vec![("cpu", Engine::Cpu)];
    if let Some(hybrid) = gpu_beside_cpu(backend) {
        out.push(("hybrid", hybrid));
        let only = EngineOptions {
            gpu_only: true,
            ..EngineOptions::default()
        };
        if let Ok(e) = Engine::open_with(backend, &only) {
            out.push(("gpu-only", e));
        }
    }
    out
}

/// Print the table and write the JSON report, both naming the machine and the command.
pub(super) fn publish(
    figures: &[Figure],
    adapter: Option<&crate::gpu::AdapterSummary>,
    json_path: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let report = json!({
        "tool": format!("hashsweep {}", env!("CARGO_PKG_VERSION")),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "cpu": cpu_model(),
        "threads": rayon::current_num_threads(),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "os": std::env::consts::OS,
        "adapter": adapter,
        "figures": figures,
    });
    print_table(&report, figures)?;
    if let Some(p) = json_path {
        std::fs::write(&p, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(0)
}

fn per_frame(name: &str, f: &Frame, min: Duration, op: impl Fn(&Frame)) -> Figure {
    let (n, secs) = repeat(min, || op(f));
    Figure {
        name: name.into(),
        backend: "cpu".into(),
        rate: n as f64 / secs,
        unit: "frames/s",
        megapixels_per_s: Some(n as f64 * f.pixels() as f64 / 1e6 / secs),
        note: format!("{:.3} ms per frame", secs * 1e3 / n as f64),
    }
}

fn batch(e: &Engine, mode: &str, frames: &[Frame], min: Duration, name: &str) -> Figure {
    let refs: Vec<&Frame> = frames.iter().collect();
    // One warm-up round: buffers grow to size and shaders finish compiling.
    let _ = e.hash(&refs, Algorithms::ALL);
    let before = e.shares();
    let (n, secs) = repeat(min, || {
        std::hint::black_box(e.hash(&refs, Algorithms::ALL));
    });
    let after = e.shares();
    let per_round: f64 = frames.iter().map(|f| f.pixels() as f64).sum::<f64>() / 1e6;
    let split = match e {
        Engine::Gpu(_) => format!(
            "; {} frames on the GPU, {} on the CPU",
            after.gpu_frames - before.gpu_frames,
            after.cpu_frames - before.cpu_frames
        ),
        Engine::Cpu => String::new(),
    };
    Figure {
        name: name.into(),
        backend: format!("{mode}: {}", e.describe()),
        rate: (n * frames.len()) as f64 / secs,
        unit: "frames/s",
        megapixels_per_s: Some(n as f64 * per_round / secs),
        note: format!("{n} rounds of {} frames{split}", frames.len()),
    }
}

pub(super) fn repeat(min: Duration, mut op: impl FnMut()) -> (usize, f64) {
    let t = Instant::now();
    let mut n = 0;
    while n == 0 || t.elapsed() < min {
        op();
        n += 1;
    }
    (n, t.elapsed().as_secs_f64())
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn print_table(report: &serde_json::Value, figures: &[Figure]) -> std::io::Result<()> {
    crate::cli::outln!(
        "{}  |  cpu: {} x{}",
        report["tool"],
        report["cpu"],
        report["threads"]
    )?;
    if let Some(a) = report["adapter"].as_object() {
        crate::cli::outln!(
            "adapter: {} ({}, {}) driver {}",
            a["name"],
            a["backend"],
            a["device_type"],
            a["driver"]
        )?;
    }
    crate::cli::outln!(
        "{:<34} {:>14} {:<14} {:>9}  backend / note",
        "figure",
        "rate",
        "unit",
        "MP/s"
    )?;
    for f in figures {
        let mp = f
            .megapixels_per_s
            .map_or(String::new(), |m| format!("{m:.1}"));
        crate::cli::outln!(
            "{:<34} {:>14.1} {:<14} {:>9}  {} / {}",
            f.name,
            f.rate,
            f.unit,
            mp,
            f.backend,
            f.note
        )?;
    }
    Ok(())
}
