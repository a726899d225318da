//! `bench video`: vPDQ end to end per backend and interval, beside FFmpeg's decode alone.

use std::path::PathBuf;
use std::time::Instant;

use super::{Figure, gpu_beside_cpu, publish};
use crate::engine::{BackendChoice, Engine};

pub(super) fn bench_video(
    folder: Option<PathBuf>,
    backend: BackendChoice,
    intervals: &[f64],
    json_path: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let dir = folder.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/video")
    });
    let (files, _) = crate::sources::walk::expand(std::slice::from_ref(&dir));
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
