//! `hashsweep report`: the HTML page (rendered by a real browser), the VICS export read
//! back by `refs build` and found again by a scan, the CSV of matches, and a report of a
//! scan still being written.

mod common;

use common::{bin, records, save_png, scratch};

use std::path::{Path, PathBuf};
use std::process::Command;

/// `scan` of `input` with digests and exact matching against `set`, as these tests run it.
fn scan_with(set: &Path, input: &Path, out: &Path, extra: &[&str]) -> std::process::ExitStatus {
    bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--max-distance", "0"])
        .args(["--digest", "md5,sha1", "--refs"])
        .arg(set)
        .args(extra)
        .arg(input)
        .arg("-o")
        .arg(out)
        .status()
        .unwrap()
}

/// A folder of images and a document, a PDQ set knowing image 2, scanned with digests.
fn scanned(d: &Path) -> (PathBuf, PathBuf) {
    let input = d.join("evidence");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    for i in 0..5 {
        save_png(700 + i, 56, 44, &input.join(format!("sub/{i}.png")));
    }
    std::fs::write(input.join("broken.jpg"), [0xff, 0xd8, 0xff, 0xe0, 1, 2]).unwrap();
    std::fs::write(input.join("notes <b>&amp;.txt"), b"text").unwrap();
    let list = d.join("known.csv");
    let st = bin()
        .args(["hash", "--algo", "pdq", "--backend", "cpu", "-o"])
        .arg(&list)
        .arg(input.join("sub/2.png"))
        .status()
        .unwrap();
    assert!(st.success());
    let set = d.join("known.hsref");
    common::refs_build(&list, &set);
    let out = d.join("scan.jsonl");
    let st = scan_with(&set, &input, &out, &[]);
    assert_eq!(st.code(), Some(1), "the broken JPEG is an error");
    (input, out)
}

fn report(out: &Path, format: &str) -> PathBuf {
    report_with(out, format, &[])
}

fn report_with(out: &Path, format: &str, extra: &[&str]) -> PathBuf {
    let tag = if extra.is_empty() { "" } else { "-extra" };
    let stem = out.file_stem().unwrap().to_string_lossy();
    let dest = out.with_file_name(format!("{stem}{tag}.{format}"));
    let o = bin()
        .args(["report", "--format", format, "-o"])
        .arg(&dest)
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dest
}

#[test]
fn the_html_page_holds_every_section_escaped_and_self_contained() {
    let d = scratch("report-html");
    let (_, out) = scanned(&d);
    let page = std::fs::read_to_string(report(&out, "html")).unwrap();
    for want in [
        "<title>hashsweep report",
        "Reference sets",
        "Totals",
        "Matches: 1",
        "Errors and skipped files: 2",
        "broken.jpg",
        "<svg",
        "sub/2.png",
    ] {
        assert!(page.contains(want), "{want} missing");
    }
    // The file name with markup in it is text, not markup.
    assert!(page.contains("notes &lt;b&gt;&amp;amp;.txt"));
    assert!(!page.contains("<b>&amp;"));
    // Nothing is fetched: no external script, style, font or image.
    for bad in ["src=\"http", "src='http", "href=\"http", "@import", "url("] {
        assert!(!page.contains(bad), "external reference {bad}");
    }
    // No picture unless asked for, then one per matched image only.
    assert!(!page.contains("data:image"));
    let with = std::fs::read_to_string(report_with(&out, "html", &["--thumbnails"])).unwrap();
    assert_eq!(with.matches("data:image/png;base64,").count(), 1);
}

#[test]
fn vics_export_builds_a_set_that_finds_the_same_files_by_md5() {
    let d = scratch("report-vics");
    let (input, out) = scanned(&d);
    let vics = report(&out, "vics");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&vics).unwrap()).unwrap();
    let media = v["value"].as_array().unwrap();
    assert_eq!(media.len(), 7, "every file read has its Media");
    assert!(
        media
            .iter()
            .any(|m| m["MediaFiles"][0]["RelativeFilePath"] == "sub/2.png")
    );
    let set = d.join("vics.hsref");
    common::refs_build(&vics, &set);
    let again = d.join("again.jsonl");
    let st = bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--refs"])
        .arg(&set)
        .arg(&input)
        .arg("-o")
        .arg(&again)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
    let found: std::collections::BTreeSet<String> = records(&hashsweep::scan::matches_path(&again))
        .iter()
        .filter(|m| m["kind"] == "md5" && m["list"] == "VICS")
        .map(|m| m["path"].as_str().unwrap().to_string())
        .collect();
    let scanned: std::collections::BTreeSet<String> = records(&out)
        .iter()
        .filter(|r| r["type"] == "file" && r["md5"].is_string())
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(found, scanned);
}

