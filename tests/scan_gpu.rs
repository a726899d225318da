//! `scan` on the GPU backends: the same records and matches as the CPU within tolerance,
//! injected device faults losing nothing, a large set uploaded once.

mod common;

use common::{bin, files, pngs, records, save_png, scratch};

use std::path::Path;

use hashsweep::Frame;
use hashsweep::{Algorithms, Engine};
use serde_json::Value;

/// A PDQ set holding the CPU's hash of generated image 0 (40x30), for planted matches.
fn set_of_image_zero(dir: &Path) -> std::path::PathBuf {
    let list = dir.join("known.txt");
    let h = Engine::Cpu.hash(&[&Frame::synthetic(40, 30, 0)], Algorithms::ALL)[0];
    std::fs::write(&list, format!("{} zero\n", h.pdq.unwrap().original())).unwrap();
    let set = dir.join("known.hsref");
    common::refs_build(&list, &set);
    set
}

/// Images of many sizes, image 0 the set's own, and a broken JPEG.
fn mixed_input(dir: &Path, n: u64) -> std::path::PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..n {
        save_png(
            i,
            40 + i as u32 * 7,
            30 + i as u32 * 3,
            &input.join(format!("{i}.png")),
        );
    }
    std::fs::write(input.join("bad.jpg"), b"\xff\xd8\xff junk").unwrap();
    input
}

