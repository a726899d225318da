//! `bench hash`: CPU per frame, GPU per batch size, the host's time per GPU frame, and a
//! corpus end to end.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::{Figure, batch, engines_beside_cpu, per_frame, publish, repeat};
use crate::cpu::{pdq, phash};
use crate::decode::{self, DecodeOptions};
use crate::engine::{Algorithms, BackendChoice, Engine};
use crate::frame::Frame;
use crate::sources::walk;

pub(super) fn bench_hash(
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
    // A generated corpus is removed when `generated` goes, after the figures.
    let generated;
    let dir = match &corpus {
        Some(d) => d.as_path(),
        None => {
            generated = generate_corpus()?;
            generated.path()
        }
    };
    figures.extend(corpus_figures(dir, &engines, min)?);
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

/// JPEGs from thumbnail to 24 MP (geometric sizes, 4:3), in a fresh temporary folder.
fn generate_corpus() -> anyhow::Result<tempfile::TempDir> {
    let tmp = tempfile::Builder::new()
        .prefix("hashsweep-bench-corpus-")
        .tempdir()?;
    let dir = tmp.path();
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
    Ok(tmp)
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
