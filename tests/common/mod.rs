//! Helpers shared by the integration tests: locating `../shared/testdata`, reading the golden
//! buffers, and the CI rule that a missing prerequisite fails instead of skipping.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hashsweep::Frame;

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Tests of this binary that found a prerequisite missing and checked nothing, with why.
static SKIPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static ARMED: std::sync::Once = std::sync::Once::new();

/// After libtest's own summary line, at the binary's exit, a count of the tests that
/// passed only by checking nothing: libtest hides their notices, so the summary says so.
extern "C" fn say_skipped() {
    let skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    let mut text = format!(
        "SKIPPED: {} of this binary's tests checked nothing",
        skipped.len()
    );
    for s in skipped.iter() {
        text += &format!("\n  skipped: {s}");
    }
    text.push('\n');
    use std::io::Write;
    let _ = std::io::stderr().write_all(text.as_bytes());
    // Statics are never dropped: the verification cache goes here.
    if let Some(cache) = CACHE.get() {
        let _ = std::fs::remove_dir_all(cache.0.path());
    }
}

/// Count this binary's skips at its exit (armed by the helpers every test uses).
fn arm() {
    // SAFETY: registering a plain extern "C" function with no arguments.
    ARMED.call_once(|| unsafe {
        libc::atexit(say_skipped);
    });
}

/// A prerequisite is missing: fail under `CI=true` (where `.ci/run` installs everything),
/// else say so now and count this test as skipped in the binary's closing line.
pub fn skip(why: &str) {
    arm();
    assert!(!in_ci(), "CI=true but {why}");
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    use std::io::Write;
    // Straight to stderr: libtest captures eprintln! of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "NOTICE: {test}: {why}; this test checked nothing"
    );
    SKIPPED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{test} ({why})"));
}

/// `../shared/testdata`, or `None` after a loud notice. Under `CI=true` a missing directory
/// fails the test instead.
pub fn testdata() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    arm();
    if dir.is_dir() {
        return Some(dir);
    }
    skip("../shared/testdata is missing");
    None
}

/// Rows of a CSV file with a header, as maps from column name to cell (quoted cells with
/// commas, quotes and line breaks read whole, by the csv crate).
pub fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut rows = csv::Reader::from_path(path).unwrap();
    let header = rows.headers().unwrap().clone();
    rows.records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
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

/// The GPU engine on any adapter (lavapipe in CI), hashing on the device alone
/// (`--gpu-only`), so that comparisons with the CPU path measure the device. Without one: a
/// loud notice and `None`, or a failure under `CI=true`, where the GPU tests must really run.
pub fn gpu_engine() -> Option<hashsweep::Engine> {
    gpu_engine_with(true)
}

/// As [`gpu_engine`], with CPU workers beside the device when `gpu_only` is false (what
/// `--backend gpu` runs).
pub fn gpu_engine_with(gpu_only: bool) -> Option<hashsweep::Engine> {
    arm();
    let opts = hashsweep::engine::EngineOptions {
        gpu_only,
        ..Default::default()
    };
    match hashsweep::Engine::open_with(hashsweep::BackendChoice::Gpu, &opts) {
        Ok(e) => {
            eprintln!("GPU tests on: {}", e.describe());
            Some(e)
        }
        Err(e) => {
            skip(&format!(
                "no GPU adapter: {e} (is mesa-vulkan-drivers installed?)"
            ));
            None
        }
    }
}

/// The `hashsweep` binary built for these tests. Sets it verifies are remembered in a
/// folder of this test process, not in the user's cache.
pub fn bin() -> std::process::Command {
    arm();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hashsweep"));
    c.env(
        "HASHSWEEP_CACHE_DIR",
        CACHE.get_or_init(|| scratch("cache")).0.path(),
    );
    c
}

/// The verification cache of this test process; removed at its exit.
static CACHE: std::sync::OnceLock<Scratch> = std::sync::OnceLock::new();

/// Run the binary with `args`; it must succeed. Returns its standard output.
pub fn run_ok(args: &[&str]) -> String {
    let o = bin().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A fresh, empty temporary directory with a unique name (tempfile's), removed when
/// dropped; it reads as a `Path`.
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.path().as_os_str()
    }
}

