//! `hashsweep scan` end to end: one record per file whatever the file is, resume after
//! SIGKILL with every file recorded exactly once, torn-line repair, shards and merge.

mod common;

use common::{bin, files, pngs, records, save_png, scratch};

use std::collections::{HashMap, HashSet};
#[cfg(unix)]
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hashsweep::Frame;
use hashsweep::{Algorithms, Engine};
use serde_json::Value;

#[test]
fn every_file_gets_one_record_whatever_it_holds() {
    let dir = scratch("scan-mixed");
    let input = dir.join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    save_png(1, 80, 60, &input.join("a.png"));
    save_png(2, 64, 64, &input.join("sub/renamed.txt")); // an image with the wrong extension
    std::fs::write(
        input.join("corrupt.jpg"),
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 then nothing",
    )
    .unwrap();
    std::fs::write(input.join("empty.png"), b"").unwrap();
    std::fs::write(input.join("notes.pdf"), b"%PDF-1.4 not an image").unwrap();
    std::fs::write(input.join("clip.mp4"), b"\0\0\0\x18ftypisom\0\0\0\0").unwrap();
    let mut deep = input.join("deep");
    for i in 0..60 {
        deep = deep.join(format!("{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    save_png(3, 20, 20, &deep.join("leaf.png"));
    let fifo = input.join("pipe");
    let made_fifo = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let out = dir.join("out.jsonl");
    let o = bin()
        .args(["scan", "--backend", "cpu", "--digest", "sha256", "-o"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "errors present: exit 1; {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = records(&out);
    assert_eq!(recs.first().unwrap()["type"], "header");
    assert_eq!(recs.last().unwrap()["type"], "summary");
    let by_name: HashMap<String, &Value> = files(&recs)
        .into_iter()
        .map(|r| {
            (
                Path::new(r["path"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                r,
            )
        })
        .collect();
    let status = |n: &str| by_name[n]["status"].as_str().unwrap().to_string();
    assert_eq!(status("a.png"), "ok");
    assert_eq!(
        status("renamed.txt"),
        "ok",
        "type by content, not extension"
    );
    assert_eq!(by_name["renamed.txt"]["format"], "png");
    assert_eq!(status("leaf.png"), "ok");
    assert_eq!(status("corrupt.jpg"), "error");
    assert_eq!(status("empty.png"), "error");
    // A PDF is opened for its pictures; one that does not parse says so.
    assert_eq!(status("notes.pdf"), "error");
    assert_eq!(by_name["notes.pdf"]["format"], "pdf");
    assert!(
        by_name["notes.pdf"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("not a readable PDF"),
        "{}",
        by_name["notes.pdf"]
    );
    // A video header with nothing behind it: found by content, refused by FFmpeg.
    assert_eq!(status("clip.mp4"), "error");
    assert_eq!(by_name["clip.mp4"]["format"], "mp4");
    if made_fifo {
        assert_eq!(status("pipe"), "skipped");
    }
    assert_eq!(by_name.len(), 7 + usize::from(made_fifo));
    assert_eq!(by_name["a.png"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(by_name["a.png"]["width"], 80);
    let want = Engine::Cpu.hash(&[&Frame::synthetic(80, 60, 1)], Algorithms::ALL)[0];
    assert_eq!(
        by_name["a.png"]["pdq"],
        want.pdq.unwrap().original().to_string()
    );
    assert_eq!(by_name["a.png"]["phash"], want.phash.unwrap().to_string());
    let _ = std::fs::remove_dir_all(dir);
}

/// Hashes the library computes for a generated image, keyed by file name.
fn expected(input: &Path) -> HashMap<String, String> {
    std::fs::read_dir(input)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let d = hashsweep::decode::decode_file(&p, &Default::default()).unwrap();
            let h = hashsweep::engine::hash_cpu(&d.frame, Algorithms::ALL);
            (
                p.to_string_lossy().into_owned(),
                h.pdq.unwrap().original().to_string(),
            )
        })
        .collect()
}

#[test]
fn sigkill_at_random_points_then_resume_records_every_file_exactly_once() {
    let dir = scratch("scan-kill");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let n = 2000;
    for i in 0..n {
        save_png(
            i,
            24 + (i % 40) as u32,
            24 + (i % 23) as u32,
            &input.join(format!("img{i:05}.png")),
        );
    }
    let out = dir.join("out.jsonl");
    let mut rng = hashsweep::hash::random_words(77);
    let mut kills = 0;
    let mut exits = vec![];
    for round in 0..8 {
        let mut child = bin()
            .args(["scan", "--backend", "cpu", "--quiet", "-o"])
            .arg(&out)
            .arg(&input)
            .args(if round > 0 { vec!["--resume"] } else { vec![] })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it get going (past its header and a batch), then strike at a random moment.
        let size = || std::fs::metadata(&out).map_or(0, |m| m.len());
        let start = size();
        while child.try_wait().unwrap().is_none() && size() <= start + 2048 {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.next().unwrap() % 120));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            kills += 1;
        }
        exits.push(child.wait().unwrap());
    }
    let st = bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--resume", "-o"])
        .arg(&out)
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let recs = records(&out); // every line parses: torn lines were repaired
    let got: Vec<&Value> = files(&recs);
    let paths: HashSet<&str> = got.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(
        got.len(),
        n as usize,
        "each file exactly once ({kills} kills)"
    );
    assert_eq!(paths.len(), n as usize);
    let want = expected(&input);
    for r in got {
        assert_eq!(r["status"], "ok");
        assert_eq!(
            r["pdq"].as_str().unwrap(),
            want[r["path"].as_str().unwrap()],
            "{}",
            r["path"]
        );
    }
    assert!(kills > 0, "the test never interrupted a run: {exits:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn resume_repairs_a_torn_last_line() {
    let dir = scratch("scan-torn");
    let input = pngs(&dir, 5, 30, 30);
    let out = dir.join("out.jsonl");
    assert!(
        bin()
            .args(["scan", "--backend", "cpu", "--quiet", "-o"])
            .arg(&out)
            .arg(&input)
            .status()
            .unwrap()
            .success()
    );
    // Keep the header and two records, then half of the third record.
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let torn = format!(
        "{}\n{}\n{}\n{}",
        lines[0],
        lines[1],
        lines[2],
        &lines[3][..lines[3].len() / 2]
    );
    std::fs::write(&out, torn).unwrap();
    assert!(
        bin()
            .args(["scan", "--backend", "cpu", "--quiet", "--resume", "-o"])
            .arg(&out)
            .arg(&input)
            .status()
            .unwrap()
            .success()
    );
    let recs = records(&out);
    assert_eq!(files(&recs).len(), 5);
    let headers = recs.iter().filter(|r| r["type"] == "header").count();
    assert_eq!(headers, 2, "the resumed run adds its own header");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn shards_cover_everything_once_and_merge_checks_it() {
    let dir = scratch("scan-shards");
    let input = pngs(&dir, 40, 16, 16);
    let mut outs = vec![];
    for k in 0..3 {
        let out = dir.join(format!("shard{k}.jsonl"));
        let st = bin()
            .args([
                "scan",
                "--backend",
                "cpu",
                "--quiet",
                "--shard",
                &format!("{k}/3"),
                "-o",
            ])
            .arg(&out)
            .arg(&input)
            .status()
            .unwrap();
        assert!(st.success());
        outs.push(out);
    }
    let mut seen = HashSet::new();
    for o in &outs {
        for r in files(&records(o)) {
            assert!(
                seen.insert(r["path"].as_str().unwrap().to_string()),
                "in two shards"
            );
        }
    }
    assert_eq!(seen.len(), 40);
    let merged = dir.join("merged.jsonl");
    let o = bin()
        .args(["merge", "-o"])
        .arg(&merged)
        .args(&outs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(files(&records(&merged)).len(), 40);
    // An existing merged output is not replaced unasked.
    let before = std::fs::read(&merged).unwrap();
    let o = bin()
        .args(["merge", "-o"])
        .arg(&merged)
        .args(&outs)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read(&merged).unwrap(), before);
    // A missing shard and a doubled one are refused.
    let o = bin()
        .args(["merge", "--force", "-o"])
        .arg(&merged)
        .args(&outs[..2])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
    let o = bin()
        .args(["merge", "--force", "-o"])
        .arg(&merged)
        .args([&outs[0], &outs[0], &outs[1], &outs[2]])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // The scheduler's environment picks the shard when --shard is absent.
    let out = dir.join("slurm.jsonl");
    let st = bin()
        .args(["scan", "--backend", "cpu", "--quiet", "-o"])
        .arg(&out)
        .arg(&input)
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .status()
        .unwrap();
    assert!(st.success());
    let a: HashSet<String> = files(&records(&out))
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    let b: HashSet<String> = files(&records(&outs[1]))
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(a, b);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn files_from_reads_nul_separated_lists() {
    let dir = scratch("scan-list");
    save_png(1, 20, 20, &dir.join("x y.png"));
    save_png(2, 20, 20, &dir.join("z.png"));
    let list = dir.join("list");
    let mut bytes = dir.join("x y.png").as_os_str().as_encoded_bytes().to_vec();
    bytes.push(0);
    bytes.extend(dir.join("z.png").as_os_str().as_encoded_bytes());
    std::fs::write(&list, bytes).unwrap();
    let out = dir.join("out.jsonl");
    assert!(
        bin()
            .args(["scan", "--backend", "cpu", "--quiet", "--files-from"])
            .arg(&list)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(files(&records(&out)).len(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn exif_orientation_is_ignored_by_default_and_applied_on_request() {
    let Some(data) = common::testdata() else {
        return;
    };
    let dir = scratch("scan-exif");
    let img = data.join("pdq/reg-test-input/exif-rotn/exif-rotn-6.jpg");
    let run = |extra: &[&str]| {
        let out = dir.join("o.jsonl");
        let st = bin()
            .args(["scan", "--backend", "cpu", "--quiet", "--force"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(&img)
            .status()
            .unwrap();
        assert!(st.success());
        let r = files(&records(&out))[0].clone();
        (
            r["width"].as_u64().unwrap(),
            r["height"].as_u64().unwrap(),
            r["pdq"].as_str().unwrap().to_string(),
        )
    };
    let (w, h, stored) = run(&[]);
    let (w2, h2, oriented) = run(&["--exif-orient"]);
    assert_eq!((w, h), (h2, w2), "orientation 6 turns the image a quarter");
    assert_ne!(stored, oriented);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn plain_progress_lines_when_not_a_terminal_and_nothing_with_quiet() {
    let dir = scratch("scan-progress");
    for i in 0..3 {
        save_png(i, 20, 20, &dir.join(format!("{i}.png")));
    }
    let out = dir.join("o.jsonl");
    let run = |quiet: bool| {
        let mut c = bin();
        c.args(["scan", "--backend", "cpu", "--force", "-o"])
            .arg(&out)
            .arg(&dir)
            .env("HASHSWEEP_PROGRESS_SECONDS", "0");
        if quiet {
            c.arg("--quiet");
        }
        String::from_utf8(c.output().unwrap().stderr).unwrap()
    };
    let loud = run(false);
    assert!(
        loud.lines().any(|l| l.starts_with("hashsweep scan: ")
            && l.contains("/3 files")
            && l.contains("files/s")),
        "{loud}"
    );
    let quiet = run(true);
    assert!(!quiet.contains("hashsweep scan"), "{quiet}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_pixel_limit_refuses_large_images_as_errors_and_the_run_goes_on() {
    let dir = scratch("scan-limit");
    save_png(1, 300, 300, &dir.join("big.png"));
    save_png(2, 10, 10, &dir.join("small.png"));
    let out = dir.join("o.jsonl");
    let st = bin()
        .args([
            "scan",
            "--backend",
            "cpu",
            "--quiet",
            "--max-pixels",
            "1000",
            "-o",
        ])
        .arg(&out)
        .arg(&dir)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
    let recs = records(&out);
    let f = files(&recs);
    let big = f
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("big.png"))
        .unwrap();
    assert_eq!(big["status"], "error");
    assert!(big["reason"].as_str().unwrap().contains("over the limit"));
    assert_eq!(
        f.iter()
            .find(|r| r["path"].as_str().unwrap().ends_with("small.png"))
            .unwrap()["status"],
        "ok"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn csv_records_with_meta_beside_them_resume_too() {
    let dir = scratch("scan-csv");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..4 {
        save_png(i, 30, 20, &input.join(format!("{i}, a.png")));
    }
    let out = dir.join("out.csv");
    let scan = |resume: bool| {
        let mut c = bin();
        c.args([
            "scan",
            "--backend",
            "cpu",
            "--quiet",
            "--format",
            "csv",
            "-o",
        ])
        .arg(&out)
        .arg(&input);
        if resume {
            c.arg("--resume");
        }
        assert!(c.status().unwrap().success());
    };
    scan(false);
    let rows = common::read_csv(&out);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("path,path_escaped,size,"));
    assert_eq!(text.lines().count(), 5);
    assert!(
        text.contains("\"") && text.contains(", a.png\""),
        "commas in paths are quoted"
    );
    assert!(!rows.is_empty());
    let meta = records(&dir.join("out.meta.jsonl"));
    assert_eq!(
        (meta[0]["type"].as_str(), meta[1]["type"].as_str()),
        (Some("header"), Some("summary"))
    );
    // Tear the last row, resume: each file once again.
    let cut = &text[..text.len() - 10];
    std::fs::write(&out, cut).unwrap();
    scan(true);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn all_frames_hashes_every_frame_of_an_animation_and_matches_name_the_frame() {
    use image::codecs::gif::GifEncoder;
    let dir = scratch("scan-anim");
    let gif = dir.join("anim.gif");
    {
        let mut enc = GifEncoder::new(std::fs::File::create(&gif).unwrap());
        for seed in 0..3u64 {
            let f = Frame::synthetic(64, 48, seed * 1000 + 5);
            let rgba = image::RgbaImage::from_fn(64, 48, |x, y| {
                let i = ((y * 64 + x) * 3) as usize;
                image::Rgba([f.rgb()[i], f.rgb()[i + 1], f.rgb()[i + 2], 255])
            });
            enc.encode_frame(image::Frame::new(rgba)).unwrap();
        }
    }
    let out = dir.join("o.jsonl");
    let scan = |extra: &[&str]| {
        let st = bin()
            .args(["scan", "--backend", "cpu", "--quiet", "--force"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(&gif)
            .status()
            .unwrap();
        assert!(st.success());
        files(&records(&out))[0].clone()
    };
    let plain = scan(&[]);
    assert!(plain.get("frames").is_none(), "first frame only by default");
    let all = scan(&["--all-frames"]);
    assert_eq!(all["frame_count"], 3);
    let frames = all["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(
        frames[0]["pdq"], plain["pdq"],
        "frame 0 is the image itself"
    );
    assert_ne!(frames[1]["pdq"], frames[2]["pdq"]);
    // A set holding frame 2's hash: the match names frame 2.
    let list = dir.join("known.txt");
    std::fs::write(
        &list,
        format!("{} third-frame\n", frames[2]["pdq"].as_str().unwrap()),
    )
    .unwrap();
    let set = dir.join("known.hsref");
    common::refs_build(&list, &set);
    scan(&[
        "--all-frames",
        "--min-quality",
        "0",
        "--refs",
        set.to_str().unwrap(),
    ]);
    let m = records(&dir.join("o.matches.jsonl"));
    assert!(
        m.iter().any(|r| r["frame"] == 2 && r["distance"] == 0),
        "{m:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn overlapping_inputs_record_each_file_once_and_stale_matches_go() {
    let dir = scratch("scan-overlap");
    let input = dir.join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    save_png(1, 20, 20, &input.join("a.png"));
    save_png(2, 20, 20, &input.join("sub/b.png"));
    #[cfg(unix)]
    save_png(
        3,
        20,
        20,
        &input.join(std::ffi::OsStr::from_bytes(b"line\nbreak.png")),
    );
    let out = dir.join("o.jsonl");
    std::fs::write(dir.join("o.matches.jsonl"), "{\"path\":\"old\"}\n").unwrap();
    let st = bin()
        .args([
            "scan",
            "--backend",
            "cpu",
            "--quiet",
            "--format",
            "csv",
            "--force",
            "-o",
        ])
        .arg(&out)
        .args([&input, &input.join("sub"), &input.join("a.png")])
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&out).unwrap();
    let expect = if cfg!(unix) { 3 } else { 2 };
    assert_eq!(text.lines().count(), 1 + expect, "{text}");
    assert!(
        !dir.join("o.matches.jsonl").exists(),
        "an earlier run's matches were left behind"
    );
    if cfg!(unix) {
        assert!(text.contains("line%0Abreak.png,true,"), "{text}");
    }
    // Resuming reads the escaped row back: nothing is recorded twice.
    let st = bin()
        .args([
            "scan",
            "--backend",
            "cpu",
            "--quiet",
            "--format",
            "csv",
            "--resume",
            "-o",
        ])
        .arg(&out)
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().lines().count(),
        1 + expect
    );
    // ... and the other format is refused instead of cutting the output away.
    let o = bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--resume", "-o"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().lines().count(),
        1 + expect
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn merge_refuses_a_shard_that_did_not_finish() {
    let dir = scratch("scan-unfinished");
    save_png(1, 20, 20, &dir.join("a.png"));
    let out = dir.join("s0.jsonl");
    assert!(
        bin()
            .args([
                "scan",
                "--backend",
                "cpu",
                "--quiet",
                "--shard",
                "0/1",
                "-o"
            ])
            .arg(&out)
            .arg(dir.join("a.png"))
            .status()
            .unwrap()
            .success()
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let without_summary: String = text
        .lines()
        .filter(|l| !l.contains("\"summary\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&out, without_summary).unwrap();
    let o = bin()
        .args(["merge", "-o"])
        .arg(dir.join("m.jsonl"))
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did not finish"));
    let o = bin()
        .args(["merge", "-o"])
        .arg(&out)
        .arg(&out)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("both an input and the output"));
    let _ = std::fs::remove_dir_all(dir);
}
