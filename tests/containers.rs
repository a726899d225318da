//! Containers: archives (ZIP in every method Python and 7-Zip write, ZIP64, TAR plain and
//! compressed four ways, 7z, RAR 4 from ../shared), single compressed files, documents
//! (DOCX, XLSX, PPTX, ODT, EPUB, PDF) and thumbnails, made by `tests/containers/make.py`
//! from pictures that are also kept loose. Every member has a record, inner pictures hash
//! and digest as they do loose, encryption and damage are named, bombs end in bounded
//! memory, and resume and shards work inside archives.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::{bin, files, records, save_png, scratch, skip};
use serde_json::Value;

/// Whether the fixture makers run: Python with Pillow, img2pdf, reportlab and python-docx;
/// 7-Zip (`7zz`), exiftool, zstd and poppler's pdfimages. `.ci/run` installs them.
fn have_tools() -> bool {
    let runs = |p: &str, a: &[&str]| {
        Command::new(p)
            .args(a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = runs("python3", &["-c", "import PIL, img2pdf, reportlab, docx"])
        && runs("7zz", &["i"])
        && runs("exiftool", &["-ver"])
        && runs("zstd", &["--version"])
        && runs("pdfimages", &["-v"]);
    if !ok {
        skip(
            "python3 with Pillow, img2pdf, reportlab, python-docx, or 7zz, exiftool, zstd, pdfimages is missing",
        );
    }
    ok
}

/// Each container of the fixtures and the members it holds.
type Manifest = BTreeMap<String, Vec<String>>;

/// The fixtures, made once per test process: (folder, manifest).
fn fixtures() -> Option<&'static (PathBuf, Manifest)> {
    static MADE: OnceLock<Option<(PathBuf, Manifest)>> = OnceLock::new();
    MADE.get_or_init(|| {
        if !have_tools() {
            return None;
        }
        let dir = scratch("containers").keep();
        let st = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/containers/make.py"))
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "make.py failed");
        let m = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
        Some((dir, serde_json::from_str(&m).unwrap()))
    })
    .as_ref()
}

/// `scan` of `inputs` with MD5, on the CPU; its records and exit code.
fn scan(out: &Path, inputs: &[&Path], extra: &[&str]) -> (Vec<Value>, i32) {
    let o = bin()
        .args([
            "scan",
            "--backend",
            "cpu",
            "--quiet",
            "--digest",
            "md5",
            "--force",
            "-o",
        ])
        .arg(out)
        .args(inputs)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (records(out), o.status.code().unwrap())
}

