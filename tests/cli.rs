//! The `hashsweep` binary end to end: rows per file, error rows for bad files, exit codes,
//! output formats, and the same hashes from every backend.

mod common;

use common::{bin, scratch};

use std::path::Path;

use hashsweep::{Algorithms, Engine, Frame};

fn save_png(f: &Frame, path: &Path) {
    image::RgbImage::from_raw(f.width(), f.height(), f.rgb().to_vec())
        .unwrap()
        .save(path)
        .unwrap();
}

/// A folder with two good PNGs (one in a subfolder), a corrupt JPEG and an empty file.
fn corpus(name: &str) -> (common::Scratch, Vec<Frame>) {
    let d = scratch(name);
    let a = Frame::synthetic(300, 200, 1);
    let b = Frame::synthetic(64, 97, 2);
    save_png(&a, &d.join("a.png"));
    std::fs::create_dir(d.join("sub")).unwrap();
    save_png(&b, &d.join("sub/b.png"));
    std::fs::write(d.join("c.jpg"), b"\xff\xd8\xff\xe0 truncated jpeg").unwrap();
    std::fs::write(d.join("empty.png"), b"").unwrap();
    (d, vec![a, b])
}

fn jsonl(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn hash_writes_one_row_per_file_and_error_rows_for_bad_files() {
    let (dir, frames) = corpus("rows");
    let out = bin()
        .args(["hash", "--format", "jsonl", "--backend", "cpu"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "some files failed: exit 1");
    let rows = jsonl(&out.stdout);
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            Path::new(r["path"].as_str().unwrap())
                .strip_prefix(&dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        ["a.png", "c.jpg", "empty.png", "sub/b.png"],
        "sorted walk order"
    );
    let status: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["ok", "error", "error", "ok"]);
    assert_eq!(rows[2]["error"], "empty file");
    // The hashes are the library's own for the same pixels.
    let want = Engine::Cpu.hash(&frames.iter().collect::<Vec<_>>(), Algorithms::ALL);
    for (row, w) in [&rows[0], &rows[3]].iter().zip(&want) {
        assert_eq!(row["pdq"], w.pdq.unwrap().original().to_string());
        assert_eq!(row["quality"], w.pdq.unwrap().quality.0);
        assert_eq!(row["phash"], w.phash.unwrap().to_string());
    }
    assert_eq!(rows[0]["width"], 300);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pdq_only_csv_is_hash_quality_path_and_all_good_files_exit_zero() {
    let d = scratch("csv");
    save_png(&Frame::synthetic(100, 80, 3), &d.join("x.png"));
    let out = bin()
        .args(["hash", "--algo", "pdq", "--backend", "cpu"])
        .arg(d.join("x.png"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "hash,quality,path");
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells.len(), 3);
    assert_eq!(cells[0].len(), 64);
    assert!(cells[2].ends_with("x.png"));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn dihedral_csv_carries_all_eight_hashes_and_writes_to_a_file() {
    let d = scratch("dih");
    save_png(&Frame::synthetic(120, 90, 4), &d.join("x.png"));
    let out_file = d.join("out.csv");
    let st = bin()
        .args(["hash", "--dihedral", "--backend", "cpu", "-o"])
        .arg(&out_file)
        .arg(d.join("x.png"))
        .status()
        .unwrap();
    assert!(st.success());
    let rows = common::read_csv(&out_file);
    for col in common::PDQ_COLUMNS {
        assert_eq!(rows[0][col].len(), 64, "{col}");
    }
    assert_eq!(rows[0]["status"], "ok");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn gpu_backend_writes_rows_within_the_stated_distance_of_the_cpu_backend() {
    if common::gpu_engine().is_none() {
        return;
    }
    let (dir, _) = corpus("gpu");
    let run = |backend: &[&str]| {
        let out = bin()
            .args(["hash", "--format", "jsonl", "--dihedral"])
            .args(backend)
            .arg(&dir)
            .output()
            .unwrap();
        jsonl(&out.stdout)
    };
    let cpu = run(&["--backend", "cpu"]);
    for (label, args) in [
        ("hash --gpu-only", &["--backend", "gpu", "--gpu-only"][..]),
        ("hash --backend gpu", &["--backend", "gpu"][..]),
    ] {
        let gpu = run(args);
        common::check_records(
            &cpu.iter().collect::<Vec<_>>(),
            &gpu.iter().collect::<Vec<_>>(),
            label,
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn match_falls_back_to_the_cpu_when_the_gpu_fails() {
    if common::gpu_engine().is_none() {
        return;
    }
    let d = scratch("match-fallback");
    let set = d.join("r.hsref");
    let made = bin()
        .args(["refs", "random", "--count", "5000", "-o"])
        .arg(&set)
        .status()
        .unwrap();
    assert!(made.success());
    // Two queries, each with its three nearest of the random entries.
    let list = d.join("q.txt");
    std::fs::write(&list, format!("{}\n{}\n", "0".repeat(64), "f".repeat(64))).unwrap();
    let run = |backend: &str, fault: Option<&str>| {
        let mut c = bin();
        // GPU-only: no calibration batch runs first, so the fault meets the matcher.
        c.args(["match", "--top-k", "3", "--max-distance", "256", "--refs"])
            .arg(&set)
            .arg(&list);
        c.args(match backend {
            "gpu" => &["--backend", "gpu", "--gpu-only"][..],
            _ => &["--backend", "cpu"][..],
        });
        if let Some(f) = fault {
            c.env("HASHSWEEP_GPU_FAULT", f);
        }
        // Priced as a fast device, so that matching goes to it (lavapipe is slower than
        // the CPU, and the planner would keep it there).
        c.env("HASHSWEEP_GPU_MATCH_RATE", "1e15");
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (want, _) = run("cpu", None);
    assert_eq!(
        want.lines().count(),
        1 + 2 * 3,
        "a header and three rows per query"
    );
    let (got, err) = run("gpu", Some("hang@1"));
    assert_eq!(got, want);
    assert!(err.contains("matching on the CPU from here on"), "{err}");
    let (got, _) = run("gpu", None);
    assert_eq!(got, want, "and on the GPU, exactly the same rows");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn pre_resize_squeezes_large_images_before_hashing() {
    let d = scratch("pre");
    let f = Frame::synthetic(700, 300, 5);
    save_png(&f, &d.join("big.png"));
    let out = bin()
        .args([
            "hash",
            "--format",
            "jsonl",
            "--algo",
            "pdq",
            "--backend",
            "cpu",
            "--pre-resize",
            "512",
        ])
        .arg(d.join("big.png"))
        .output()
        .unwrap();
    let row = &jsonl(&out.stdout)[0];
    let squeezed = hashsweep::decode::nearest(&f, 512, 512);
    let want = hashsweep::cpu::pdq::pdq(squeezed.rgb(), 512, 512);
    assert_eq!(row["pdq"], want.original().to_string());
    assert_eq!(row["width"], 700, "the row reports the file's own size");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn devices_json_is_a_list() {
    let out = bin().args(["devices", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_array());
}

#[test]
fn a_missing_input_is_an_error_row_not_a_crash() {
    let out = bin()
        .args([
            "hash",
            "--format",
            "jsonl",
            "--backend",
            "cpu",
            "/nonexistent/hashsweep/x.jpg",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "error");
}

#[test]
fn bench_robustness_writes_tables_and_plots_with_a_row_per_transform_and_hash() {
    let d = scratch("robust");
    let out = bin()
        .args([
            "bench",
            "robustness",
            "--generate",
            "6",
            "--backend",
            "cpu",
            "-o",
        ])
        .arg(&d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = common::read_csv(&d.join("robustness.csv"));
    assert_eq!(
        rows.len(),
        hashsweep::robustness::transforms::ALL.len() * hashsweep::robustness::ALGOS.len()
    );
    let recall = |t: &str, a: &str| -> f64 {
        rows.iter()
            .find(|r| r["transform"] == t && r["algorithm"] == a)
            .unwrap()["recall"]
            .parse()
            .unwrap()
    };
    // Properties of the hashes rather than of these images: PDQ's dihedral variants undo a
    // quarter turn (which loses no pixel), plain PDQ does not; JPEG at quality 75 keeps
    // most images within the threshold.
    assert_eq!(recall("rotate_90", "pdq_dihedral"), 1.0);
    assert!(recall("rotate_90", "pdq") < 0.5);
    assert!(recall("jpeg_q75", "pdq") >= 0.8);
    // Cutting added borders brings padded copies back (the goal: at least 95%), and
    // never loses what the whole copy matched.
    for t in ["letterbox_20", "pillarbox_20", "pad_10_white"] {
        assert!(recall(t, "pdq") < 0.5, "{t}");
        assert!(recall(t, "pdq_trim") >= 0.95, "{t}");
    }
    for (t, _) in hashsweep::robustness::transforms::ALL {
        assert!(recall(t, "pdq_trim") >= recall(t, "pdq"), "{t}");
    }
    // Crop windows in the references bring back crops of a few percent (the goal: at
    // least 80% at 5%), and no mode matches another original within the threshold.
    for t in ["crop_5", "crop_side_10", "crop_corner_10"] {
        assert!(recall(t, "pdq") < 0.5, "{t}");
        assert!(recall(t, "pdq_augment") >= 0.8, "{t}");
    }
    for r in &rows {
        let closest: u32 = r["different_min"].parse().unwrap();
        let threshold: u32 = r["threshold"].parse().unwrap();
        assert!(closest > threshold, "a false match: {r:?}");
    }
    for f in [
        "robustness.md",
        "recall.svg",
        "distances_pdq.svg",
        "distances_phash.svg",
    ] {
        let text = std::fs::read_to_string(d.join(f)).unwrap();
        assert!(text.len() > 200, "{f}");
    }
    assert!(
        std::fs::read_to_string(d.join("recall.svg"))
            .unwrap()
            .trim_end()
            .ends_with("</svg>")
    );
    let _ = std::fs::remove_dir_all(d);
}
