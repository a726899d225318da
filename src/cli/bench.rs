//! `hashsweep bench hash`: CPU per-frame cost, GPU batch throughput at several batch sizes,
//! and optionally a corpus end to end. Every report records the machine it ran on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Subcommand;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::cpu::{hamming, pdq, phash};
use crate::decode::{self, DecodeOptions};
use crate::engine::{Algorithms, BackendChoice, Engine};
use crate::frame::Frame;
use crate::matching::{self, MatchParams, QueryHashes};
use crate::refset::{Algo, write};
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
        #[arg(short, long, default_value = "robustness")]
        output: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
    },
    /// vPDQ end to end: the videos of a folder decoded by FFmpeg and hashed, frames per
    /// second per backend and interval, with the decode-only rate beside it.
    Video {
        /// Folder of videos (default: the shared sample clips beside the checkout).
        folder: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Seconds between hashed frames; 0 = every frame.
        #[arg(long, value_delimiter = ',', default_value = "1,0")]
        intervals: Vec<f64>,
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
        #[arg(long, value_enum, default_value = "pdq")]
        algo: super::refs::AlgoArg,
        #[arg(long)]
        max_distance: Option<u32>,
        /// Backends to measure beside the CPU (`gpu` includes software adapters).
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Packed little-endian hashes to use as the set instead of random ones
        /// (benches/compare/faiss_range.py writes them, for a side-by-side run).
        #[arg(long, requires = "raw_queries")]
        raw_refs: Option<PathBuf>,
        #[arg(long)]
        raw_queries: Option<PathBuf>,
        #[arg(long, default_value_t = 1.0)]
        min_time: f64,
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(Serialize)]
struct Figure {
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
                (Some(r), Some(q)) => (read_raw(&r, words)?, read_raw(&q, words)?),
                _ => random_match_data(algo, refs_count, queries),
            };
            let d = max_distance.unwrap_or_else(|| matching::default_max_distance(algo));
            bench_match(algo, &refs, &qs, d, backend, min_time, json)
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
    let frame = synthetic(512, 512, 7);
    let mut figures = vec![
        per_frame("cpu_pdq_512x512_1thread", &frame, min, |f| {
            std::hint::black_box(pdq::pdq(f.rgb(), 512, 512));
        }),
        per_frame("cpu_phash_512x512_1thread", &frame, min, |f| {
            std::hint::black_box(phash::phash(f.rgb(), 512, 512));
        }),
    ];
    let cpu = Engine::Cpu;
    let gpu = gpu_beside_cpu(backend);
    let mut engines = vec![&cpu];
    engines.extend(gpu.as_ref());
    for e in &engines {
        for &n in batch_sizes {
            let frames: Vec<Frame> = (0..n).map(|i| synthetic(512, 512, i as u64)).collect();
            figures.push(batch(
                e,
                &frames,
                min,
                &format!("batch_{n}x512x512_pdq+phash"),
            ));
        }
    }
    let (dir, generated) = match corpus {
        Some(d) => (d, false),
        None => (generate_corpus()?, true),
    };
    figures.extend(corpus_figures(&dir, &engines, min)?);
    if generated {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let adapter = gpu.as_ref().and_then(|g| g.adapter());
    publish(&figures, adapter, json_path)
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
                crate::scan::sniff::detect_file(p),
                crate::scan::sniff::Detected::Video(_)
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
fn gpu_beside_cpu(backend: BackendChoice) -> Option<Engine> {
    match backend {
        BackendChoice::Cpu => None,
        b => Engine::open(b, None).ok().filter(|e| e.adapter().is_some()),
    }
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
            let f = synthetic(w, h, i as u64);
            let img = image::RgbImage::from_raw(w, h, f.rgb().to_vec()).expect("whole frame");
            img.save(dir.join(format!("gen{i:02}_{w}x{h}.jpg")))?;
            Ok(())
        })?;
    Ok(dir)
}

/// End to end on a folder, stage by stage: read, decode (all cores), then hashing per
/// backend with the GPU's upload / compute / download split.
fn corpus_figures(
    dir: &std::path::Path,
    engines: &[&Engine],
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
    for e in engines {
        let hashed = batch(e, &frames, min, "corpus_hash_pdq+phash");
        let hash_s = n / hashed.rate;
        let stages = match e {
            Engine::Gpu(g) => {
                let t = g.take_times();
                let per = |s: f64| s / t.batches.max(1) as f64;
                format!(
                    "; per batch: upload {:.4} s, gpu {:.4} s, download {:.4} s",
                    per(t.upload_s),
                    per(t.gpu_s),
                    per(t.download_s)
                )
            }
            Engine::Cpu => String::new(),
        };
        out.push(Figure {
            name: "corpus_end_to_end".into(),
            backend: e.describe(),
            rate: n / (read_s + decode_s + hash_s),
            unit: "images/s",
            megapixels_per_s: Some(mp / (read_s + decode_s + hash_s)),
            note: format!(
                "read {read_s:.3} s + decode {decode_s:.3} s + hash {hash_s:.3} s{stages}"
            ),
        });
        out.push(hashed);
    }
    Ok(out)
}

