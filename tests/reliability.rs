//! Evidence-grade behaviour of `scan`: bounded memory whatever the images, partial data
//! flagged, resume refusing a different run, permission errors, clear messages.

mod common;

use common::{bin, files, records, scratch};

use std::path::Path;

use serde_json::Value;

fn summary(recs: &[Value]) -> &Value {
    recs.iter()
        .find(|r| r["type"] == "summary")
        .expect("summary")
}

/// A large PNG that stays small on disk (a few MB: CI machines may have little room):
/// blocks of flat colour, which the Sub filter turns into runs of zeros.
fn big_png(path: &Path, w: u32, h: u32, seed: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (bx, by) = (x / 64, y / 64);
        image::Rgb([(bx * 7 + seed) as u8, (by * 5) as u8, ((bx ^ by) * 3) as u8])
    });
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let enc = image::codecs::png::PngEncoder::new_with_quality(
        f,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Sub,
    );
    img.write_with_encoder(enc).unwrap();
}

/// A small helper between this test process and the command: it forks and execs the
/// command and reports `wait4`'s `ru_maxrss` of exactly that child. Measured straight from
/// here, the child's high-water mark would start at this test process's size at the fork
/// (inflated by the tests running beside it); polling `/proc` would miss a peak between
/// two samples. The helper is small, so its child's mark starts near nothing.
const PEAK_HELPER: &str = r#"
import os, sys
out, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    f.write(f"{code} {usage.ru_maxrss}")
"#;

/// Runs the command and returns its exit status and its peak resident memory in bytes
/// (through `PEAK_HELPER`).
fn run_measuring_peak(cmd: &mut std::process::Command) -> (i32, u64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut helper = std::process::Command::new("python3");
    helper
        .args(["-c", PEAK_HELPER])
        .arg(report.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => helper.env(k, v),
            None => helper.env_remove(k),
        };
    }
    let st = helper.status().unwrap();
    assert!(st.success(), "the measuring helper failed");
    let text = std::fs::read_to_string(report.path()).unwrap();
    let (code, kb) = text.split_once(' ').unwrap();
    (
        code.parse().unwrap(),
        kb.trim().parse::<u64>().unwrap() * 1024,
    )
}

#[test]
fn the_peak_measured_is_the_commands_own() {
    // This test process holds 300 MB while it measures: a measure that started from it
    // would report at least that for a small command.
    let ballast = vec![1u8; 300 << 20];
    std::hint::black_box(&ballast);
    let (code, small) = run_measuring_peak(&mut std::process::Command::new("true"));
    assert_eq!(code, 0);
    assert!(small < 50 << 20, "`true` peaked at {} MB", small >> 20);
    let (code, big) = run_measuring_peak(
        std::process::Command::new("python3").args(["-c", "b = b'x' * (200 << 20); print(len(b))"]),
    );
    assert_eq!(code, 0);
    assert!((200 << 20..400 << 20).contains(&big), "{} MB", big >> 20);
}

#[test]
fn a_memory_budget_holds_for_a_folder_of_huge_images_and_every_file_is_recorded() {
    let d = scratch("membudget");
    let input = d.join("in");
    std::fs::create_dir_all(&input).unwrap();
    // Six 64-megapixel images: decoded together they would need several GB.
    for i in 0..6 {
        big_png(&input.join(format!("big{i}.png")), 8000, 8000, i);
    }
    std::fs::write(input.join("small.txt"), b"not an image").unwrap();
    let on_disk: u64 = std::fs::read_dir(&input)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    eprintln!("{} MB of input on disk", on_disk >> 20);
    // Room for one image being decoded (about 1 GB at its peak), not two: without the
    // budget this folder peaks at about 2.5 GB.
    let budget: u64 = 1600 << 20;
    let out = d.join("out.jsonl");
    let (code, peak) = run_measuring_peak(
        bin()
            .args(["scan", "--backend", "cpu", "--quiet", "--threads", "4"])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--max-memory", &budget.to_string()]),
    );
    assert_eq!(code, 0);
    let recs = records(&out);
    let f = files(&recs);
    assert_eq!(f.len(), 7);
    assert_eq!(f.iter().filter(|r| r["status"] == "ok").count(), 6);
    assert!(
        peak < budget,
        "peak resident memory {} MB over the {} MB budget",
        peak >> 20,
        budget >> 20
    );
    eprintln!(
        "peak RSS {} MB with a {} MB budget",
        peak >> 20,
        budget >> 20
    );
    std::fs::remove_dir_all(&d).unwrap();
}

