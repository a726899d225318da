//! `hashsweep bench hash`: CPU per-frame cost, GPU batch throughput at several batch sizes,
//! and optionally a corpus end to end. Every report records the machine it ran on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Subcommand;

mod match_bench;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::cpu::{pdq, phash};
use crate::decode::{self, DecodeOptions};
use crate::engine::{Algorithms, BackendChoice, Engine, EngineOptions};
use crate::frame::Frame;
use crate::matching;
use crate::refset::Algo;
use crate::scan::walk;

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
        } => bench_hash(corpus, backend, &batch_sizes, min_time, json),
        BenchArgs::Robustness {
            corpus,
            generate,
            max_side,
            output,
            backend,
        } => bench_robustness(corpus, generate, max_side, &output, backend),
        BenchArgs::Video {
            folder,
            backend,
            intervals,
            json,
        } => bench_video(folder, backend, &intervals, json),
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

fn bench_hash(
    corpus: Option<PathBuf>,
    backend: BackendChoice,
    batch_sizes: &[usize],
    min_time: f64,
    json_path: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let min = Duration::from_secs_f64(min_time);
    let frame = Frame::synthetic(512, 512, 7);
    let mut figures = vec![
        per_frame("cpu_pdq_512x512_1thread", &frame, min, |f| {
            std::hint::black_box(pdq::pdq(f.rgb(), 512, 512));
        }),
        per_frame("cpu_phash_512x512_1thread", &frame, min, |f| {
            std::hint::black_box(phash::phash(f.rgb(), 512, 512));
        }),
    ];
    let engines = engines_beside_cpu(backend);
    // Engines in turn at each size, so that a drift of the machine over the run does not
    // fall on one engine.
    for &n in batch_sizes {
        let frames: Vec<Frame> = (0..n)
            .map(|i| Frame::synthetic(512, 512, i as u64))
            .collect();
        for (mode, e) in &engines {
            figures.push(batch(
                e,
                mode,
                &frames,
                min,
                &format!("batch_{n}x512x512_pdq+phash"),
            ));
        }
    }
    if let Some((_, e)) = engines.iter().find(|(m, _)| *m == "gpu-only") {
        figures.extend(host_time_figures(e, min));
    }
    let (dir, generated) = match corpus {
        Some(d) => (d, false),
        None => (generate_corpus()?, true),
    };
    figures.extend(corpus_figures(&dir, &engines, min)?);
    if generated {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let adapter = engines.iter().find_map(|(_, e)| e.adapter());
    publish(&figures, adapter, json_path)
}

/// The GPU path's host time per 1-megapixel frame, split into packing, submitting, waiting
/// and unpacking, against the CPU path's hashing time for the same frame on one thread: the
/// host work of the GPU path must stay a small fraction of simply hashing on the CPU.
fn host_time_figures(gpu_only: &Engine, min: Duration) -> Vec<Figure> {
    let frames: Vec<Frame> = (0..16).map(|i| Frame::synthetic(1024, 1024, i)).collect();
    let cpu = per_frame("cpu_pdq+phash_1024x1024_1thread", &frames[0], min, |f| {
        std::hint::black_box(crate::cpu::hash_frame(f, Algorithms::ALL));
    });
    let Some(h) = gpu_only.gpu_hasher() else {
        return vec![cpu];
    };
    let refs: Vec<&Frame> = frames.iter().collect();
    let _ = gpu_only.hash(&refs, Algorithms::ALL);
    h.take_times();
    repeat(min, || {
        std::hint::black_box(gpu_only.hash(&refs, Algorithms::ALL));
    });
    let t = h.take_times();
    let per = |s: f64| s / t.frames.max(1) as f64 * 1e3;
    let host_ms = t.host_s_per_frame() * 1e3;
    let cpu_ms = 1e3 / cpu.rate;
    let host = Figure {
        name: "gpu_host_time_per_1024x1024_frame".into(),
        backend: gpu_only.describe(),
        rate: host_ms,
        unit: "ms/frame",
        megapixels_per_s: None,
        note: format!(
            "host work {:.2}x the CPU path's {cpu_ms:.2} ms (goal <= 0.25): pack {:.3} + submit {:.3} + unpack {:.3} ms; waiting on the device {:.3} ms; {} batches of {} frames",
            host_ms / cpu_ms,
            per(t.pack_s),
            per(t.submit_s),
            per(t.unpack_s),
            per(t.wait_s),
            t.batches,
            t.frames / t.batches.max(1)
        ),
    };
    vec![cpu, host]
}

fn bench_video(
    folder: Option<PathBuf>,
    backend: BackendChoice,
    intervals: &[f64],
    json_path: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let dir = folder.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/video")
    });
    let (files, _) = crate::scan::walk::expand(std::slice::from_ref(&dir));
    let videos: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| {
            matches!(
                crate::decode::sniff::detect_file(p),
                crate::decode::sniff::Detected::Video(_)
            )
        })
        .collect();
    anyhow::ensure!(!videos.is_empty(), "no videos in {}", dir.display());
    let cpu = Engine::Cpu;
    let gpu = gpu_beside_cpu(backend);
    let mut engines = vec![&cpu];
    engines.extend(gpu.as_ref());
    let mut figures = vec![];
    for &interval in intervals {
        let opts = crate::video::VideoOptions {
            interval,
            threads: rayon::current_num_threads(),
            ..Default::default()
        };
        let t = Instant::now();
        let mut n = 0;
        for v in &videos {
            n += crate::video::decode_only(v, &opts)?;
        }
        let decode_s = t.elapsed().as_secs_f64();
        figures.push(Figure {
            name: format!("vpdq_decode_only_every_{interval}s"),
            backend: "ffmpeg".into(),
            rate: n as f64 / decode_s,
            unit: "frames/s",
            megapixels_per_s: None,
            note: format!("{n} sampled frames of {} videos, not hashed", videos.len()),
        });
        for e in &engines {
            let t = Instant::now();
            let mut n = 0;
            for v in &videos {
                n += crate::video::hash_video(v, e, &opts)?.features.len();
            }
            let secs = t.elapsed().as_secs_f64();
            figures.push(Figure {
                name: format!("vpdq_every_{interval}s"),
                backend: e.describe(),
                rate: n as f64 / secs,
                unit: "frames/s",
                megapixels_per_s: None,
                note: format!(
                    "{n} frames of {} videos in {secs:.2} s, decode + hash",
                    videos.len()
                ),
            });
        }
    }
    let adapter = gpu.as_ref().and_then(|g| g.adapter());
    publish(&figures, adapter, json_path)
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