#[test]
fn the_csv_lists_matches_and_a_running_scan_is_reported_as_such() {
    let d = scratch("report-csv");
    let (_, out) = scanned(&d);
    let csv = std::fs::read_to_string(report(&out, "csv")).unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0][0].ends_with("sub/2.png"));
    assert_eq!(&rows[0][1], "pdq");
    // Cut the output as a running scan has it: no summary, a torn last line.
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let running = d.join("running.jsonl");
    let partial = format!(
        "{}\n{}",
        lines[..lines.len() - 2].join("\n"),
        &lines[lines.len() - 2][..10]
    );
    std::fs::write(&running, partial).unwrap();
    let page = std::fs::read_to_string(report(&running, "html")).unwrap();
    assert!(page.contains("has not finished"));
}

/// Chromium, if installed (Debian's `chromium`); `None` after a notice, a failure in CI.
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        common::skip("chromium is missing");
    }
    found
}

#[test]
fn a_real_browser_renders_the_page() {
    let Some(browser) = chromium() else {
        return;
    };
    let d = scratch("report-browser");
    let (_, out) = scanned(&d);
    let page = report(&out, "html");
    let url = format!("file://{}", page.display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let profile = d.join("profile");
    let dom = Command::new(browser)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("hashsweep report"),
        "title text in the rendered DOM"
    );
    assert!(
        dom.contains("id=\"matches\""),
        "the matches table was built"
    );
    let png = std::env::var_os("HASHSWEEP_REPORT_PNG")
        .map_or_else(|| d.join("report.png"), PathBuf::from);
    let st = Command::new(browser)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1200,1600")
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let img = image::open(&png).unwrap().to_rgb8();
    let distinct: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert!(
        distinct.len() > 20,
        "the screenshot is not blank ({} colours)",
        distinct.len()
    );
}

#[test]
fn a_merged_output_reports_like_a_single_scan() {
    let d = scratch("report-merged");
    let (input, single) = scanned(&d);
    let set = d.join("known.hsref");
    let mut shards = vec![];
    for k in 0..2 {
        let out = d.join(format!("shard-{k}.jsonl"));
        let st = scan_with(&set, &input, &out, &["--shard", &format!("{k}/2")]);
        assert!(st.code().is_some_and(|c| c <= 1));
        shards.push(out);
    }
    let merged = d.join("merged.jsonl");
    let st = bin()
        .arg("merge")
        .args(&shards)
        .arg("-o")
        .arg(&merged)
        .status()
        .unwrap();
    assert!(st.success());
    let page = std::fs::read_to_string(report(&merged, "html")).unwrap();
    let checksum = hashsweep::refset::RefSet::open(&set)
        .unwrap()
        .stored_checksum();
    assert!(
        page.contains(&checksum),
        "the reference set of the shards' header"
    );
    assert!(page.contains("Matches: 1") && page.contains("Errors and skipped files: 2"));
    let one = std::fs::read_to_string(report(&single, "csv")).unwrap();
    let both = std::fs::read_to_string(report(&merged, "csv")).unwrap();
    assert_eq!(one, both, "the same matches");
}