/// A scan's file records (sorted by path, run details dropped) and its matches.
fn scan_run(
    dir: &Path,
    input: &Path,
    set: &Path,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Vec<Value>, Vec<Value>, String) {
    let out = dir.join(format!("{name}.jsonl"));
    let o = bin()
        .args(["scan", "--quiet", "--dihedral", "--refs"])
        .arg(set)
        .arg("-o")
        .arg(&out)
        .args(args)
        .arg(input)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "one bad file: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut recs: Vec<Value> = files(&records(&out)).into_iter().cloned().collect();
    recs.sort_by_key(|r| r["path"].as_str().unwrap().to_string());
    for r in &mut recs {
        let m = r.as_object_mut().unwrap();
        m.remove("mtime");
        m.remove("elapsed_s");
    }
    let mut m = records(&dir.join(format!("{name}.matches.jsonl")));
    m.sort_by_key(|r| {
        (
            r["path"].as_str().unwrap().to_string(),
            r["variant"].to_string(),
        )
    });
    (recs, m, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The same matches (file, entry, variant), distances within the hash tolerance.
fn check_matches(cpu: &[Value], gpu: &[Value], label: &str) {
    let key = |m: &Value| {
        (
            m["path"].clone(),
            m["entry_id"].clone(),
            m["variant"].clone(),
        )
    };
    assert_eq!(
        cpu.iter().map(key).collect::<Vec<_>>(),
        gpu.iter().map(key).collect::<Vec<_>>(),
        "{label}"
    );
    for (c, g) in cpu.iter().zip(gpu) {
        let (c, g) = (
            c["distance"].as_u64().unwrap(),
            g["distance"].as_u64().unwrap(),
        );
        assert!(c.abs_diff(g) <= u64::from(common::PDQ_MAX_BITS), "{label}");
    }
}

#[test]
fn gpu_backends_write_the_same_records_and_matches_as_the_cpu_within_tolerance() {
    if common::gpu_engine().is_none() {
        return;
    }
    let dir = scratch("scan-gpu");
    let input = mixed_input(&dir, 12);
    let set = set_of_image_zero(&dir);
    let (cpu, cm, _) = scan_run(&dir, &input, &set, "cpu", &["--backend", "cpu"], &[]);
    assert_eq!(cpu.len(), 13);
    assert!(!cm.is_empty());
    for (name, args) in [
        ("gpu-only", &["--backend", "gpu", "--gpu-only"][..]),
        ("hybrid", &["--backend", "gpu"][..]),
    ] {
        // Matching priced as on a fast device: it runs there, as on a real GPU.
        let fast = [("HASHSWEEP_GPU_MATCH_RATE", "1e15")];
        let (gpu, gm, _) = scan_run(&dir, &input, &set, name, args, &fast);
        common::check_records(
            &cpu.iter().collect::<Vec<_>>(),
            &gpu.iter().collect::<Vec<_>>(),
            &format!("scan {name}"),
        );
        check_matches(&cm, &gm, name);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn gpu_faults_mid_scan_cost_no_record_hash_or_match() {
    if common::gpu_engine().is_none() {
        return;
    }
    let dir = scratch("scan-faults");
    let input = mixed_input(&dir, 40);
    let set = set_of_image_zero(&dir);
    // Small rounds: the fault lands mid-run, with rounds before and after it.
    let small = ["--round-pixels", "20000"];
    let cpu_args = [&["--backend", "cpu"][..], &small].concat();
    let (cpu, cm, _) = scan_run(&dir, &input, &set, "cpu", &cpu_args, &[]);
    assert_eq!(cpu.len(), 41);
    let gpu_args = [&["--backend", "gpu", "--gpu-only"][..], &small].concat();
    for (fault, says) in [
        ("alloc@12", "out of memory"),
        ("lost@3", "lost"),
        ("hang@4", "did not finish"),
    ] {
        let name = fault.replace('@', "-");
        // Matching priced as on a fast device, so that faults can land in it too.
        let env = [
            ("HASHSWEEP_GPU_FAULT", fault),
            ("HASHSWEEP_GPU_MATCH_RATE", "1e15"),
        ];
        let (gpu, gm, err) = scan_run(&dir, &input, &set, &name, &gpu_args, &env);
        assert!(err.contains(says), "{fault}: {err}");
        assert!(err.matches("warning").count() <= 2, "said once each: {err}");
        common::check_records(
            &cpu.iter().collect::<Vec<_>>(),
            &gpu.iter().collect::<Vec<_>>(),
            &format!("scan with {fault}"),
        );
        check_matches(&cm, &gm, fault);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The matching routes a `--backend gpu` scan of `input` against `set` took, and its
/// summary.
fn routed_scan(
    dir: &Path,
    input: &Path,
    set: &Path,
    name: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Value {
    let out = dir.join(format!("{name}.jsonl"));
    let o = bin()
        .args([
            "scan",
            "--quiet",
            "--stats",
            "--backend",
            "gpu",
            "--min-quality",
            "0",
        ])
        .args(extra)
        .args(["--refs"])
        .arg(set)
        .arg("-o")
        .arg(&out)
        .arg(input)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("gpu:"),
        "--stats shows the counters"
    );
    let recs = records(&out);
    assert_eq!(files(&recs).len(), 2000);
    recs.last().unwrap().clone()
}

/// On a software adapter the planner keeps matching on the CPU (issue 25: lavapipe swept
/// a 1M-entry set at 0.16x the CPU's speed); told that the device is fast, it sweeps
/// there, with the set uploaded once for the whole scan.
#[test]
fn a_million_entry_set_is_matched_where_the_model_says_and_uploaded_once_on_the_gpu() {
    if common::gpu_engine().is_none() {
        return;
    }
    let dir = scratch("scan-resident");
    let input = pngs(&dir, 2000, 24, 24);
    let set = dir.join("million.hsref");
    let made = bin()
        .args(["refs", "random", "--count", "1000000", "-o"])
        .arg(&set)
        .status()
        .unwrap();
    assert!(made.success());
    let auto = routed_scan(&dir, &input, &set, "auto", &[], &[]);
    let routes = auto["matching"].as_object().unwrap();
    assert!(
        !routes.contains_key("gpu-sweep"),
        "lavapipe is slower than the CPU: {routes:?}"
    );
    assert!(
        routes.contains_key("mih"),
        "the set's index pays: {routes:?}"
    );
    assert_eq!(auto["gpu"]["refs_bytes_uploaded"].as_u64(), Some(0));
    let summary = &routed_scan(
        &dir,
        &input,
        &set,
        "forced",
        &["--index", "flat"],
        &[("HASHSWEEP_GPU_MATCH_RATE", "1e15")],
    );
    let routes = summary["matching"].as_object().unwrap();
    assert_eq!(
        routes.keys().collect::<Vec<_>>(),
        ["gpu-sweep"],
        "{routes:?}"
    );
    let gpu = &summary["gpu"];
    let set_bytes = 1_000_000u64 * 32;
    let uploaded = gpu["refs_bytes_uploaded"].as_u64().unwrap();
    eprintln!(
        "FIGURE resident scan: 2000 images against 1M PDQ entries ({set_bytes} bytes): refs uploaded {uploaded} bytes, {} match submissions, queries {} bytes, downloaded {} bytes, device busy {:.2} s",
        gpu["match_submissions"],
        gpu["queries_bytes_uploaded"],
        gpu["bytes_downloaded"],
        gpu["busy_seconds"].as_f64().unwrap()
    );
    assert!(uploaded >= set_bytes, "the set went to the device");
    assert!(
        uploaded as f64 <= 1.1 * set_bytes as f64,
        "uploaded once: {uploaded} bytes"
    );
    for k in [
        "frames_bytes_uploaded",
        "bytes_downloaded",
        "batches",
        "busy_seconds",
        "wait_seconds",
    ] {
        assert!(gpu[k].is_number(), "summary gpu.{k}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
