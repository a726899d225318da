//! `hashsweep bench hash`: CPU per-frame cost, GPU batch throughput at several batch sizes,
//! and optionally a corpus end to end. Every report records the machine it ran on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Subcommand;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::walk;
use crate::cpu::{pdq, phash};
use crate::decode::{self, DecodeOptions};
use crate::engine::{Algorithms, BackendChoice, Engine};
use crate::frame::Frame;

#[derive(Subcommand, Debug)]
pub enum BenchArgs {
    /// Hashing throughput: CPU per frame, GPU per batch size, and a corpus if given.
    Hash {
        /// Folder of images to hash end to end (decode + hash).
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
}

#[derive(Serialize)]
struct Figure {
    name: String,
    backend: String,
    frames_per_s: f64,
    megapixels_per_s: f64,
    note: String,
}

pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    let BenchArgs::Hash {
        corpus,
        backend,
        batch_sizes,
        min_time,
        json: json_path,
    } = args;
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
    let gpu = match backend {
        BackendChoice::Cpu => None,
        b => Engine::open(b, None).ok().filter(|e| e.adapter().is_some()),
    };
    let mut engines = vec![&cpu];
    engines.extend(gpu.as_ref());
    for e in &engines {
        for &n in &batch_sizes {
            let frames: Vec<Frame> = (0..n).map(|i| synthetic(512, 512, i as u64)).collect();
            figures.push(batch(
                e,
                &frames,
                min,
                &format!("batch_{n}x512x512_pdq+phash"),
            ));
        }
    }
    if let Some(dir) = corpus {
        let (files, _) = walk::expand(&[dir]);
        let t = Instant::now();
        let frames: Vec<Frame> = files
            .par_iter()
            .filter_map(|p| decode::decode_file(p, &DecodeOptions::default()).ok())
            .map(|d| d.frame)
            .collect();
        let decode_s = t.elapsed().as_secs_f64();
        let mp: f64 = frames.iter().map(|f| f.pixels() as f64).sum::<f64>() / 1e6;
        figures.push(Figure {
            name: format!("corpus_decode_{}_files", frames.len()),
            backend: "cpu".into(),
            frames_per_s: frames.len() as f64 / decode_s,
            megapixels_per_s: mp / decode_s,
            note: format!("{} threads", rayon::current_num_threads()),
        });
        for e in &engines {
            figures.push(batch(e, &frames, min, "corpus_hash_pdq+phash"));
        }
    }
    let report = json!({
        "tool": format!("hashsweep {}", env!("CARGO_PKG_VERSION")),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "cpu": cpu_model(),
        "threads": rayon::current_num_threads(),
        "adapter": gpu.as_ref().and_then(|g| g.adapter()),
        "figures": figures,
    });
    print_table(&report, &figures);
    if let Some(p) = json_path {
        std::fs::write(&p, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(0)
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
        frames_per_s: n as f64 / secs,
        megapixels_per_s: n as f64 * f.pixels() as f64 / 1e6 / secs,
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
        frames_per_s: (n * frames.len()) as f64 / secs,
        megapixels_per_s: n as f64 * per_round / secs,
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
        "{:<34} {:>12} {:>10}  backend / note",
        "figure", "frames/s", "MP/s"
    );
    for f in figures {
        println!(
            "{:<34} {:>12.1} {:>10.1}  {} / {}",
            f.name, f.frames_per_s, f.megapixels_per_s, f.backend, f.note
        );
    }
}