/// Print the table and write the JSON report, both naming the machine and the command.
fn publish(
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
    print_table(&report, figures);
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
    let images = crate::robustness::distinct(&engine, images)?;
    let title = format!(
        "{title}, {} distinct ({} near-duplicates set aside)",
        images.len(),
        before - images.len()
    );
    let rows = crate::robustness::run(&engine, &images)?;
    crate::robustness::report::write_all(&rows, output, &title)?;
    let headline = |t: &str, a: &str| {
        rows.iter()
            .find(|r| r.transform == t && r.algo == a)
            .map_or(String::new(), |r| format!("{:.0}%", r.recall * 100.0))
    };
    println!(
        "robustness of {title} on {}; tables and plots in {}",
        engine.describe(),
        output.display()
    );
    println!(
        "{:<16} {:>8} {:>14} {:>8}",
        "transform", "pdq", "pdq_dihedral", "phash"
    );
    for (t, _) in crate::robustness::transforms::ALL {
        println!(
            "{t:<16} {:>8} {:>14} {:>8}",
            headline(t, "pdq"),
            headline(t, "pdq_dihedral"),
            headline(t, "phash")
        );
    }
    Ok(0)
}

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

fn read_raw(path: &PathBuf, words: usize) -> anyhow::Result<Vec<u64>> {
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
fn random_match_data(algo: Algo, n: u64, q: u64) -> (Vec<u64>, Vec<u64>) {
    let w = algo.words();
    let refs: Vec<u64> = write::random_words(1).take(n as usize * w).collect();
    let mut qs: Vec<u64> = write::random_words(2).take(q as usize * w).collect();
    for i in (0..q as usize).step_by(10).filter(|_| n > 0) {
        let e = (i * 7919) % n as usize;
        qs[i * w..(i + 1) * w].copy_from_slice(&refs[e * w..(e + 1) * w]);
        qs[i * w] ^= (1u64 << (i % 40)) - 1; // i % 40 bits away
    }
    (refs, qs)
}

fn bench_match(
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
    if let Some(ctx) = engine.as_ref().and_then(Engine::gpu_context) {
        let m = crate::gpu::GpuMatcher::new(ctx)?;
        let mut qh = QueryHashes::new(algo);
        for (i, h) in queries.chunks_exact(w).enumerate() {
            qh.push(i as u32, 0, h);
        }
        let p = MatchParams {
            max_distance,
            top_k: None,
        };
        let mut gpu_found = m.scan(refs, &qh, &p)?.len(); // warm-up: buffers and shaders
        let (runs, secs) = repeat(min, || {
            gpu_found = m.scan(refs, &qh, &p).expect("GPU scan").len()
        });
        let bytes = (refs.len() * 8) as f64 * runs as f64 / secs;
        let name = engine
            .as_ref()
            .and_then(|e| e.adapter())
            .map_or(String::new(), |a| a.name.clone());
        let bound = memory_bandwidth_gbs(&name).map_or(String::new(), |b| {
            format!(
                " of a {b:.0} GB/s memory bound ({:.1}%)",
                bytes / 1e9 / b * 100.0
            )
        });
        figures.push(Figure {
            name: format!("match_{n}x{q}_{}_d{max_distance}", algo.name()),
            backend: engine.as_ref().map_or(String::new(), Engine::describe),
            rate: comparisons * runs as f64 / secs,
            unit: "comparisons/s",
            megapixels_per_s: None,
            note: format!(
                "{gpu_found} pairs{}; set read at {:.2} GB/s{bound}",
                if gpu_found == found {
                    " (= cpu)"
                } else {
                    " (DIFFERS FROM CPU)"
                },
                bytes / 1e9
            ),
        });
    }
    let adapter = engine.as_ref().and_then(|e| e.adapter());
    publish(&figures, adapter, json_path)
}

/// Deterministic textured test frame: gradients plus hash noise, so quality is high.
pub fn synthetic(w: u32, h: u32, seed: u64) -> Frame {
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for y in 0..h {
        for x in 0..w {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let n = (s & 63) as u32;
            let base = ((x * 255 / w.max(1)) + (y * 255 / h.max(1))) / 2;
            rgb.extend([
                (base + n).min(255) as u8,
                ((x ^ y) & 255) as u8,
                (255 - base + n / 2).min(255) as u8,
            ]);
        }
    }
    Frame::new(w, h, rgb).expect("sized above")
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

fn batch(e: &Engine, frames: &[Frame], min: Duration, name: &str) -> Figure {
    let refs: Vec<&Frame> = frames.iter().collect();
    // One warm-up round: buffers grow to size and shaders finish compiling.
    let _ = e.hash(&refs, Algorithms::ALL);
    let (n, secs) = repeat(min, || {
        std::hint::black_box(e.hash(&refs, Algorithms::ALL).expect("hashing failed"));
    });
    let per_round: f64 = frames.iter().map(|f| f.pixels() as f64).sum::<f64>() / 1e6;
    Figure {
        name: name.into(),
        backend: e.describe(),
        rate: (n * frames.len()) as f64 / secs,
        unit: "frames/s",
        megapixels_per_s: Some(n as f64 * per_round / secs),
        note: format!("{n} rounds of {} frames", frames.len()),
    }
}

fn repeat(min: Duration, mut op: impl FnMut()) -> (usize, f64) {
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

fn print_table(report: &serde_json::Value, figures: &[Figure]) {
    println!(
        "{}  |  cpu: {} x{}",
        report["tool"], report["cpu"], report["threads"]
    );
    if let Some(a) = report["adapter"].as_object() {
        println!(
            "adapter: {} ({}, {}) driver {}",
            a["name"], a["backend"], a["device_type"], a["driver"]
        );
    }
    println!(
        "{:<34} {:>14} {:<14} {:>9}  backend / note",
        "figure", "rate", "unit", "MP/s"
    );
    for f in figures {
        let mp = f
            .megapixels_per_s
            .map_or(String::new(), |m| format!("{m:.1}"));
        println!(
            "{:<34} {:>14.1} {:<14} {:>9}  {} / {}",
            f.name, f.rate, f.unit, mp, f.backend, f.note
        );
    }
}