/// JPEGs from thumbnail to 24 MP (geometric sizes, 4:3), in a fresh temporary folder.
fn generate_corpus() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hashsweep-bench-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let n = 12;
    let sizes: Vec<(u32, u32)> = (0..n)
        .map(|i| {
            let w = 160.0 * (5656.0f64 / 160.0).powf(i as f64 / (n - 1) as f64);
            (w as u32, (w * 0.75) as u32)
        })
        .collect();
    sizes
        .par_iter()
        .enumerate()
        .try_for_each(|(i, &(w, h))| -> anyhow::Result<()> {
            let f = Frame::synthetic(w, h, i as u64);
            let img = image::RgbImage::from_raw(w, h, f.rgb().to_vec()).expect("whole frame");
            img.save(dir.join(format!("gen{i:02}_{w}x{h}.jpg")))?;
            Ok(())
        })?;
    Ok(dir)
}

/// End to end on a folder, stage by stage: read, decode (all cores), then hashing per
/// engine with its speed as a fraction of the CPU's on the same frames.
fn corpus_figures(
    dir: &std::path::Path,
    engines: &[(&'static str, Engine)],
    min: Duration,
) -> anyhow::Result<Vec<Figure>> {
    let (files, _) = walk::expand(&[dir.to_path_buf()]);
    let t = Instant::now();
    let bytes: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let frames: Vec<Frame> = bytes
        .par_iter()
        .filter_map(|b| decode::decode_bytes(b, &DecodeOptions::default()).ok())
        .map(|d| d.frame)
        .collect();
    let decode_s = t.elapsed().as_secs_f64();
    let n = frames.len() as f64;
    let mp: f64 = frames.iter().map(|f| f.pixels() as f64).sum::<f64>() / 1e6;
    let mut out = vec![Figure {
        name: format!("corpus_read+decode_{}_files_{mp:.0}MP", frames.len()),
        backend: format!("cpu ({} threads)", rayon::current_num_threads()),
        rate: n / (read_s + decode_s),
        unit: "images/s",
        megapixels_per_s: Some(mp / (read_s + decode_s)),
        note: format!("read {read_s:.3} s, decode {decode_s:.3} s"),
    }];
    let mut cpu_rate = None;
    for (mode, e) in engines {
        let mut hashed = batch(e, mode, &frames, min, "corpus_hash_pdq+phash");
        let of_cpu = *cpu_rate.get_or_insert(hashed.rate);
        hashed.note += &format!("; {:.2}x the CPU engine", hashed.rate / of_cpu);
        let hash_s = n / hashed.rate;
        out.push(Figure {
            name: "corpus_end_to_end".into(),
            backend: format!("{mode}: {}", e.describe()),
            rate: n / (read_s + decode_s + hash_s),
            unit: "images/s",
            megapixels_per_s: Some(mp / (read_s + decode_s + hash_s)),
            note: format!("read {read_s:.3} s + decode {decode_s:.3} s + hash {hash_s:.3} s"),
        });
        out.push(hashed);
    }
    Ok(out)
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

fn bench_robustness(
    corpus: Option<PathBuf>,
    generate: usize,
    max_side: u32,
    output: &std::path::Path,
    backend: BackendChoice,
) -> anyhow::Result<i32> {
    let (images, title) = match &corpus {
        Some(dir) => {
            let (files, _) = walk::expand(std::slice::from_ref(dir));
            let imgs: Vec<image::RgbImage> = files
                .par_iter()
                .filter_map(|p| decode::decode_file(p, &DecodeOptions::default()).ok())
                .map(|d| {
                    let f = d.frame;
                    let img = image::RgbImage::from_raw(f.width(), f.height(), f.rgb().to_vec())
                        .expect("whole frame");
                    if f.width().max(f.height()) > max_side {
                        let s = f64::from(max_side) / f64::from(f.width().max(f.height()));
                        let (w, h) = (
                            (f64::from(f.width()) * s).max(1.0) as u32,
                            (f64::from(f.height()) * s).max(1.0) as u32,
                        );
                        image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle)
                    } else {
                        img
                    }
                })
                .collect();
            let title = format!("{} ({} images)", dir.display(), imgs.len());
            (imgs, title)
        }
        None => (
            crate::robustness::generate(generate, 1),
            format!("{generate} generated images"),
        ),
    };
    if images.len() < 2 {
        anyhow::bail!("robustness needs at least two images");
    }
    let engine = Engine::open(backend, None)?;
    let before = images.len();
    let images = crate::robustness::hashable(&engine, images)?;
    let featureless = before - images.len();
    let images = crate::robustness::distinct(&engine, images)?;
    let title = format!(
        "{title}, {} distinct ({} near-duplicates and {featureless} below PDQ quality {} set aside)",
        images.len(),
        before - featureless - images.len(),
        crate::matching::DEFAULT_MIN_QUALITY
    );
    let rows = crate::robustness::run(&engine, &images)?;
    crate::robustness::report::write_all(&rows, output, &title)?;
    let headline = |t: &str, a: &str| {
        rows.iter()
            .find(|r| r.transform == t && r.algo == a)
            .map_or(String::new(), |r| format!("{:.0}%", r.recall * 100.0))
    };
    crate::cli::outln!(
        "robustness of {title} on {}; tables and plots in {}",
        engine.describe(),
        output.display()
    )?;
    crate::cli::outln!(
        "originals with borders --trim-borders would cut: {} of {}",
        crate::robustness::trimmed_count(&images),
        images.len()
    )?;
    let algos = crate::robustness::ALGOS.map(|(a, _, _)| a);
    let cells = |cells: Vec<String>| -> String {
        cells
            .iter()
            .zip(algos)
            .map(|(c, a)| format!(" {c:>w$}", w = a.len().max(5)))
            .collect()
    };
    crate::cli::outln!(
        "{:<16}{}",
        "transform",
        cells(algos.map(String::from).to_vec())
    )?;
    for (t, _) in crate::robustness::transforms::ALL {
        crate::cli::outln!(
            "{t:<16}{}",
            cells(algos.iter().map(|a| headline(t, a)).collect())
        )?;
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