#[test]
fn the_page_lists_near_duplicate_groups_largest_first() {
    let d = scratch("report-groups");
    let (_, out) = scanned(&d);
    let groups = d.join("groups.jsonl");
    let o = bin()
        .args(["cluster", "--backend", "cpu", "--max-distance", "64", "-o"])
        .arg(&groups)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = records(&groups);
    let listed: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "group").collect();
    assert!(
        !listed.is_empty(),
        "the generated pictures are alike: {lines:?}"
    );
    let page_path = report_with(&out, "html", &["--groups", groups.to_str().unwrap()]);
    let page = std::fs::read_to_string(page_path).unwrap();
    assert!(page.contains(&format!("Near-duplicate groups: {}", listed.len())));
    let section = &page[page.find("Near-duplicate groups").unwrap()..];
    for g in &listed {
        for m in g["members"].as_array().unwrap() {
            assert!(section.contains(m["label"].as_str().unwrap()));
        }
    }
    // Sizes in page order never grow.
    let sizes: Vec<u64> = section
        .split("<tr><td class=num>")
        .skip(1)
        .map(|row| {
            let size = row.split("<td class=num>").nth(1).unwrap();
            size[..size.find('<').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(sizes.len(), listed.len());
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    // A scan output is not a cluster output.
    let o = bin()
        .args(["report", "--groups"])
        .arg(&out)
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a `hashsweep cluster` output"));
}

#[test]
fn a_csv_output_reports_as_its_jsonl_twin_and_other_files_are_refused() {
    let d = scratch("report-formats");
    let (input, out) = scanned(&d);
    let csv_out = d.join("scan-csv.csv");
    let st = scan_with(
        &d.join("known.hsref"),
        &input,
        &csv_out,
        &["--format", "csv"],
    );
    assert_eq!(st.code(), Some(1));
    let from_jsonl = std::fs::read_to_string(report(&out, "csv")).unwrap();
    // The default name of the CSV of matches, not the scan's own CSV (which -o may not name).
    let o = bin()
        .args(["report", "--format", "csv"])
        .arg(&csv_out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let from_csv = std::fs::read_to_string(d.join("scan-csv.matches.csv")).unwrap();
    let o = bin()
        .args(["report", "--format", "csv", "-o"])
        .arg(&csv_out)
        .arg(&csv_out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "a report never replaces the scan's output"
    );
    assert_eq!(from_jsonl, from_csv, "the same matches");
    let page = std::fs::read_to_string(report(&csv_out, "html")).unwrap();
    for want in [
        "Matches: 1",
        "Errors and skipped files: 2",
        "broken.jpg",
        "7 files",
    ] {
        assert!(
            page.contains(want),
            "{want} missing from the CSV output's page"
        );
    }
    // Its header file stands for it.
    let meta = hashsweep::scan::meta_path(&csv_out);
    let via_meta = report_with(&meta, "html", &[]);
    let page_meta = std::fs::read_to_string(via_meta).unwrap();
    assert!(page_meta.contains("Matches: 1") && page_meta.contains("broken.jpg"));
    // What is not a scan output is refused, never reported as an empty scan.
    let hashes = d.join("hashes.csv");
    std::fs::write(&hashes, "hash,quality,path\n").unwrap();
    for (given, why) in [
        (
            hashsweep::scan::matches_path(&out),
            "holds a scan's matches",
        ),
        (hashes, "not a hashsweep scan output"),
        (d.join("empty.jsonl"), "it is empty"),
    ] {
        if !given.exists() {
            std::fs::write(&given, "").unwrap();
        }
        let o = bin().arg("report").arg(&given).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", given.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{}: {err}", given.display());
    }
}

#[test]
fn vics_export_refuses_a_scan_without_digests_and_keeps_vics_categories() {
    let d = scratch("report-vics-rules");
    let input = d.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..3 {
        save_png(40 + i, 40, 30, &input.join(format!("{i}.png")));
    }
    use md5::Digest;
    let md5 = |p: &Path| hashsweep::hash::hex(&md5::Md5::digest(std::fs::read(p).unwrap()));
    let list = d.join("case.json");
    std::fs::write(
        &list,
        format!(
            r#"{{"value": [{{"MediaID": 1, "Category": 3, "MD5": "{}"}}]}}"#,
            md5(&input.join("1.png"))
        ),
    )
    .unwrap();
    let set = d.join("case.hsref");
    common::refs_build(&list, &set);
    let bare = d.join("bare.jsonl");
    let st = bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--algo", "pdq", "-o"])
        .arg(&bare)
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let o = bin()
        .args(["report", "--format", "vics"])
        .arg(&bare)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--digest md5,sha1"));
    let out = d.join("with.jsonl");
    let st = scan_with(&set, &input, &out, &[]);
    assert!(st.success());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report(&out, "vics")).unwrap()).unwrap();
    let cats: Vec<(String, u64)> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["MediaFiles"][0]["FileName"].as_str().unwrap().to_string(),
                m["Category"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cats,
        [
            ("0.png".into(), 0),
            ("1.png".into(), 3),
            ("2.png".into(), 0)
        ]
    );
}

