//! No command ends in an empty or partial result with exit 0 and no word (issue 20): lists
//! read whole whatever their layout, empty sets refused, sets served by what they need and
//! checked before use, outputs never overwritten unasked, interrupts that leave a resumable
//! output, progress in logs, closed pipes, and errors that say what happened.

mod common;

use common::{bin, files, pngs, records, refs_build_with, run_ok, save_png, scratch};

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hashsweep::refset::{Algo, RefSet};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `hashsweep ARGS` with the paths appended; the whole output.
fn run(args: &[&str], paths: &[&Path]) -> Output {
    bin().args(args).args(paths).output().unwrap()
}

/// The PDQ and MD5 of a picture, as `hash` and `md5sum` give them.
fn pdq_and_md5(p: &Path) -> (String, String) {
    let out = run_ok(&[
        "hash",
        "--algo",
        "pdq",
        "--backend",
        "cpu",
        &p.to_string_lossy(),
    ]);
    let pdq = out
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    use md5::Digest;
    let md5 = hashsweep::hash::hex(&md5::Md5::digest(std::fs::read(p).unwrap()));
    (pdq, md5)
}

/// An NCMEC list: entry 1 carries picture `a`'s PDQ and MD5, entry 2 only picture `b`'s MD5.
fn ncmec(d: &Path, a: &Path, b: &Path) -> PathBuf {
    let ((pdq_a, md5_a), (_, md5_b)) = (pdq_and_md5(a), pdq_and_md5(b));
    let list = d.join("ncmec.xml");
    std::fs::write(
        &list,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images count="2">
<image><id>n-1</id><classification>A1</classification>
  <fingerprints><md5>{md5_a}</md5><pdq>{pdq_a}</pdq><pdna>1,2,3</pdna></fingerprints></image>
<image><id>n-2</id><classification>B2</classification>
  <fingerprints><md5>{md5_b}</md5></fingerprints></image>
</images></queryResult>
"#
        ),
    )
    .unwrap();
    list
}

fn scan(input: &Path, out: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["scan", "--backend", "cpu", "--quiet", "-o"])
        .arg(out)
        .args(extra)
        .arg(input)
        .output()
        .unwrap()
}

fn matches(out: &Path) -> Vec<serde_json::Value> {
    records(&hashsweep::scan::matches_path(out))
}