/// File records by path.
fn by_path(recs: &[Value]) -> HashMap<String, Value> {
    files(recs)
        .into_iter()
        .map(|r| (r["path"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// The fixtures' scan: records by path, the whole output, the fixtures' folder.
type Swept = (HashMap<String, Value>, Vec<Value>, PathBuf);

/// The fixtures' scan, done once.
fn swept() -> Option<&'static Swept> {
    static SWEPT: OnceLock<Option<Swept>> = OnceLock::new();
    SWEPT
        .get_or_init(|| {
            let (dir, _) = fixtures()?;
            let out = dir.join("ev.jsonl");
            let (recs, _) = scan(&out, &[&dir.join("ev")], &[]);
            Some((by_path(&recs), recs, dir.clone()))
        })
        .as_ref()
}

/// A member's path as records write it (inner names escaped: docs/paths.md).
fn inner(dir: &Path, chain: &str, member: &str) -> String {
    let esc: String = member
        .chars()
        .map(|c| match c {
            '!' | '#' | ':' | '@' | '%' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect();
    format!("{}/ev/{chain}!{esc}", dir.display())
}

#[test]
fn every_member_of_every_fixture_has_one_record() {
    let Some((_, manifest)) = fixtures() else {
        return;
    };
    let Some((recs, all, dir)) = swept() else {
        return;
    };
    for (chain, members) in manifest {
        for m in members.iter().filter(|m| !m.ends_with('/')) {
            let p = inner(dir, chain, m);
            let r = recs.get(&p).unwrap_or_else(|| panic!("no record for {p}"));
            let depth = chain.matches('!').count() + 1;
            assert_eq!(r["depth"], depth, "{p}");
            assert_eq!(
                r["container"],
                format!("{}/ev/{chain}", dir.display()),
                "{p}"
            );
        }
    }
    // One record per path, and every record accounted for by the manifest or a container.
    let paths: Vec<&str> = files(all)
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let unique: HashSet<&&str> = paths.iter().collect();
    assert_eq!(unique.len(), paths.len(), "a path recorded twice");
    for kind in [
        "docx", "xlsx", "pptx", "odt", "epub", "pdf", "tar.zst", "tar.xz", "7z", "zip",
    ] {
        assert!(
            recs.values()
                .any(|r| r["format"] == kind && r["status"] == "opened"),
            "no opened {kind}"
        );
    }
}

#[test]
fn inner_pictures_hash_and_digest_as_they_do_loose() {
    let Some((recs, _, dir)) = swept() else {
        return;
    };
    let out = dir.join("loose.jsonl");
    let (loose, _) = scan(&out, &[&dir.join("loose")], &[]);
    let loose: HashMap<String, Value> = files(&loose)
        .into_iter()
        .map(|r| {
            let name = r["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            (name, r.clone())
        })
        .collect();
    let mut compared = 0;
    for (path, r) in recs {
        let name = path.rsplit(['/', '!']).next().unwrap();
        let Some(want) = loose.get(name).filter(|_| r["status"] == "ok") else {
            continue;
        };
        for field in ["pdq", "phash", "md5", "width", "height"] {
            assert_eq!(r[field], want[field], "{path}: {field}");
        }
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} inner pictures compared");
    // img2pdf embeds the JPEGs as they are: the PDF's images are the files.
    let pdf = |n: &str| &recs[&inner(dir, "img.pdf", n)];
    assert_eq!(pdf("image-0")["md5"], loose["p0.jpg"]["md5"]);
    assert_eq!(pdf("image-1")["pdq"], loose["p1.jpg"]["pdq"]);
    // reportlab stores the PNG's pixels (ASCII85 over Flate): the same pixels, same hashes.
    let flate = &recs[&inner(dir, "flate.pdf", "image-0")];
    assert_eq!(flate["status"], "ok", "{flate}");
    assert_eq!(flate["pdq"], loose["q.png"]["pdq"]);
    assert_eq!(flate["phash"], loose["q.png"]["phash"]);
}

#[test]
fn pdf_images_are_those_pdfimages_lists() {
    let Some((recs, _, dir)) = swept() else {
        return;
    };
    for pdf in ["img.pdf", "flate.pdf", "form.pdf"] {
        let o = Command::new("pdfimages")
            .arg("-list")
            .arg(dir.join("ev").join(pdf))
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(2)
            .filter(|l| l.split_whitespace().nth(2) == Some("image"))
            .count();
        let ours = recs
            .keys()
            .filter(|p| p.starts_with(&format!("{}/ev/{pdf}!image-", dir.display())))
            .count();
        assert_eq!(ours, listed, "{pdf}");
        assert!(listed > 0);
    }
}

#[test]
fn encryption_is_named_in_every_format() {
    let Some((recs, all, dir)) = swept() else {
        return;
    };
    let reason = |p: &str| recs[p]["reason"].as_str().unwrap_or_default().to_string();
    for (chain, m) in [("enc.zip", "p2.jpg"), ("enc.7z", "p2.jpg")] {
        let p = inner(dir, chain, m);
        assert_eq!(recs[&p]["status"], "error");
        assert!(reason(&p).starts_with("encrypted"), "{p}: {}", reason(&p));
    }
    for whole in ["enc-names.7z", "enc.pdf"] {
        let p = format!("{}/ev/{whole}", dir.display());
        assert_eq!(recs[&p]["status"], "error");
        assert!(reason(&p).starts_with("encrypted"), "{p}: {}", reason(&p));
    }
    let summary = all.iter().find(|r| r["type"] == "summary").unwrap();
    assert_eq!(summary["containers"]["encrypted"], 2);
}

#[test]
fn rar_members_are_listed_read_when_stored_and_named_when_encrypted() {
    let Some(td) = common::testdata() else { return };
    let Some(_) = fixtures() else { return };
    let dir = scratch("rar");
    let out = dir.join("rar.jsonl");
    let (recs, code) = scan(&out, &[&td.join("archives")], &[]);
    let recs = by_path(&recs);
    let a = td.join("archives");
    let p = |s: &str| format!("{}/{s}", a.display());
    assert!(
        recs[&p("crypted.rar!.gitignore")]["reason"]
            .as_str()
            .unwrap()
            .starts_with("encrypted")
    );
    // Stored members are read: their digests are those of the bytes.
    let stored = &recs[&p("comment.rar!.gitignore")];
    assert_eq!(stored["status"], "skipped");
    assert_eq!(stored["md5"].as_str().map(str::len), Some(32));
    assert!(
        recs.contains_key(&p("unicode.rar!te…―st✌")),
        "{:?}",
        recs.keys()
    );
    let compressed = &recs[&p("version.rar!VERSION")];
    assert!(
        compressed["reason"]
            .as_str()
            .unwrap()
            .starts_with("RAR not decoded")
    );
    // Every RAR is a container record, listed to its end.
    for f in [
        "version.rar",
        "solid.rar",
        "unicode.rar",
        "comment.rar",
        "locked.rar",
        "archive.part1.rar",
    ] {
        assert_eq!(recs[&p(f)]["status"], "opened", "{f}");
        assert!(
            recs[&p(f)]["contents"]["entries"].as_u64().unwrap() >= 1,
            "{f}"
        );
    }
    assert_eq!(
        code, 1,
        "members not decoded are errors: the exit code says so"
    );
}

#[test]
fn a_zip_without_its_central_directory_is_salvaged() {
    let Some((recs, _, dir)) = swept() else {
        return;
    };
    for m in ["x/p0.jpg", "x/p1.jpg"] {
        let p = inner(dir, "broken.zip", m);
        assert_eq!(recs[&p]["status"], "ok", "{p}");
        assert_eq!(recs[&p]["pdq"], recs[&inner(dir, "deflate.zip", m)]["pdq"]);
    }
    let whole = &recs[&format!("{}/ev/broken.zip", dir.display())];
    assert_eq!(whole["status"], "error");
    assert!(
        whole["reason"].as_str().unwrap().contains("salvaged"),
        "{whole}"
    );
}

#[test]
fn thumbnails_get_records_and_unlike_ones_a_warning() {
    let Some((recs, _, dir)) = swept() else {
        return;
    };
    let t = |n: &str| &recs[&format!("{}/ev/{n}!thumbnail", dir.display())];
    let warned = |r: &Value| {
        r["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w.as_str().unwrap().starts_with("thumbnail_mismatch"))
        })
    };
    // Letterboxed, and of its own picture: no warning (the trimmed form is compared).
    assert_eq!(t("thumb.jpg")["status"], "ok");
    assert!(!warned(t("thumb.jpg")), "{}", t("thumb.jpg"));
    assert!(
        t("thumb.jpg")["trimmed"]["box"].is_object(),
        "its borders were found"
    );
    assert!(warned(t("edited.jpg")), "{}", t("edited.jpg"));
    // A photo that no longer decodes still gives up its thumbnail.
    let damaged = &recs[&format!("{}/ev/damaged.jpg", dir.display())];
    assert_eq!(damaged["status"], "error", "{damaged}");
    assert_eq!(t("damaged.jpg")["status"], "ok");
    assert_eq!(t("damaged.jpg")["pdq"], t("thumb.jpg")["pdq"]);
}

#[test]
fn the_summary_counts_what_the_records_say() {
    let Some((recs, all, _)) = swept() else {
        return;
    };
    let s = &all.iter().find(|r| r["type"] == "summary").unwrap()["containers"];
    let count = |f: &dyn Fn(&Value) -> bool| recs.values().filter(|r| f(r)).count();
    let member =
        |r: &Value| r["depth"].is_u64() && !r["path"].as_str().unwrap().ends_with("!thumbnail");
    assert_eq!(s["opened"], count(&|r| r["status"] == "opened"));
    assert_eq!(
        s["failed"],
        count(&|r| r["contents"].is_object() && r["status"] == "error")
    );
    assert_eq!(s["entries"], count(&member));
    assert_eq!(s["hashed"], count(&|r| member(r) && r["status"] == "ok"));
    assert_eq!(
        s["refused"],
        count(&|r| member(r) && r["status"] == "error")
    );
    assert_eq!(s["thumbnails"], 3);
    assert_eq!(s["thumbnail_mismatches"], 1);
    // Each container's contents count its own members.
    for r in recs.values().filter(|r| r["contents"].is_object()) {
        let p = r["path"].as_str().unwrap();
        let mine = recs.values().filter(|m| m["container"] == p).count();
        assert_eq!(r["contents"]["entries"], mine, "{p}");
    }
}

#[test]
fn hash_lists_the_pictures_inside_archives() {
    let Some((fx, _)) = fixtures() else { return };
    let o = bin()
        .args(["hash", "--backend", "cpu", "--format", "jsonl"])
        .arg(fx.join("ev/t.tar.gz"))
        .arg(fx.join("ev/nested.zip"))
        .output()
        .unwrap();
    let rows: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert!(
        names.iter().any(|n| n.ends_with("t.tar.gz!sub/p1.jpg")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("nested.zip!inner/t.tar.gz!deep.zip!p0.jpg")),
        "{names:?}"
    );
    // The link is a row that says why it has no hash; the exit code says a row failed.
    assert!(
        rows.iter()
            .any(|r| r["path"].as_str().unwrap().ends_with("link-to-p0") && r["error"].is_string())
    );
    assert_eq!(o.status.code(), Some(1));
}

/// Peak RSS (KiB) of `hashsweep ARGS`, run under Python so that no other child of this
/// test process counts.
fn peak_rss(args: &[&std::ffi::OsStr]) -> u64 {
    let o = Command::new("python3")
        .arg("-c")
        .arg("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        .arg(env!("CARGO_BIN_EXE_hashsweep"))
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

#[test]
fn decompression_bombs_end_in_error_records_in_bounded_memory() {
    if !have_tools() {
        return;
    }
    let dir = scratch("bombs");
    let st = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/containers/bombs.py"))
        .arg(dir.join("in"))
        .status()
        .unwrap();
    assert!(st.success());
    let out = dir.join("out.jsonl");
    let t = std::time::Instant::now();
    let os = |s: &str| std::ffi::OsString::from(s);
    let args = [
        os("scan"),
        os("--backend"),
        os("cpu"),
        os("--max-memory"),
        os("512M"),
        os("-o"),
        out.clone().into_os_string(),
        dir.join("in").into_os_string(),
    ];
    let rss = peak_rss(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    // Straight to stderr, so that CI's log shows it for a passing test too.
    let _ = writeln!(
        std::io::stderr(),
        "FIGURE bombs: 2 GiB gzip, 2 GiB ZIP member, 16^4 x 256 MiB nest: {:.1} s, peak RSS {} MiB",
        t.elapsed().as_secs_f64(),
        rss / 1024
    );
    let recs = records(&out);
    let by = by_path(&recs);
    let bomb = |p: &str| {
        let r = &by[&format!("{}/in/{p}", dir.display())];
        assert_eq!(r["status"], "error", "{p}: {r}");
        assert!(
            r["reason"].as_str().unwrap().contains("decompression bomb"),
            "{p}: {r}"
        );
    };
    bomb("zeros.gz!zeros");
    bomb("zeros.zip!zeros");
    let nest: Vec<&Value> = files(&recs)
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap().contains("nest.zip!"))
        .collect();
    assert!(nest.iter().any(|r| {
        r["reason"]
            .as_str()
            .is_some_and(|s| s.contains("decompression bomb"))
    }));
    // 16^4 leaves of 256 MiB (16 TiB) would take days: it ends after a bounded few.
    assert!(nest.len() < 20_000, "{} records", nest.len());
    assert!(rss < 1 << 20, "peak RSS {} KiB", rss);
    let summary = recs.iter().find(|r| r["type"] == "summary").unwrap();
    assert!(summary["containers"]["refused"].as_u64().unwrap() > 0);
}

/// A stored ZIP of `n` small PNGs, written with the zip crate.
fn png_zip(path: &Path, n: u64) -> HashMap<String, Vec<u8>> {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let tmp = scratch("png");
    let mut all = HashMap::new();
    for i in 0..n {
        let p = tmp.join("x.png");
        save_png(i, 24 + (i % 30) as u32, 24 + (i % 17) as u32, &p);
        let b = std::fs::read(&p).unwrap();
        z.start_file(format!("d{}/img{i:05}.png", i % 7), opts)
            .unwrap();
        z.write_all(&b).unwrap();
        all.insert(format!("d{}/img{i:05}.png", i % 7), b);
    }
    z.finish().unwrap();
    all
}

#[test]
fn sigkill_inside_an_archive_then_resume_records_every_member_exactly_once() {
    let dir = scratch("zip-kill");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let zip_path = input.join("big.zip");
    let n = 1500;
    png_zip(&zip_path, n);
    let out = dir.join("out.jsonl");
    let kills = common::kill_and_resume(&input, &out, 6, 91);
    let st = bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--resume", "-o"])
        .arg(&out)
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let recs = records(&out);
    let got = files(&recs);
    let paths: HashSet<&str> = got.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(
        got.len(),
        n as usize + 1,
        "each member and the archive once ({kills} kills)"
    );
    assert_eq!(paths.len(), got.len());
    assert!(
        got.iter()
            .all(|r| r["status"] == "ok" || r["status"] == "opened")
    );
    let last = got.last().unwrap();
    assert_eq!(
        last["path"],
        zip_path.display().to_string(),
        "the archive's record comes last"
    );
    assert!(kills > 0, "the test never interrupted a run");
}

#[test]
fn shards_keep_each_archive_whole_and_split_the_same_way_every_time() {
    let Some((fx, _)) = fixtures() else { return };
    let ev = fx.join("ev");
    let dir = scratch("zip-shards");
    let (whole, _) = scan(&dir.join("whole.jsonl"), &[&ev], &[]);
    let whole: HashSet<String> = files(&whole)
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    let mut union = HashSet::new();
    let mut outers: HashMap<String, usize> = HashMap::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let (a, _) = scan(
            &dir.join(format!("a{k}.jsonl")),
            &[&ev],
            &["--shard", &shard],
        );
        let (b, _) = scan(
            &dir.join(format!("b{k}.jsonl")),
            &[&ev],
            &["--shard", &shard],
        );
        let pa: Vec<&str> = files(&a)
            .iter()
            .map(|r| r["path"].as_str().unwrap())
            .collect();
        let pb: Vec<&str> = files(&b)
            .iter()
            .map(|r| r["path"].as_str().unwrap())
            .collect();
        assert_eq!(pa, pb, "shard {shard} differs between runs");
        let mine: HashSet<&str> = pa.iter().map(|p| p.split('!').next().unwrap()).collect();
        for o in mine {
            *outers.entry(o.to_string()).or_default() += 1;
        }
        union.extend(pa.iter().map(|p| p.to_string()));
    }
    assert!(
        outers.values().all(|&n| n == 1),
        "an archive split across shards: {outers:?}"
    );
    assert_eq!(union, whole);
}

#[test]
fn refs_build_and_match_take_the_pictures_inside_archives_and_documents() {
    let Some((fx, _)) = fixtures() else { return };
    let dir = scratch("zip-refs");
    let set = dir.join("known.hsref");
    let said = common::refs_build_with(
        &[&fx.join("ev/deflate.zip"), &fx.join("ev/img.pdf")],
        &set,
        &[],
    );
    assert!(
        said.contains("1 files inside archives not pictures"),
        "{said}"
    );
    let o = bin()
        .args(["match", "--backend", "cpu", "--refs"])
        .arg(&set)
        .arg(fx.join("ev/t.tar.bz2"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    // p0 and p1 are in the set twice (ZIP member, PDF image): one entry each, both labels.
    for (query, label) in [
        ("t.tar.bz2!p0.jpg", "deflate.zip!x/p0.jpg"),
        ("t.tar.bz2!sub/p1.jpg", "img.pdf!image-1"),
    ] {
        assert!(
            out.lines().any(|l| l.contains(query) && l.contains(label)),
            "{query} should match {label}:\n{out}"
        );
    }
}

#[test]
fn the_report_lists_containers_with_their_counts() {
    let Some((_, _, dir)) = swept() else { return };
    let page = dir.join("ev.html");
    let o = bin()
        .args(["report", "--format", "html", "-o"])
        .arg(&page)
        .arg(dir.join("ev.jsonl"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h3>Containers ("), "no container section");
    assert!(
        html.contains("nested.zip!inner/t.tar.gz!deep.zip"),
        "inner containers listed"
    );
    assert!(
        html.contains("(2 encrypted)"),
        "the summary's counts are shown"
    );
}

/// ZIP methods no fixture maker here writes (Python's zipfile has no zstd before 3.14, and
/// 7-Zip writes none of these into a ZIP): zstd, bzip2 and xz members, written by the `zip`
/// crate, hash and digest as the same pictures loose do.
#[test]
fn zip_members_in_zstd_bzip2_and_xz_hash_as_they_do_loose() {
    let dir = scratch("zip-methods");
    let loose = dir.join("loose");
    std::fs::create_dir_all(&loose).unwrap();
    let zip_path = dir.join("methods.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let methods = [
        ("zstd", zip::CompressionMethod::Zstd),
        ("bzip2", zip::CompressionMethod::Bzip2),
        ("xz", zip::CompressionMethod::Xz),
    ];
    for (i, (name, m)) in methods.iter().enumerate() {
        let p = loose.join(format!("{name}.png"));
        save_png(40 + i as u64, 64, 48, &p);
        let opts = zip::write::SimpleFileOptions::default().compression_method(*m);
        z.start_file(format!("{name}.png"), opts).unwrap();
        z.write_all(&std::fs::read(&p).unwrap()).unwrap();
    }
    z.finish().unwrap();
    let out = dir.join("out.jsonl");
    let (recs, code) = scan(&out, &[&loose, &zip_path], &[]);
    assert_eq!(code, 0);
    let recs = by_path(&recs);
    for (name, _) in methods {
        let inside = &recs[&format!("{}!{name}.png", zip_path.display())];
        let alone = &recs[&format!("{}/{name}.png", loose.display())];
        assert_eq!(inside["status"], "ok", "{inside}");
        assert!(inside["pdq"].is_string(), "{inside}");
        assert_eq!(inside["pdq"], alone["pdq"], "{name}");
        assert_eq!(inside["md5"], alone["md5"], "{name}");
    }
}

/// `hash` and `match` look inside JPEGs too: a thumbnail is a row of its own, hashed as the
/// thumbnail file is, and a thumbnail showing a listed picture matches it (the photo
/// around it does not). `refs build` adds no thumbnails: a set holds the pictures given.
#[test]
fn hash_and_match_take_thumbnails() {
    let Some((fx, _)) = fixtures() else { return };
    let dir = scratch("thumb-match");
    let edited = fx.join("ev/edited.jpg");
    let o = bin()
        .args(["hash", "--backend", "cpu", "--format", "jsonl"])
        .arg(&edited)
        .arg(fx.join("t1.jpg"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let rows: HashMap<String, Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| (r["path"].as_str().unwrap().to_string(), r))
        .collect();
    let thumb = &rows[&format!("{}!thumbnail", edited.display())];
    let alone = &rows[&fx.join("t1.jpg").display().to_string()];
    assert!(thumb["pdq"].is_string(), "{thumb}");
    assert_eq!(thumb["pdq"], alone["pdq"]);
    assert_eq!(rows.len(), 3, "{rows:?}");

    let set = dir.join("t1.hsref");
    let said = common::refs_build_with(&[&fx.join("t1.jpg")], &set, &[]);
    assert!(said.contains("1 pictures hashed"), "{said}");
    let o = bin()
        .args(["match", "--backend", "cpu", "--refs"])
        .arg(&set)
        .arg(&edited)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let hits: Vec<&str> = out.lines().filter(|l| l.contains("t1.jpg")).collect();
    assert_eq!(hits.len(), 1, "{out}");
    assert!(hits[0].contains("edited.jpg!thumbnail"), "{out}");
}