impl Scratch {
    /// Keep the folder past this value's life (a set opened from it by a helper and
    /// returned); it is then left in the temporary folder, as the OS's cleaning finds it.
    pub fn keep(self) -> PathBuf {
        self.0.keep()
    }
}

/// A fresh scratch folder whose name begins with the test's `name`.
pub fn scratch(name: &str) -> Scratch {
    arm();
    let dir = tempfile::Builder::new()
        .prefix(&format!("hashsweep-{name}-"))
        .tempdir()
        .unwrap();
    Scratch(dir)
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
    arm();
    if runs("ffmpeg") && runs("ffprobe") {
        return true;
    }
    skip("ffmpeg/ffprobe are not installed");
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

/// Stated distance between GPU and CPU hashes (see tests/gpu.rs for the reasons): PDQ mean
/// at most 0.5 bits and at most 8 on any hash, pHash at most 2 bits, quality within 1.
pub const PDQ_MEAN_MAX: f64 = 0.5;
pub const PDQ_MAX_BITS: u32 = 8;
pub const PHASH_MAX_BITS: u32 = 2;

/// Distances between two runs' hashes of the same frames, for the tolerance checks.
#[derive(Default)]
pub struct Distances {
    pub pdq: Vec<u32>,
    pub phash: Vec<u32>,
    pub quality: Vec<u32>,
}

impl Distances {
    pub fn add(&mut self, a: &hashsweep::FrameHashes, b: &hashsweep::FrameHashes, name: &str) {
        if let (Some(x), Some(y)) = (a.pdq, b.pdq) {
            for v in 0..8 {
                let bits = x.hashes[v].distance(&y.hashes[v]).0;
                if bits > 0 {
                    eprintln!("  {name} variant {v}: {bits} bits");
                }
                self.pdq.push(bits);
            }
            self.quality.push(x.quality.0.abs_diff(y.quality.0).into());
        }
        if let (Some(x), Some(y)) = (a.phash, b.phash) {
            let bits = x.distance(&y).0;
            if bits > 0 {
                eprintln!("  {name} phash: {bits} bits");
            }
            self.phash.push(bits);
        }
    }

    /// The hashes of two records (hex `pdq` and its dihedral columns, `phash`, `quality`).
    pub fn add_record(&mut self, a: &serde_json::Value, b: &serde_json::Value, name: &str) {
        for col in PDQ_COLUMNS {
            if let (Some(x), Some(y)) = (a[col].as_str(), b[col].as_str()) {
                let (x, y): (hashsweep::hash::Pdq256, hashsweep::hash::Pdq256) =
                    (x.parse().unwrap(), y.parse().unwrap());
                let bits = x.distance(&y).0;
                if bits > 0 {
                    eprintln!("  {name} {col}: {bits} bits");
                }
                self.pdq.push(bits);
            }
        }
        if let (Some(x), Some(y)) = (a["phash"].as_str(), b["phash"].as_str()) {
            let (x, y): (hashsweep::hash::Phash64, hashsweep::hash::Phash64) =
                (x.parse().unwrap(), y.parse().unwrap());
            self.phash.push(x.distance(&y).0);
        }
        if let (Some(x), Some(y)) = (a["quality"].as_u64(), b["quality"].as_u64()) {
            self.quality.push(x.abs_diff(y) as u32);
        }
    }

    /// Assert the stated tolerance and print exact agreement as a FIGURE line.
    pub fn check(&self, label: &str) {
        let (pm, px) = mean_max(&self.pdq);
        let (hm, hx) = mean_max(&self.phash);
        let (_, qx) = mean_max(&self.quality);
        let exact = self.pdq.iter().filter(|&&b| b == 0).count();
        let pexact = self.phash.iter().filter(|&&b| b == 0).count();
        eprintln!(
            "FIGURE gpu-vs-cpu {label}: pdq {exact}/{} hashes identical, mean {pm:.4}, max {px}; phash {pexact}/{} identical, mean {hm:.4}, max {hx}; quality max diff {qx}",
            self.pdq.len(),
            self.phash.len()
        );
        assert!(
            pm <= PDQ_MEAN_MAX && px <= PDQ_MAX_BITS,
            "{label}: pdq mean {pm} max {px}"
        );
        assert!(hx <= PHASH_MAX_BITS, "{label}: phash max {hx}");
        assert!(qx <= 1, "{label}: quality differs by {qx}");
    }
}

/// Record fields that hold PDQ hashes: the hash and, in `hash --dihedral` rows, its variants.
pub const PDQ_COLUMNS: [&str; 8] = [
    "pdq",
    "rot90",
    "rot180",
    "rot270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
];

/// Records of a GPU run against the CPU run's, in the same order: every field the same but
/// the hashes, which stay within the stated tolerance (checked, and printed as a FIGURE).
pub fn check_records(cpu: &[&serde_json::Value], gpu: &[&serde_json::Value], label: &str) {
    assert_eq!(cpu.len(), gpu.len(), "{label}: record counts");
    // Hashes are compared within tolerance below; when each record was written differs.
    let hashes: Vec<&str> = PDQ_COLUMNS
        .iter()
        .copied()
        .chain(["phash", "quality", "elapsed_s"])
        .collect();
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.retain(|k, _| !hashes.contains(&k.as_str()));
        }
        v
    };
    let mut d = Distances::default();
    for (c, g) in cpu.iter().zip(gpu) {
        assert_eq!(
            strip(c),
            strip(g),
            "{label}: fields other than hashes differ"
        );
        d.add_record(c, g, c["path"].as_str().unwrap_or("?"));
    }
    d.check(label);
}