#[test]
fn the_page_opens_with_a_summary_and_holds_what_a_case_file_needs() {
    let d = scratch("report-case");
    let input = d.join("evidence");
    std::fs::create_dir_all(&input).unwrap();
    let known = input.join("x'onmouseover='alert(1).png");
    save_png(900, 64, 48, &known);
    let padded = input.join("padded.png");
    save_png(901, 64, 48, &padded);
    let mut bytes = std::fs::read(&padded).unwrap();
    bytes.extend_from_slice(b"data after the end of the image");
    std::fs::write(&padded, bytes).unwrap();
    let list = d.join("known.csv");
    let st = bin()
        .args(["hash", "--algo", "pdq", "--backend", "cpu", "-o"])
        .arg(&list)
        .arg(&known)
        .status()
        .unwrap();
    assert!(st.success());
    let set = d.join("known.hsref");
    common::refs_build(&list, &set);
    let out = d.join("case.jsonl");
    let extra = [
        "--dihedral",
        "--case",
        "CASE-2026-17",
        "--examiner",
        "A. Examiner",
        "--notes",
        "seized laptop, image 3",
    ];
    assert!(scan_with(&set, &input, &out, &extra).success());
    let page = std::fs::read_to_string(report(&out, "html")).unwrap();
    let summary = page.find("class=summary").expect("a summary paragraph");
    assert!(
        summary < page.find("<h2").unwrap(),
        "the summary comes first"
    );
    let para = &page[summary..page[summary..].find("</p>").unwrap() + summary];
    assert!(para.contains("recorded 2 files"), "{para}");
    assert!(para.contains("1 file matched</b> (1 match)"), "{para}");
    assert!(para.contains("by list: known.hsref 1"), "{para}");
    assert!(
        para.contains("1 file hashed from damaged or padded data"),
        "{para}"
    );
    for want in [
        "Matches: 1 in 1 file",
        "Files hashed with warnings: 1",
        "padded.png",
        "trailing_data",
        "<th>Case</th><td>CASE-2026-17</td>",
        "<th>Examiner</th><td>A. Examiner</td>",
        "seized laptop, image 3",
        "<td>min_quality</td><td class=mono>50</td>",
        "flipplus1",
        "box trimmed",
        "<th>box</th>",
        "x&#39;onmouseover=&#39;alert(1).png",
    ] {
        assert!(page.contains(want), "{want} missing");
    }
    assert!(
        !page.contains("x'onmouseover"),
        "a quote in a file name stays text"
    );
    // Times: ISO 8601 with the machine's offset.
    let started = &page[page.find("<th>started</th><td>").unwrap() + 20..][..25];
    let iso = started.as_bytes();
    assert!(
        iso[4] == b'-'
            && iso[10] == b'T'
            && iso[13] == b':'
            && (iso[19] == b'Z' || iso[19] == b'+' || iso[19] == b'-'),
        "{started}"
    );
    // The report's own case fields win over the scan's.
    let other = report_with(&out, "html", &["--case", "CASE-9"]);
    let page = std::fs::read_to_string(other).unwrap();
    assert!(page.contains("<th>Case</th><td>CASE-9</td>"));
    // `--output` and the old `--out` are one flag.
    for flag in ["--output", "--out"] {
        let dest = d.join(format!("via{flag}.html"));
        let st = bin()
            .arg("report")
            .arg(&out)
            .arg(flag)
            .arg(&dest)
            .status()
            .unwrap();
        assert!(st.success() && dest.exists(), "{flag}");
    }
}

#[test]
fn damaged_lines_are_counted_and_said_and_a_resumed_run_without_summary_is_unfinished() {
    let d = scratch("report-damage");
    let (_, out) = scanned(&d);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let files = lines
        .iter()
        .filter(|l| l.contains("\"type\":\"file\""))
        .count();
    // One record in the middle broken: the others are still reported, and the damage said.
    let i = lines
        .iter()
        .position(|l| l.contains("\"type\":\"file\""))
        .unwrap();
    lines[i] = "{\"type\":\"fi".into();
    let damaged = d.join("damaged.jsonl");
    std::fs::write(&damaged, lines.join("\n") + "\n").unwrap();
    let page = d.join("damaged.html");
    let o = bin()
        .arg("report")
        .arg(&damaged)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("1 lines of the scan's outputs could not be read")
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("1 line of the scan's outputs could not be read"));
    assert!(html.contains(&format!("recorded {} files", files - 1)));
    // A resumed run that has not written its summary yet is not finished, whatever the
    // run before it wrote.
    let resumed = d.join("resumed.jsonl");
    let header = text.lines().next().unwrap();
    let record = text
        .lines()
        .find(|l| l.contains("\"type\":\"file\""))
        .unwrap();
    std::fs::write(&resumed, format!("{text}{header}\n{record}\n")).unwrap();
    let html = std::fs::read_to_string(report(&resumed, "html")).unwrap();
    assert!(html.contains("has not finished"));
}

#[test]
fn vics_names_a_single_file_and_leaves_out_a_digest_not_recorded() {
    let d = scratch("report-vics-single");
    let one = d.join("one.png");
    save_png(5, 30, 20, &one);
    let out = d.join("single.jsonl");
    let st = bin()
        .args([
            "scan",
            "--backend",
            "cpu",
            "--quiet",
            "--digest",
            "md5",
            "-o",
        ])
        .arg(&out)
        .arg(&one)
        .status()
        .unwrap();
    assert!(st.success());
    let dest = d.join("single.vics.json");
    let o = bin()
        .args(["report", "--format", "vics", "-o"])
        .arg(&dest)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 files have no SHA1"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dest).unwrap()).unwrap();
    let m = &v["value"][0];
    assert_eq!(m["MediaFiles"][0]["FileName"], "one.png");
    assert!(m.get("SHA1").is_none() && m["MD5"].is_string());
}
