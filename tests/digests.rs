//! Exact file digests as reference sets: MD5, SHA-1 and SHA-256 lists built into mapped,
//! sorted sets, matched by `scan` in the same read that hashes the images, beside
//! perceptual matches.

mod common;

use common::{bin, records, save_png, scratch};

use std::collections::BTreeSet;
use std::path::Path;

use hashsweep::refset::{Algo, RefSet};

fn digest_of(p: &Path, algo: &str) -> String {
    use md5::Digest;
    let bytes = std::fs::read(p).unwrap();
    match algo {
        "md5" => hashsweep::hash::hex(&md5::Md5::digest(&bytes)),
        "sha1" => hashsweep::hash::hex(&sha1::Sha1::digest(&bytes)),
        _ => hashsweep::hash::hex(&sha2::Sha256::digest(&bytes)),
    }
}

fn build(list: &Path, set: &Path, extra: &[&str]) {
    common::refs_build_with(&[list], set, extra);
}

#[test]
fn digest_sets_match_exactly_in_the_scan_beside_perceptual_matches() {
    let d = scratch("digests");
    let input = d.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..6 {
        save_png(100 + i, 64, 48, &input.join(format!("{i}.png")));
    }
    std::fs::write(input.join("notes.txt"), b"a document, not an image").unwrap();
    std::fs::write(input.join("other.txt"), b"another").unwrap();
    // MD5: one image and the document, plain lines with labels; and a digest nothing has.
    let md5_list = d.join("known.md5");
    std::fs::write(
        &md5_list,
        format!(
            "{} case-1 image\n{} case-1 document\n{}\n",
            digest_of(&input.join("2.png"), "md5"),
            digest_of(&input.join("notes.txt"), "md5"),
            "0".repeat(32)
        ),
    )
    .unwrap();
    // SHA-256: a CSV whose column says what it holds (64 digits would otherwise be PDQ).
    let sha_list = d.join("known-sha256.csv");
    std::fs::write(
        &sha_list,
        format!(
            "sha256,label\n{},from the exchange\n",
            digest_of(&input.join("4.png"), "sha256")
        ),
    )
    .unwrap();
    // SHA-1: bare lines, 40 digits.
    let sha1_list = d.join("known.sha1");
    std::fs::write(
        &sha1_list,
        format!("{}\n", digest_of(&input.join("other.txt"), "sha1")),
    )
    .unwrap();
    // PDQ: image 2's own hash, so that it matches both ways.
    let pdq_csv = d.join("pdq.csv");
    let st = bin()
        .args(["hash", "--algo", "pdq", "--backend", "cpu", "-o"])
        .arg(&pdq_csv)
        .arg(input.join("2.png"))
        .status()
        .unwrap();
    assert!(st.success());
    let sets = ["md5", "sha256", "sha1", "pdq"].map(|a| d.join(format!("{a}.hsref")));
    build(&md5_list, &sets[0], &[]);
    build(&sha_list, &sets[1], &[]);
    build(&sha1_list, &sets[2], &[]);
    build(&pdq_csv, &sets[3], &[]);
    let algos: Vec<Algo> = sets
        .iter()
        .map(|s| RefSet::open(s).unwrap().algo())
        .collect();
    assert_eq!(algos, [Algo::Md5, Algo::Sha256, Algo::Sha1, Algo::Pdq]);

    let out = d.join("out.jsonl");
    let mut cmd = bin();
    cmd.args(["scan", "--backend", "cpu", "--quiet", "--max-distance", "0"]);
    for s in &sets {
        cmd.arg("--refs").arg(s);
    }
    let st = cmd.arg(&input).arg("-o").arg(&out).status().unwrap();
    assert!(st.success());
    let matches: BTreeSet<(String, String, String)> = records(&hashsweep::scan::matches_path(&out))
        .iter()
        .map(|m| {
            let name = Path::new(m["path"].as_str().unwrap()).file_name().unwrap();
            (
                name.to_string_lossy().into_owned(),
                m["kind"].as_str().unwrap().to_string(),
                m["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |f: &str, k: &str, l: &str| (f.to_string(), k.to_string(), l.to_string());
    let pdq_label = format!("{}", input.join("2.png").display());
    let want: BTreeSet<_> = [
        expect("2.png", "md5", "case-1 image"),
        expect("2.png", "pdq", &pdq_label),
        expect("notes.txt", "md5", "case-1 document"),
        expect("4.png", "sha256", "from the exchange"),
        expect("other.txt", "sha1", &format!("{}:1", sha1_list.display())),
    ]
    .into();
    assert_eq!(matches, want);
    // The digests matched by are recorded even though --digest did not ask for them.
    let recs = records(&out);
    let notes = recs
        .iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("notes.txt")))
        .unwrap();
    assert_eq!(notes["md5"], digest_of(&input.join("notes.txt"), "md5"));
    assert_eq!(notes["status"], "skipped");
    let summary = recs.iter().find(|r| r["type"] == "summary").unwrap();
    assert_eq!(summary["matches"], 5);
}

#[test]
fn a_digest_set_is_refused_by_match_and_a_bare_sha256_list_needs_its_name() {
    let d = scratch("digest-refuse");
    let list = d.join("l.txt");
    std::fs::write(&list, format!("{}\n", "ab".repeat(32))).unwrap();
    let set = d.join("s.hsref");
    build(&list, &set, &["--algo", "sha256"]);
    assert_eq!(RefSet::open(&set).unwrap().algo(), Algo::Sha256);
    let plain = d.join("p.hsref");
    build(&list, &plain, &[]);
    assert_eq!(
        RefSet::open(&plain).unwrap().algo(),
        Algo::Pdq,
        "64 bare digits are PDQ"
    );
    save_png(1, 32, 32, &d.join("q.png"));
    let o = bin()
        .args(["match", "--refs"])
        .arg(&set)
        .arg(d.join("q.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("hashsweep scan --refs"));
}

#[test]
fn exact_lookup_finds_every_copy_and_nothing_else() {
    let d = scratch("digest-lookup");
    let list = d.join("l.txt");
    let mut text = String::new();
    for i in 0..5000u64 {
        text += &format!("{:032x} e{i}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
    text += &format!("{:032x} again\n", 77u64.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    std::fs::write(&list, text).unwrap();
    let set = d.join("s.hsref");
    build(&list, &set, &[]);
    let s = RefSet::open(&set).unwrap();
    assert_eq!(
        s.len(),
        5000,
        "the repeated digest is one entry with both labels"
    );
    let words = |i: u64| {
        hashsweep::refset::input::digest_words(
            &format!("{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            Algo::Md5,
        )
        .unwrap()
    };
    for i in [0u64, 1, 77, 4999] {
        let found = s.find_exact(&words(i));
        assert_eq!(found.len(), 1, "entry {i}");
        assert!(s.label_text(found[0]).contains(&format!("e{i}")));
    }
    assert!(s.label_text(s.find_exact(&words(77))[0]).contains("again"));
    assert!(s.find_exact(&words(5001)).is_empty());
}
