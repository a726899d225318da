//! The fuzz targets of `fuzz/` build, and each runs clean for a bounded time from seeds made
//! here (pictures, HEIF files, the example lists, real sets and real scan outputs), so that
//! a parser change that panics on hostile bytes fails CI, and `fuzz/` cannot rot unbuilt.
//! Each target's executions are printed as a FIGURE line. Needs `cargo fuzz` (installed by
//! `.ci/run`); `HASHSWEEP_FUZZ_SECONDS` sets the time per target (default 30).
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run_ok, scratch};
use hashsweep::Frame;

const TARGETS: [&str; 6] = [
    "decode_and_hash",
    "heif_boxes",
    "hash_lists",
    "hsref_header",
    "scan_outputs",
    "containers",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn have_cargo_fuzz() -> bool {
    let ok = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::skip("cargo-fuzz is not installed (cargo install cargo-fuzz --locked)");
    }
    ok
}

/// Every target, built once. `-s none`: the stable toolchain has no sanitizers, and the
/// coverage instrumentation is what guides the search; panics and aborts are still caught.
fn build() -> PathBuf {
    let st = Command::new("cargo")
        .args(["fuzz", "build", "-s", "none"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(st.success(), "cargo fuzz build failed");
    let triple = std::env::consts::ARCH.to_string() + "-unknown-linux-gnu";
    root().join("fuzz/target").join(triple).join("release")
}

/// Small pictures in every format the decoder takes, and HEIC/AVIF when the encoders are
/// there (`.ci/run` installs them).
fn picture_seeds(dir: &Path, heif: &Path) {
    let f = Frame::synthetic(48, 32, 7);
    let img = image::RgbImage::from_raw(48, 32, f.rgb().to_vec()).unwrap();
    for ext in ["png", "jpg", "gif", "bmp", "tiff", "webp"] {
        img.save(dir.join(format!("seed.{ext}"))).unwrap();
    }
    let png = dir.join("seed.png");
    for (tool, name) in [("heif-enc", "seed.heic"), ("avifenc", "seed.avif")] {
        let out = heif.join(name);
        let made = Command::new(tool)
            .arg(&png)
            .arg("-o")
            .arg(&out)
            .output()
            .is_ok_and(|o| o.status.success());
        // The target still runs from no seed; under CI the encoders must be there.
        if !made {
            assert!(!common::in_ci(), "CI=true but {tool} did not make {name}");
            eprintln!("NOTICE: {tool} is missing: heif_boxes has no {name} seed");
        }
    }
}

/// Real sets: built from the example lists (labels, categories) and random ones.
fn set_seeds(dir: &Path, work: &Path) {
    let ex = root().join("docs/examples");
    for (list, name) in [
        ("pdq.txt", "pdq"),
        ("md5.txt", "md5"),
        ("ncmec.xml", "ncmec"),
    ] {
        let out = dir.join(format!("{name}.hsref"));
        run_ok(&[
            "refs",
            "build",
            ex.join(list).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
    }
    let out = work.join("random.hsref");
    run_ok(&[
        "refs",
        "random",
        "--count",
        "40",
        "-o",
        out.to_str().unwrap(),
    ]);
    std::fs::copy(&out, dir.join("random.hsref")).unwrap();
}

/// Real scan outputs in both formats, laid out as the target reads them: a format byte,
/// the records, a zero byte, then the matches (JSONL) or the meta file (CSV).
fn scan_output_seeds(dir: &Path, work: &Path) {
    let pics = work.join("pics");
    std::fs::create_dir_all(&pics).unwrap();
    for seed in 0..3 {
        let f = Frame::synthetic(64, 48, seed);
        image::RgbImage::from_raw(64, 48, f.rgb().to_vec())
            .unwrap()
            .save(pics.join(format!("p{seed}.png")))
            .unwrap();
    }
    std::fs::write(pics.join("junk.jpg"), b"\xff\xd8 not a jpeg").unwrap();
    let list = work.join("list.txt");
    let hashed = run_ok(&["hash", pics.join("p1.png").to_str().unwrap()]);
    let pdq = hashed
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64);
    std::fs::write(
        &list,
        format!("{}\n", pdq.expect("a PDQ hash in hash's output")),
    )
    .unwrap();
    let set = work.join("list.hsref");
    run_ok(&[
        "refs",
        "build",
        list.to_str().unwrap(),
        "-o",
        set.to_str().unwrap(),
    ]);
    let outputs = [
        (0u8, "jsonl", "out.matches.jsonl"),
        (1, "csv", "out.meta.jsonl"),
    ];
    for (pick, format, companion) in outputs {
        let name = format!("out.{format}");
        let own = work.join(format);
        std::fs::create_dir_all(&own).unwrap();
        let out = own.join(&name);
        run_ok(&[
            "scan",
            pics.to_str().unwrap(),
            "--refs",
            set.to_str().unwrap(),
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
        ]);
        let mut seed = vec![pick];
        seed.extend(std::fs::read(&out).unwrap());
        seed.push(0);
        seed.extend(std::fs::read(own.join(companion)).unwrap());
        std::fs::write(dir.join(format!("{name}.seed")), seed).unwrap();
    }
}

/// Small containers of every kind, each holding a picture and a text: made here with the
/// crates hashsweep reads them with, by 7-Zip and img2pdf when they are installed, and the
/// RAR samples of ../shared.
fn container_seeds(dir: &Path, jpeg: &Path) {
    let pic = std::fs::read(jpeg).unwrap();
    let members: [(&str, &[u8]); 2] = [("a/p.jpg", &pic), ("n.txt", b"notes")];
    for (name, method) in [
        ("stored.zip", zip::CompressionMethod::Stored),
        ("deflate.zip", zip::CompressionMethod::Deflated),
    ] {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(vec![]));
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        for (m, b) in members {
            z.start_file(m, opts).unwrap();
            z.write_all(b).unwrap();
        }
        std::fs::write(dir.join(name), z.finish().unwrap().into_inner()).unwrap();
    }
    let mut t = tar::Builder::new(vec![]);
    for (m, b) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(b.len() as u64);
        h.set_cksum();
        t.append_data(&mut h, m, b).unwrap();
    }
    let tar = t.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(vec![], bzip2::Compression::fast());
    bz.write_all(&tar).unwrap();
    let mut xz = lzma_rust2::XzWriter::new(vec![], lzma_rust2::XzOptions::with_preset(1)).unwrap();
    xz.write_all(&tar).unwrap();
    let seeds = [
        ("t.tar", tar.clone()),
        ("t.tar.gz", gz.finish().unwrap()),
        ("t.tar.bz2", bz.finish().unwrap()),
        ("t.tar.xz", xz.finish().unwrap()),
        ("t.tar.zst", zstd::encode_all(&tar[..], 1).unwrap()),
        ("thumb.jpg", pic.clone()),
    ];
    for (name, b) in seeds {
        std::fs::write(dir.join(name), b).unwrap();
    }
    let made = |p: &str, a: &[&std::ffi::OsStr]| {
        let ok = Command::new(p)
            .args(a)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("NOTICE: {p} is missing: containers has no seed from it");
        }
    };
    // A FAT12 volume holding the picture, raw and as EWF: the disk readers' seeds.
    let fat = dir.join("fat12.img");
    made(
        "mkfs.fat",
        &[
            "-F".as_ref(),
            "12".as_ref(),
            "-C".as_ref(),
            fat.as_os_str(),
            "128".as_ref(),
        ],
    );
    made(
        "mcopy",
        &[
            "-i".as_ref(),
            fat.as_os_str(),
            jpeg.as_os_str(),
            "::/p.jpg".as_ref(),
        ],
    );
    made(
        "ewfacquire",
        &[
            "-q".as_ref(),
            "-u".as_ref(),
            "-c".as_ref(),
            "best".as_ref(),
            "-t".as_ref(),
            dir.join("fat12").as_os_str(),
            fat.as_os_str(),
        ],
    );
    made(
        "7zz",
        &[
            "a".as_ref(),
            "-bd".as_ref(),
            dir.join("s.7z").as_os_str(),
            jpeg.as_os_str(),
        ],
    );
    made(
        "img2pdf",
        &[
            jpeg.as_os_str(),
            "-o".as_ref(),
            dir.join("s.pdf").as_os_str(),
        ],
    );
    if let Some(td) = common::testdata() {
        for e in std::fs::read_dir(td.join("archives")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rar") {
                std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}

/// A corpus folder per target, filled with its seeds.
fn corpora(base: &Path) -> Vec<(&'static str, PathBuf)> {
    let work = base.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let dirs: Vec<(&str, PathBuf)> = TARGETS.iter().map(|t| (*t, base.join(t))).collect();
    for (_, d) in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    picture_seeds(&dirs[0].1, &dirs[1].1);
    for e in std::fs::read_dir(root().join("docs/examples")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dirs[2].1.join(p.file_name().unwrap())).unwrap();
    }
    set_seeds(&dirs[3].1, &work);
    scan_output_seeds(&dirs[4].1, &work);
    container_seeds(&dirs[5].1, &dirs[0].1.join("seed.jpg"));
    // Inputs that once failed run first, every time: a finding stays fixed.
    for (target, dir) in &dirs {
        let found = root().join("fuzz/regressions").join(target);
        for e in std::fs::read_dir(found).into_iter().flatten() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    dirs
}

/// Run one target on its corpus for `seconds`; returns its executions, failing on a crash.
fn fuzz(bin: &Path, corpus: &Path, artifacts: &Path, seconds: u64) -> u64 {
    let o = Command::new(bin)
        .arg(corpus)
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg("-timeout=20")
        .arg("-rss_limit_mb=2048")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    let tail: String = text
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        o.status.success(),
        "{} found a failing input (saved under {}):\n{tail}",
        bin.display(),
        artifacts.display()
    );
    text.lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no execution count in libFuzzer's output:\n{tail}"))
}

#[test]
fn every_fuzz_target_builds_and_runs_clean() {
    if !have_cargo_fuzz() {
        return;
    }
    let seconds: u64 = std::env::var("HASHSWEEP_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let bins = build();
    let base = scratch("fuzz");
    // Findings are kept where a developer finds them, not in the scratch folder.
    let artifacts = root().join("fuzz/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (target, corpus) in corpora(&base) {
        let seeds = std::fs::read_dir(&corpus).unwrap().count();
        let execs = fuzz(&bins.join(target), &corpus, &artifacts, seconds);
        // Straight to stderr, so that CI's log shows it for a passing test too.
        let _ = writeln!(
            std::io::stderr(),
            "FIGURE fuzz {target}: {execs} executions in {seconds} s from {seeds} seeds"
        );
        assert!(execs > seeds as u64, "{target} ran no more than its seeds");
    }
}
