//! Helpers shared by the integration tests: locating `../shared/testdata`, reading the golden
//! buffers, and the CI rule that a missing prerequisite fails instead of skipping.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hashsweep::Frame;

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `../shared/testdata`, or `None` after a loud notice. Under `CI=true` a missing directory
/// fails the test instead.
pub fn testdata() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(!in_ci(), "CI=true but ../shared/testdata is missing");
    eprintln!("NOTICE: ../shared/testdata not found; this test checked nothing");
    None
}

/// Rows of a CSV file with a header, as maps from column name to cell.
pub fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

/// A golden input buffer: raw `.rgb` or lossless `.png`.
pub fn golden_frame(dir: &Path, name: &str, width: u32, height: u32) -> Frame {
    let raw = dir.join(format!("golden/{name}.rgb"));
    let rgb = if raw.exists() {
        std::fs::read(raw).unwrap()
    } else {
        let img = image::open(dir.join(format!("golden/{name}.png"))).unwrap();
        img.to_rgb8().into_raw()
    };
    Frame::new(width, height, rgb).unwrap()
}

/// Little-endian f32 intermediates (`*.down64.f32` and so on), if present.
pub fn read_f32(path: &Path) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
    )
}

/// One row of `pdq/reference.csv` with the file decoded by our decoder.
pub struct RefFile {
    pub row: std::collections::HashMap<String, String>,
    pub decoded: Result<hashsweep::decode::Decoded, hashsweep::decode::DecodeError>,
}

pub fn reference_files(dir: &Path, opts: &hashsweep::decode::DecodeOptions) -> Vec<RefFile> {
    read_csv(&dir.join("pdq/reference.csv"))
        .into_iter()
        .map(|row| {
            let decoded = hashsweep::decode::decode_file(&dir.join("pdq").join(&row["path"]), opts);
            RefFile { row, decoded }
        })
        .collect()
}

/// Mean and maximum of a list of distances.
pub fn mean_max(d: &[u32]) -> (f64, u32) {
    let mean = d.iter().map(|&x| f64::from(x)).sum::<f64>() / d.len().max(1) as f64;
    (mean, d.iter().copied().max().unwrap_or(0))
}

/// The GPU engine on any adapter (lavapipe in CI). Without one: a loud notice and `None`,
/// or a failure under `CI=true`, where the GPU tests must really run.
pub fn gpu_engine() -> Option<hashsweep::Engine> {
    match hashsweep::Engine::open(hashsweep::BackendChoice::Gpu, None) {
        Ok(e) => {
            eprintln!("GPU tests on: {}", e.describe());
            Some(e)
        }
        Err(e) => {
            assert!(
                !in_ci(),
                "CI=true but no GPU adapter: {e} (is mesa-vulkan-drivers installed?)"
            );
            eprintln!("NOTICE: no GPU adapter ({e}); this GPU test checked nothing");
            None
        }
    }
}

/// The `hashsweep` binary built for these tests.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_hashsweep"))
}

/// A fresh, empty temporary directory named after the test and this process.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hashsweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Whether `ffmpeg` and `ffprobe` run. Without them a video test prints a notice and checks
/// nothing, except under `CI=true`, where `.ci/run` installs them and their absence fails.
pub fn have_ffmpeg() -> bool {
    let runs = |p: &str| {
        std::process::Command::new(p)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("ffmpeg") && runs("ffprobe") {
        return true;
    }
    assert!(!in_ci(), "CI=true but ffmpeg/ffprobe are not installed");
    eprintln!("NOTICE: ffmpeg not found; this video test checked nothing");
    false
}

/// The sample videos of `../shared/testdata/video`, sorted, if they and FFmpeg are there.
pub fn sample_videos() -> Option<Vec<PathBuf>> {
    let dir = testdata()?.join("video");
    if !have_ffmpeg() {
        return None;
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no sample videos in {}", dir.display());
    Some(v)
}