fn small_png(path: &Path, seed: u64) {
    let f = hashsweep::Frame::synthetic(64, 48, seed);
    image::RgbImage::from_raw(64, 48, f.rgb().to_vec())
        .unwrap()
        .save(path)
        .unwrap();
}

#[test]
fn truncated_and_padded_files_are_hashed_and_flagged_and_counted() {
    let d = scratch("truncated");
    let input = d.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let img = image::RgbImage::from_raw(
        640,
        480,
        hashsweep::Frame::synthetic(640, 480, 9).rgb().to_vec(),
    )
    .unwrap();
    img.save(input.join("whole.jpg")).unwrap();
    let whole = std::fs::read(input.join("whole.jpg")).unwrap();
    // A carved file cut in its image data: decoders fill in the rest and say nothing.
    std::fs::write(input.join("cut.jpg"), &whole[..whole.len() * 7 / 10]).unwrap();
    let mut padded = whole.clone();
    padded.extend_from_slice(&[0u8; 100]);
    std::fs::write(input.join("padded.jpg"), &padded).unwrap();
    let out = d.join("out.jsonl");
    let st = bin()
        .args(["scan", "--backend", "cpu", "--quiet"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let recs = records(&out);
    let by_name = |n: &str| {
        *files(&recs)
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(n))
            .unwrap()
    };
    for n in ["whole.jpg", "cut.jpg", "padded.jpg"] {
        assert_eq!(by_name(n)["status"], "ok", "{n}: the hash is kept");
        assert!(by_name(n)["pdq"].is_string(), "{n}");
    }
    assert!(by_name("whole.jpg").get("warnings").is_none());
    let cut = by_name("cut.jpg")["warnings"][0].as_str().unwrap();
    assert!(cut.starts_with("truncated:"), "{cut}");
    let pad = by_name("padded.jpg")["warnings"][0].as_str().unwrap();
    assert!(pad.starts_with("trailing_data: 100 bytes"), "{pad}");
    let s = summary(&recs);
    assert_eq!(s["warnings"]["truncated"], 1);
    assert_eq!(s["warnings"]["trailing_data"], 1);
}

#[test]
fn resume_refuses_other_settings_and_says_which() {
    let d = scratch("resume-settings");
    let input = d.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..3 {
        small_png(&input.join(format!("{i}.png")), i);
    }
    let out = d.join("out.jsonl");
    let scan = |extra: &[&str]| {
        bin()
            .args(["scan", "--backend", "cpu", "--quiet"])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(scan(&["--algo", "pdq"]).status.success());
    let before = std::fs::read(&out).unwrap();
    let o = scan(&[
        "--resume",
        "--algo",
        "pdq,phash",
        "--dihedral",
        "--digest",
        "md5",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for what in ["`--algo`", "`--dihedral`", "`--digest`"] {
        assert!(err.contains(what), "{what} not named in: {err}");
    }
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "the output is untouched"
    );
    // The same settings resume (nothing left to do), and a stall timeout may change.
    let o = scan(&["--resume", "--algo", "pdq", "--video-timeout", "99"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn bad_arguments_and_unwritable_outputs_are_named_once() {
    let d = scratch("messages");
    small_png(&d.join("a.png"), 1);
    let o = bin()
        .args(["hash", "--pre-resize", "0"])
        .arg(d.join("a.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--pre-resize"));
    let o = bin()
        .args(["match", "--refs", "/nonexistent/known.hsref"])
        .arg(d.join("a.png"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("/nonexistent/known.hsref").count(), 1, "{err}");
    assert_eq!(
        err.to_lowercase().matches("no such file").count(),
        1,
        "{err}"
    );
    let o = bin()
        .args([
            "scan",
            "--quiet",
            "--backend",
            "cpu",
            "-o",
            "/nonexistent-dir/x.jsonl",
        ])
        .arg(&d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent-dir/x.jsonl"), "{err}");
}

#[test]
fn stderr_carries_only_our_own_lines_without_a_runtime_dir() {
    let d = scratch("stderr");
    small_png(&d.join("a.png"), 2);
    // `auto` opens a GPU instance where a Vulkan driver is installed: the window-system
    // probe is what used to print.
    let o = bin()
        .args(["hash", "--backend", "auto"])
        .arg(d.join("a.png"))
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    for line in err.lines() {
        assert!(
            line.starts_with("hashsweep"),
            "a foreign stderr line: {line:?}"
        );
    }
}

/// Runs `cmd` as an unprivileged user: `setpriv` when we are root (permissions mean
/// nothing to root), as it is otherwise. `None` after a notice when that cannot be done.
fn unprivileged(cmd: &mut std::process::Command) -> Option<std::process::Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(std::mem::replace(cmd, std::process::Command::new("true")));
    }
    let have = std::process::Command::new("setpriv")
        .arg("--version")
        .output();
    if !have.is_ok_and(|o| o.status.success()) {
        common::skip("setpriv (util-linux) is missing");
        return None;
    }
    let mut s = std::process::Command::new("setpriv");
    s.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    Some(s)
}

#[test]
fn unreadable_files_and_folders_are_error_records_and_the_run_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let d = scratch("perms");
    let input = d.join("in");
    std::fs::create_dir_all(input.join("locked")).unwrap();
    small_png(&input.join("open.png"), 3);
    small_png(&input.join("secret.png"), 4);
    small_png(&input.join("locked/inside.png"), 5);
    let outdir = d.join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(&d, 0o755);
    mode(&input, 0o755);
    mode(&outdir, 0o777);
    mode(&input.join("open.png"), 0o644);
    mode(&input.join("secret.png"), 0o000);
    mode(&input.join("locked"), 0o000);
    let out = outdir.join("out.jsonl");
    let mut cmd = bin();
    cmd.args(["scan", "--backend", "cpu", "--quiet"])
        .arg(&input)
        .arg("-o")
        .arg(&out);
    let Some(mut cmd) = unprivileged(&mut cmd) else {
        return;
    };
    let o = cmd.output().unwrap();
    mode(&input.join("locked"), 0o755); // so that the scratch folder can be removed
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = records(&out);
    let f = files(&recs);
    let status = |n: &str| {
        let r = f
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(n))
            .unwrap_or_else(|| panic!("no record for {n}"));
        (
            r["status"].as_str().unwrap().to_string(),
            r["reason"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(status("open.png").0, "ok");
    let (s, why) = status("secret.png");
    assert_eq!(s, "error");
    assert!(why.contains("ermission denied"), "{why}");
    let (s, why) = status("locked");
    assert_eq!(s, "error");
    assert!(why.contains("ermission denied"), "{why}");
    assert_eq!(f.len(), 3);
}

#[test]
fn merge_streams_shards_with_memory_that_does_not_grow_with_their_records() {
    use hashsweep::scan::shard::Shard;
    use std::io::Write;
    let d = scratch("merge-stream");
    let n = 300_000u64;
    let shards: Vec<Shard> = (0..3)
        .map(|k| Shard::parse(&format!("{k}/3")).unwrap())
        .collect();
    let mut outs: Vec<_> = (0..3)
        .map(|k| {
            let p = d.join(format!("shard-{k}.jsonl"));
            let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
            writeln!(w, r#"{{"type":"header","parameters":{{"shard":"{k}/3"}}}}"#).unwrap();
            (p, w)
        })
        .collect();
    for i in 0..n {
        let path = format!("/evidence/dir{:04}/IMG_{i:07}.jpg", i / 1000);
        let k = shards
            .iter()
            .position(|s| s.owns(Path::new(&path)))
            .unwrap();
        writeln!(
            outs[k].1,
            r#"{{"type":"file","path":"{path}","size":123456,"format":"jpg","width":4032,"height":3024,"pdq":"{:064x}","quality":100,"phash":"a3c99479b05f8e16","md5":"{:032x}","status":"ok"}}"#,
            i * 7919,
            i
        )
        .unwrap();
    }
    let mut paths = vec![];
    for (p, mut w) in outs {
        writeln!(w, r#"{{"type":"summary","walked":{n}}}"#).unwrap();
        w.flush().unwrap();
        paths.push(p);
    }
    let merged = d.join("all.jsonl");
    let (code, peak) = run_measuring_peak(bin().arg("merge").args(&paths).arg("-o").arg(&merged));
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&merged).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, n + 2);
    // The walk's order comes back: shards interleave into one sorted sequence.
    let names: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| &l[l.find("IMG_").unwrap()..][..11])
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]));
    let input_bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    eprintln!(
        "merge of {} MB of records: peak RSS {} MB",
        input_bytes >> 20,
        peak >> 20
    );
    assert!(
        peak < input_bytes / 3,
        "peak {} MB for {} MB of records: merge holds them",
        peak >> 20,
        input_bytes >> 20
    );
    std::fs::remove_dir_all(&d).unwrap();
}