#[test]
fn a_vics_file_on_one_line_is_read_like_an_indented_one() {
    let d = scratch("silent-vics-line");
    let doc = serde_json::json!({"odata.metadata": "x", "value": [
        {"MediaID": 1, "Category": 1, "MD5": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        {"MediaID": 2, "Category": 2, "MD5": "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}]});
    for (name, text) in [
        ("line", serde_json::to_string(&doc).unwrap()),
        ("pretty", serde_json::to_string_pretty(&doc).unwrap()),
    ] {
        let list = d.join(format!("{name}.json"));
        std::fs::write(&list, &text).unwrap();
        for extra in [&[][..], &["--algo", "md5"][..]] {
            let set = d.join(format!("{name}.hsref"));
            refs_build_with(&[&list], &set, extra);
            let s = RefSet::open(&set).unwrap();
            assert_eq!((s.algo(), s.len()), (Algo::Md5, 2), "{name} {extra:?}");
        }
    }
}

#[test]
fn a_build_that_yields_no_entry_is_refused_unless_allowed() {
    let d = scratch("silent-empty");
    let list = d.join("only-photodna.json");
    std::fs::write(
        &list,
        r#"[{"hashValue": "1,2,3", "signalType": "PhotoDNA", "caseNumbers": ["c"]}]"#,
    )
    .unwrap();
    let set = d.join("empty.hsref");
    let o = run(&["refs", "build", "-o"], &[&set, &list]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("\"photodna\": 1"), "{}", stderr(&o));
    assert!(!set.exists());
    // An empty VICS file in the kind asked for is an empty set: refused, then allowed.
    let vics = d.join("empty-vics.json");
    std::fs::write(&vics, r#"{"value": []}"#).unwrap();
    let o = run(&["refs", "build", "--algo", "md5", "-o"], &[&set, &vics]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--allow-empty"), "{}", stderr(&o));
    refs_build_with(&[&vics], &set, &["--algo", "md5", "--allow-empty"]);
    assert_eq!(RefSet::open(&set).unwrap().len(), 0);
    let o = run(&["refs", "build", "--allow-empty", "-o"], &[&set, &list]);
    assert!(stderr(&o).contains("give --algo"), "{}", stderr(&o));
}

#[test]
fn a_list_of_several_kinds_builds_a_set_each_and_refs_takes_them_by_name_or_folder() {
    let d = scratch("silent-kinds");
    let input = pngs(&d, 3, 64, 48);
    let (a, b) = (input.join("0.png"), input.join("1.png"));
    let list = ncmec(&d, &a, &b);
    let lists = d.join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    let name = lists.join("ncmec.hsref");
    let err = refs_build_with(&[&list], &name, &[]);
    assert!(err.contains("\"pdna\": 1"), "{err}");
    let pdq = RefSet::open(&lists.join("ncmec.pdq.hsref")).unwrap();
    let md5 = RefSet::open(&lists.join("ncmec.md5.hsref")).unwrap();
    assert_eq!((pdq.len(), md5.len()), (1, 2));
    assert!(!name.exists());
    for refs in [&name, &lists] {
        let out = d.join("out.jsonl");
        let o = scan(
            &input,
            &out,
            &["--force", "--refs", &refs.to_string_lossy()],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let mut kinds: Vec<(String, String)> = matches(&out)
            .iter()
            .map(|m| {
                let f = common::file_name(Path::new(m["path"].as_str().unwrap()));
                (f, m["kind"].as_str().unwrap().to_string())
            })
            .collect();
        kinds.sort();
        let want = [("0.png", "md5"), ("0.png", "pdq"), ("1.png", "md5")];
        assert_eq!(kinds, want.map(|(f, k)| (f.to_string(), k.to_string())));
    }
    // `match` takes the name too (the MD5 set is named and left to `scan`), and several
    // --refs.
    let o = run(
        &[
            "match",
            "--backend",
            "cpu",
            "--refs",
            &name.to_string_lossy(),
        ],
        &[&a],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("ncmec.md5.hsref holds md5 digests"));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let other = d.join("other.hsref");
    refs_build_with(&[&input.join("2.png")], &other, &[]);
    let o = run(
        &["match", "--backend", "cpu", "--format", "jsonl"],
        &[
            Path::new("--refs"),
            &lists.join("ncmec.pdq.hsref"),
            Path::new("--refs"),
            &other,
            &input,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let found: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), 2, "one match in each set");
    // Building the name again with one kind replaces the group, which --refs would take.
    let err = refs_build_with(&[&list], &name, &["--algo", "pdq"]);
    assert!(err.contains("removed"), "{err}");
    assert!(name.is_file() && !lists.join("ncmec.md5.hsref").exists());
}

#[test]
fn builds_of_several_kinds_apply_deletions_to_each_and_leave_other_sets_alone() {
    let d = scratch("silent-kinds-deletions");
    let input = pngs(&d, 2, 64, 48);
    let list = ncmec(&d, &input.join("0.png"), &input.join("1.png"));
    // A later page that only deletes: entry n-1 goes from every kind's set.
    let deletions = d.join("deletions.xml");
    std::fs::write(
        &deletions,
        r#"<?xml version="1.0"?><queryResult><images><deletedImage><id>n-1</id></deletedImage></images></queryResult>"#,
    )
    .unwrap();
    let name = d.join("k.hsref");
    let err = refs_build_with(&[&list, &deletions], &name, &["--allow-empty"]);
    let md5 = RefSet::open(&d.join("k.md5.hsref")).unwrap();
    let pdq = RefSet::open(&d.join("k.pdq.hsref")).unwrap();
    assert_eq!((md5.len(), pdq.len()), (1, 0), "{err}");
    // Without --allow-empty the PDQ set, empty after the deletion, is refused, and nothing
    // is written.
    let other = d.join("other.hsref");
    let o = run(&["refs", "build", "-o"], &[&other, &list, &deletions]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the pdq set would hold no entries"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("other.md5.hsref").exists());
    // A plain list of one kind beside an exchanged list, in either order.
    let plain = d.join("plain-pdq.txt");
    std::fs::write(&plain, format!("{}\n", "ab".repeat(32))).unwrap();
    let (l, p): (&Path, &Path) = (&list, &plain);
    for (i, order) in [[l, p], [p, l]].iter().enumerate() {
        let set = d.join(format!("mixed-{i}.hsref"));
        refs_build_with(order, &set, &[]);
        let pdq = RefSet::open(&hashsweep::refset::group::member(&set, Algo::Pdq)).unwrap();
        assert_eq!(pdq.len(), 2, "the list's PDQ and the plain one");
    }
    // A set built on its own under a member's name is not one of this name's group.
    let lab_pdq = d.join("lab.pdq.hsref");
    refs_build_with(&[&plain], &lab_pdq, &[]);
    let md5_list = d.join("md5.txt");
    std::fs::write(&md5_list, format!("{}\n", "cd".repeat(16))).unwrap();
    let err = refs_build_with(&[&md5_list], &d.join("lab.hsref"), &[]);
    assert!(lab_pdq.exists() && !err.contains("removed"), "{err}");
    // A VICS Media's MD5 repeated by its file is one fingerprint, not an unused one.
    let vics = d.join("vics.json");
    std::fs::write(
        &vics,
        r#"{"value": [{"MediaID": 1, "MD5": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "MediaFiles": [{"MD5": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}]}"#,
    )
    .unwrap();
    let err = refs_build_with(&[&vics], &d.join("vics.hsref"), &[]);
    assert!(!err.contains("fingerprints in no set"), "{err}");
}

#[test]
fn a_set_is_served_whatever_algo_is_asked_and_the_header_says_so() {
    let d = scratch("silent-algo");
    let input = pngs(&d, 2, 64, 48);
    let set = d.join("pdq.hsref");
    refs_build_with(&[&input.join("1.png")], &set, &[]);
    let out = d.join("out.jsonl");
    let o = bin()
        .args(["scan", "--backend", "cpu", "--algo", "phash", "-o"])
        .arg(&out)
        .arg("--refs")
        .arg(&set)
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("pdq computed for"), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs[0]["algorithms"], serde_json::json!(["pdq", "phash"]));
    assert_eq!(recs[0]["added_for_refs"][0]["hash"], "pdq");
    let set_named = recs[0]["added_for_refs"][0]["set"].as_str().unwrap();
    assert!(set_named.ends_with("pdq.hsref"), "{set_named}");
    assert_eq!(matches(&out).len(), 1);
}

/// Change one hash bit of a set in place, keeping its modification time.
fn tamper(set: &Path) {
    let before = std::fs::metadata(set).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(set).unwrap();
    bytes[4096] ^= 1;
    std::fs::write(set, bytes).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(set).unwrap();
    f.set_modified(before).unwrap();
}

#[test]
fn a_damaged_set_is_refused_even_when_its_times_are_put_back() {
    let d = scratch("silent-tamper");
    let input = pngs(&d, 2, 64, 48);
    let set = d.join("known.hsref");
    refs_build_with(&[&input.join("0.png")], &set, &[]);
    let cache = d.join("cache");
    let scan_cached = |out: &str, extra: &[&str]| {
        bin()
            .env("HASHSWEEP_CACHE_DIR", &cache)
            .args(["scan", "--backend", "cpu", "--quiet", "--refs"])
            .arg(&set)
            .arg("-o")
            .arg(d.join(out))
            .args(extra)
            .arg(&input)
            .output()
            .unwrap()
    };
    let checked = |out: &str| records(&d.join(out))[0]["refsets"][0].clone();
    assert!(scan_cached("1.jsonl", &[]).status.success());
    let first = checked("1.jsonl");
    assert_eq!(first["verified_in_full"], true);
    assert!(scan_cached("2.jsonl", &[]).status.success());
    let second = checked("2.jsonl");
    assert_eq!(
        second["verified_in_full"], false,
        "unchanged: from the cache"
    );
    assert_eq!(first["checksum"], second["checksum"]);
    tamper(&set);
    let o = scan_cached("3.jsonl", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));
    assert!(stderr(&o).contains("refusing to match"), "{}", stderr(&o));
    assert!(!d.join("3.jsonl").exists(), "refused before any record");
    let o = run(&["match", "--backend", "cpu", "--refs"], &[&set, &input]);
    assert_eq!(o.status.code(), Some(2), "match refuses it too");
}

#[test]
fn an_existing_output_is_refused_unless_resumed_or_forced() {
    let d = scratch("silent-overwrite");
    let input = pngs(&d, 2, 32, 32);
    let out = d.join("out.jsonl");
    assert!(scan(&input, &out, &[]).status.success());
    let before = std::fs::read(&out).unwrap();
    let o = scan(&input, &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--resume") && stderr(&o).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), before, "untouched");
    assert!(scan(&input, &out, &["--force"]).status.success());
    assert_eq!(files(&records(&out)).len(), 2);
}

/// A scan long enough to interrupt: many small files, one per round.
fn slow_scan(d: &Path, out: &Path, extra: &[&str]) -> std::process::Child {
    let input = d.join("in");
    if !input.exists() {
        pngs(d, 400, 96, 96);
    }
    bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--threads", "1"])
        .args(["--round-pixels", "1", "-o"])
        .arg(out)
        .args(extra)
        .arg(&input)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for_a_record(out: &Path) {
    for _ in 0..20_000 {
        let n = std::fs::read_to_string(out)
            .unwrap_or_default()
            .matches("\"type\":\"file\"")
            .count();
        if n > 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!("no record written");
}

#[cfg(unix)]
#[test]
fn sigint_and_sigterm_finish_what_is_in_flight_and_resume_records_each_file_once() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let d = scratch(&format!("silent-signal-{signal}"));
        let out = d.join("out.jsonl");
        let mut child = slow_scan(&d, &out, &[]);
        wait_for_a_record(&out);
        // SAFETY: a plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        let err = read_all(child.stderr.take().unwrap());
        assert_eq!(status.code(), Some(code), "{err}");
        assert!(err.contains("recorded; rerun with --resume"), "{err}");
        let recs = records(&out);
        let summary = recs.last().unwrap();
        assert_eq!(summary["type"], "summary", "the summary is written");
        assert_eq!(summary["interrupted"], true);
        let done = files(&recs).len();
        eprintln!("signal {signal}: stopped after {done} of 400 files");
        assert!(done < 400, "stopped early ({done})");
        assert!(err.contains(&format!("{done} recorded")), "{err}");
        let st = slow_scan(&d, &out, &["--resume"]).wait().unwrap();
        assert!(st.success());
        let recs = records(&out);
        let mut paths: Vec<&str> = files(&recs)
            .iter()
            .map(|r| r["path"].as_str().unwrap())
            .collect();
        paths.sort();
        let n = paths.len();
        paths.dedup();
        assert_eq!((n, paths.len()), (400, 400), "each file exactly once");
    }
}

#[cfg(unix)]
#[test]
fn an_interrupt_before_the_first_record_leaves_even_a_forced_output_as_it_was() {
    use std::io::Write;
    let d = scratch("silent-signal-early");
    let input = pngs(&d, 2, 32, 32);
    let out = d.join("out.jsonl");
    assert!(scan(&input, &out, &[]).status.success());
    let before = std::fs::read(&out).unwrap();
    // The run waits for its list on stdin: a signal then comes before anything is opened.
    let mut child = bin()
        .args([
            "scan",
            "--backend",
            "cpu",
            "--quiet",
            "--force",
            "--files-from",
            "-",
            "-o",
        ])
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", input.display()).unwrap();
    wait_until_caught(child.id(), libc::SIGINT);
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    drop(stdin);
    let status = child.wait().unwrap();
    let err = read_all(child.stderr.take().unwrap());
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("stopping after the files in flight"), "{err}");
    assert!(
        err.contains("stopped before any record was written"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), before, "untouched");
}

/// Wait until process `pid` catches `signal` (its handler is installed): the kernel's
/// `SigCgt` mask in /proc says so, with no guess at how long a start takes.
#[cfg(unix)]
fn wait_until_caught(pid: u32, signal: i32) {
    for _ in 0..100_000 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|m| m & (1 << (signal - 1)) != 0);
        if caught {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("process {pid} never installed its handler for signal {signal}");
}

/// Lines on stderr that report progress of `command`.
fn progress_lines(err: &str, command: &str) -> Vec<String> {
    let head = format!("hashsweep {command}: ");
    err.lines()
        .filter(|l| l.starts_with(&head) && l.contains(" files") && l.contains("elapsed"))
        .map(String::from)
        .collect()
}

#[test]
fn long_commands_print_progress_lines_to_logs_even_inside_one_batch() {
    let d = scratch("silent-progress");
    let input = pngs(&d, 24, 320, 240);
    let with_lines = |args: &[&str]| {
        let o = bin()
            .env("HASHSWEEP_PROGRESS_SECONDS", "0.001")
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stderr(&o)
    };
    let i = input.to_string_lossy().into_owned();
    let out = d.join("scan.jsonl").to_string_lossy().into_owned();
    // All 24 files are one round: lines before it ends say 0 of 24.
    let err = with_lines(&["scan", "--backend", "cpu", "-o", &out, &i]);
    let lines = progress_lines(&err, "scan");
    assert!(lines.iter().any(|l| l.contains(" 0/24 files")), "{err}");
    let hashes = d.join("h.csv").to_string_lossy().into_owned();
    let err = with_lines(&["hash", "--backend", "cpu", "-o", &hashes, &i]);
    assert!(!progress_lines(&err, "hash").is_empty(), "{err}");
    let set = d.join("s.hsref").to_string_lossy().into_owned();
    let err = with_lines(&["refs", "build", "--backend", "cpu", "-o", &set, &i]);
    assert!(!progress_lines(&err, "refs build").is_empty(), "{err}");
    let err = with_lines(&[
        "match",
        "--backend",
        "cpu",
        "--refs",
        &set,
        "-o",
        &hashes,
        &i,
    ]);
    assert!(!progress_lines(&err, "match").is_empty(), "{err}");
    // Enough hashes for a join that takes a while: 20,000 pseudo-random PDQ lines.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut list = String::new();
    for _ in 0..20_000 {
        for _ in 0..4 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            list += &format!("{x:016x}");
        }
        list.push('\n');
    }
    let many = d.join("many.txt");
    std::fs::write(&many, list).unwrap();
    let groups = d.join("g.jsonl").to_string_lossy().into_owned();
    let m = many.to_string_lossy().into_owned();
    let err = with_lines(&["cluster", "--backend", "cpu", "-o", &groups, &m]);
    assert!(!progress_lines(&err, "cluster").is_empty(), "{err}");
}

/// Read the first line of a command's standard output, then close it.
fn first_line_then_close(mut cmd: Command) -> (Option<i32>, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let status = child.wait().unwrap();
    let err = read_all(child.stderr.take().unwrap());
    (status.code(), first, err)
}

fn read_all(mut pipe: impl Read) -> String {
    let mut text = String::new();
    pipe.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn a_closed_standard_output_ends_commands_quietly() {
    let d = scratch("silent-pipe");
    let input = pngs(&d, 1, 32, 32);
    let set = d.join("s.hsref");
    refs_build_with(&[&input], &set, &[]);
    let mut verify = bin();
    verify.args(["refs", "verify"]);
    for _ in 0..4000 {
        verify.arg(&set);
    }
    let (code, first, err) = first_line_then_close(verify);
    assert!(first.starts_with("ok "), "{first}");
    assert!(!err.contains("panicked") && err.is_empty(), "{err}");
    assert_eq!(code, Some(141));
    let list = d.join("many.txt");
    let line = format!("{}\n", "ab".repeat(32));
    std::fs::write(&list, line.repeat(20_000)).unwrap();
    let mut m = bin();
    m.args([
        "match",
        "--backend",
        "cpu",
        "--max-distance",
        "256",
        "--refs",
    ])
    .arg(&set)
    .arg(&list);
    let (code, first, err) = first_line_then_close(m);
    assert!(first.starts_with("query,"), "{first}");
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_eq!(code, Some(141));
    // `hash` stops reading files when its reader has gone, not after all of them.
    let many = d.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..600 {
        save_png(i, 16, 16, &many.join(format!("{i:03}.png")));
    }
    let mut h = bin();
    h.args(["hash", "--backend", "cpu"])
        .arg(&many)
        .env("HASHSWEEP_PROGRESS_SECONDS", "0");
    let (code, first, err) = first_line_then_close(h);
    assert!(first.starts_with("path,"), "{first}");
    assert_eq!(code, Some(141), "{err}");
    let done: Vec<u64> = progress_lines(&err, "hash")
        .iter()
        .filter_map(|l| l.split_whitespace().nth(2)?.split('/').next()?.parse().ok())
        .collect();
    let last = done.last().copied().unwrap_or(0);
    assert!(last < 600, "it stopped early: {last} of 600 hashed");
}

#[test]
fn a_video_with_only_a_phash_set_is_a_failure_not_an_empty_result() {
    let Some(videos) = common::sample_videos() else {
        return;
    };
    let d = scratch("silent-video-phash");
    let input = pngs(&d, 1, 32, 32);
    let set = d.join("ph.hsref");
    refs_build_with(&[&input], &set, &["--algo", "phash"]);
    let o = run(
        &["match", "--backend", "cpu", "--refs"],
        &[&set, &videos[0]],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no PDQ set is given"), "{}", stderr(&o));
}

#[test]
fn a_mistyped_path_is_named_and_a_list_given_as_a_set_is_pointed_to_refs_build() {
    let d = scratch("silent-paths");
    let input = pngs(&d, 1, 32, 32);
    let missing = d.join("no-such-folder");
    let set = d.join("s.hsref");
    refs_build_with(&[&input], &set, &[]);
    let want = format!("no such file: {}", missing.display());
    let o = scan(&missing, &d.join("o.jsonl"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    let o = run(&["hash", "--backend", "cpu"], &[&missing]);
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    let o = run(&["match", "--backend", "cpu", "--refs"], &[&set, &missing]);
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    let o = run(&["refs", "build", "-o"], &[&d.join("x.hsref"), &missing]);
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    // `refs verify` tells a set it cannot read (exit 2) from one that differs (exit 1).
    let o = run(&["refs", "verify"], &[&set, &missing]);
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("ok ") && out.contains("UNREADABLE no such file"),
        "{out}"
    );
    let out = d.join("never-written.jsonl");
    let o = scan(
        &input,
        &out,
        &["--refs", &d.join("typo.hsref").to_string_lossy()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
    let list = d.join("known.txt");
    std::fs::write(&list, format!("{}\n", "ab".repeat(32))).unwrap();
    for cmd in ["scan", "match"] {
        let mut args = vec![cmd, "--backend", "cpu", "--refs"];
        if cmd == "scan" {
            args = vec![
                cmd,
                "--backend",
                "cpu",
                "-o",
                out.to_str().unwrap(),
                "--refs",
            ];
        }
        let o = run(&args, &[&list, &input]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        assert!(
            stderr(&o).contains("hashsweep refs build"),
            "{cmd}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn hash_in_the_reference_form_gives_a_failed_files_reason_on_stderr() {
    let d = scratch("silent-hash-reason");
    let bad = d.join("broken.jpg");
    std::fs::write(&bad, [0xff, 0xd8, 0xff, 0xe0, 1, 2]).unwrap();
    save_png(5, 32, 32, &d.join("good.png"));
    let o = run(&["hash", "--algo", "pdq", "--backend", "cpu"], &[&d]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!(",,{}", bad.display())), "{out}");
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.contains("broken.jpg:") && l.len() > bad.to_string_lossy().len() + 5),
        "{err}"
    );
}

#[test]
fn a_resumption_under_other_settings_names_the_flags() {
    let d = scratch("silent-resume-flags");
    let input = pngs(&d, 2, 32, 32);
    let out = d.join("out.jsonl");
    assert!(scan(&input, &out, &[]).status.success());
    let o = scan(
        &input,
        &out,
        &["--resume", "--full-decode", "--min-quality", "60"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("`--full-decode` was not set, now set"),
        "{err}"
    );
    assert!(err.contains("`--min-quality` was 50, now 60"), "{err}");
    assert!(!err.contains("jpeg_reduced_to_min_side"), "{err}");
}

#[test]
fn every_flag_of_every_command_says_what_it_does() {
    use clap::CommandFactory;
    let mut missing = vec![];
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if ["help", "version"].contains(&id) || a.is_hide_set() {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    walk(&hashsweep::cli::Cli::command(), "hashsweep", &mut missing);
    assert!(missing.is_empty(), "arguments without help: {missing:?}");
}