/// A generated PNG (see `Frame::synthetic`).
pub fn save_png(seed: u64, w: u32, h: u32, path: &Path) {
    let f = Frame::synthetic(w, h, seed);
    image::RgbImage::from_raw(w, h, f.rgb().to_vec())
        .unwrap()
        .save_with_format(path, image::ImageFormat::Png)
        .unwrap();
}

/// `dir/in` holding `n` generated `w x h` PNGs named `0.png`, `1.png`, ...
pub fn pngs(dir: &Path, n: u64, w: u32, h: u32) -> std::path::PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..n {
        save_png(i, w, h, &input.join(format!("{i}.png")));
    }
    input
}

pub fn records(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn files(recs: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    recs.iter().filter(|r| r["type"] == "file").collect()
}

/// A path's last component as text.
pub fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// `hashsweep refs build -o SET LIST`, which must succeed.
pub fn refs_build(list: &Path, set: &Path) {
    refs_build_with(&[list], set, &[]);
}

/// `hashsweep refs build -o SET INPUTS... EXTRA...`, which must succeed; returns what it
/// printed on stderr (its counts of what was read, merged and left out).
pub fn refs_build_with(inputs: &[&Path], set: &Path, extra: &[&str]) -> String {
    let o = bin()
        .args(["refs", "build", "-o"])
        .arg(set)
        .args(inputs)
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "refs build: {err}");
    err
}

/// `scan INPUT` started `rounds` times (with `--resume` after the first), each killed with
/// SIGKILL soon after it has written 2 KiB more records, at a random moment. Returns how
/// many runs were killed (a run that finished first was not).
pub fn kill_and_resume(input: &Path, out: &Path, rounds: usize, seed: u64) -> usize {
    use std::process::Stdio;
    let mut rng = hashsweep::hash::random_words(seed);
    let mut kills = 0;
    for round in 0..rounds {
        let mut child = bin()
            .args(["scan", "--backend", "cpu", "--quiet", "-o"])
            .arg(out)
            .arg(input)
            .args(if round > 0 { vec!["--resume"] } else { vec![] })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let size = || std::fs::metadata(out).map_or(0, |m| m.len());
        let start = size();
        while child.try_wait().unwrap().is_none() && size() <= start + 2048 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        std::thread::sleep(std::time::Duration::from_millis(rng.next().unwrap() % 100));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    kills
}

/// Whether every program named runs (`-V`); if not, a notice (a failure in CI).
pub fn have_tools_named(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            std::process::Command::new(t)
                .arg("-V")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if !missing.is_empty() {
        skip(&format!("{} not installed", missing.join(", ")));
    }
    missing.is_empty()
}
