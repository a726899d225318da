//! Reference sets: building from every input format, merging duplicates with their labels,
//! the checksum catching corruption, hostile files failing cleanly, and the `refs` and
//! `match` commands end to end.

mod common;

use common::{bin, scratch};

use std::path::{Path, PathBuf};

use hashsweep::refset::{Algo, RefSet, RefSetError};

const A: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const B: &str = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";

fn run(args: &[&str], paths: &[&Path]) -> std::process::Output {
    bin().args(args).args(paths).output().unwrap()
}

fn build(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("plain.txt"), format!("{A} hotline-1\n{B}\n")).unwrap();
    std::fs::write(
        dir.join("ref.csv"),
        format!("hash,quality,path\n{A},100,case7/x.jpg\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("q.jsonl"),
        format!("{{\"path\":\"y.png\",\"pdq\":\"{B}\",\"quality\":91}}\n"),
    )
    .unwrap();
    let set = dir.join("known.hsref");
    let inputs = ["plain.txt", "ref.csv", "q.jsonl"].map(|f| dir.join(f));
    let out = bin()
        .args(["refs", "build", "-o"])
        .arg(&set)
        .args(&inputs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    set
}

#[test]
fn build_merges_duplicates_keeping_every_label_and_the_best_quality() {
    let dir = scratch("refs-build");
    let set = RefSet::open(&build(&dir)).unwrap();
    assert_eq!((set.algo(), set.len()), (Algo::Pdq, 2));
    let a = (0..2)
        .find(|&i| set.labels(i).contains(&"hotline-1"))
        .unwrap();
    assert_eq!(set.labels(a), ["hotline-1", "case7/x.jpg"]);
    assert_eq!(set.quality(a), Some(100));
    let b = 1 - a;
    assert_eq!(set.labels(b).len(), 2);
    assert_eq!(set.quality(b), Some(91));
    assert_ne!(set.ids()[0], set.ids()[1]);
    set.verify().unwrap();
    // No temporary file is left beside the set.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
}

/// A vPDQ frame hash keeps its video: it is not merged with the same hash from an image
/// list or another video, and the video survives `refs merge`.
#[test]
fn video_frames_stay_apart_with_their_video_through_build_and_merge() {
    let dir = scratch("refs-video");
    std::fs::write(dir.join("plain.txt"), format!("{A} hotline-1\n")).unwrap();
    std::fs::write(
        dir.join("clip.vpdq.txt"),
        format!("0,100,{A},0.000\n30,100,{A},1.000\n30,90,{B},1.000\n"),
    )
    .unwrap();
    std::fs::write(dir.join("other.vpdq.txt"), format!("0,80,{A},0.000\n")).unwrap();
    let set = dir.join("v.hsref");
    let inputs = ["plain.txt", "clip.vpdq.txt", "other.vpdq.txt"].map(|f| dir.join(f));
    assert!(
        bin()
            .args(["refs", "build", "-o"])
            .arg(&set)
            .args(&inputs)
            .status()
            .unwrap()
            .success()
    );
    let merged = dir.join("m.hsref");
    assert!(
        run(&["refs", "merge", "-o"], &[&merged, &set])
            .status
            .success()
    );
    for path in [&set, &merged] {
        let s = RefSet::open(path).unwrap();
        // A (no video), A (clip, twice merged), B (clip), A (other).
        assert_eq!((s.len(), s.video_count()), (4, 2));
        let video = |i: usize| {
            s.video_of().get(i).filter(|&&v| v != u32::MAX).map(|&v| {
                // Videos are named by the vPDQ file's path; the file name tells them apart here.
                let name = s.video_name(v as usize);
                Path::new(name)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
        };
        let mut seen: Vec<(Option<String>, usize)> = (0..s.len())
            .map(|i| (video(i), s.labels(i).len()))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                (None, 1),
                (Some("clip".into()), 1),
                (Some("clip".into()), 2),
                (Some("other".into()), 1)
            ]
        );
        let ids: std::collections::HashSet<u64> = s.ids().iter().copied().collect();
        assert_eq!(ids.len(), 4, "the video is part of a derived id");
    }
    let out = run(&["refs", "info", "--json"], &[&set]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["videos"], 2);
    // Two folders' files of the same name are two videos.
    for sub in ["x", "y"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::copy(
            dir.join("other.vpdq.txt"),
            dir.join(sub).join("clip.vpdq.txt"),
        )
        .unwrap();
    }
    let two = dir.join("two.hsref");
    let inputs = ["x/clip.vpdq.txt", "y/clip.vpdq.txt"].map(|f| dir.join(f));
    assert!(
        bin()
            .args(["refs", "build", "-o"])
            .arg(&two)
            .args(&inputs)
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(RefSet::open(&two).unwrap().video_count(), 2);
}

#[test]
fn ids_are_stable_whatever_the_input_order() {
    let dir = scratch("refs-ids");
    std::fs::write(dir.join("1.txt"), format!("{A}\n{B}\n")).unwrap();
    std::fs::write(dir.join("2.txt"), format!("{B}\n{A}\n")).unwrap();
    for n in ["1", "2"] {
        let st = bin()
            .args(["refs", "build", "-o"])
            .arg(dir.join(format!("{n}.hsref")))
            .arg(dir.join(format!("{n}.txt")))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let (s1, s2) = (
        RefSet::open(&dir.join("1.hsref")).unwrap(),
        RefSet::open(&dir.join("2.hsref")).unwrap(),
    );
    assert_eq!(s1.ids(), s2.ids());
    assert_eq!(s1.words(), s2.words());
}

#[test]
fn verify_catches_a_flipped_bit_and_hostile_files_fail_cleanly() {
    let dir = scratch("refs-corrupt");
    let path = build(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = RefSet::open(&path).unwrap().header().hashes_offset as usize;
    bytes[at] ^= 1;
    let bad = dir.join("bad.hsref");
    std::fs::write(&bad, &bytes).unwrap();
    assert!(matches!(
        RefSet::open(&bad).unwrap().verify(),
        Err(RefSetError::Checksum { .. })
    ));
    let out = run(&["refs", "verify"], &[&path, &bad]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok ") && text.contains("FAILED"), "{text}");

    let truncated = dir.join("trunc.hsref");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(
        RefSet::open(&truncated),
        Err(RefSetError::Corrupt { .. })
    ));
    let garbage = dir.join("garbage.hsref");
    std::fs::write(&garbage, vec![7u8; 5000]).unwrap();
    assert!(matches!(RefSet::open(&garbage), Err(RefSetError::Magic(_))));
    // A header whose offsets point outside the file.
    let mut lying = std::fs::read(&path).unwrap();
    lying[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&garbage, &lying).unwrap();
    assert!(matches!(
        RefSet::open(&garbage),
        Err(RefSetError::Corrupt { .. })
    ));
    let out = run(&["refs", "info"], &[&garbage]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "fatal, not a panic: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn malformed_lines_name_file_and_line_unless_skipped() {
    let dir = scratch("refs-malformed");
    let f = dir.join("list.txt");
    std::fs::write(&f, format!("{A}\nzzzz\n{B}\n")).unwrap();
    let out = run(&["refs", "build", "-o"], &[&dir.join("s.hsref"), &f]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("list.txt:2"), "{err}");
    assert!(
        !dir.join("s.hsref").exists(),
        "nothing written under the final name"
    );
    let out = run(
        &["refs", "build", "--skip-invalid", "-o"],
        &[&dir.join("s.hsref"), &f],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 invalid lines skipped"));
    assert_eq!(RefSet::open(&dir.join("s.hsref")).unwrap().len(), 2);
}

#[test]
fn info_and_merge() {
    let dir = scratch("refs-merge");
    let set = build(&dir);
    let out = run(&["refs", "info", "--json"], &[&set]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["algorithm"].as_str(),
            v["entries"].as_u64(),
            v["checksum_status"].as_str()
        ),
        (Some("pdq"), Some(2), Some("ok"))
    );
    let other = dir.join("other.txt");
    std::fs::write(&other, format!("{}\n", "0".repeat(64))).unwrap();
    let set2 = dir.join("other.hsref");
    assert!(
        run(&["refs", "build", "-o"], &[&set2, &other])
            .status
            .success()
    );
    let merged = dir.join("merged.hsref");
    assert!(
        run(&["refs", "merge", "-o"], &[&merged, &set, &set2])
            .status
            .success()
    );
    let m = RefSet::open(&merged).unwrap();
    assert_eq!(m.len(), 3);
    m.verify().unwrap();
    // Ids survive a merge.
    let s = RefSet::open(&set).unwrap();
    for i in 0..s.len() {
        let j = (0..m.len())
            .find(|&j| m.hash_words(j) == s.hash_words(i))
            .unwrap();
        assert_eq!(m.ids()[j], s.ids()[i]);
        assert_eq!(m.labels(j), s.labels(i));
    }
}

#[test]
fn match_reports_query_entry_label_distance_and_variant() {
    let dir = scratch("refs-match");
    let set = build(&dir);
    // B is 3 bits from A; a query list holding A finds both entries within 31.
    let q = dir.join("queries.txt");
    std::fs::write(&q, format!("{A} suspect.jpg\n{}\n", "0".repeat(64))).unwrap();
    let out = run(
        &["match", "--backend", "cpu", "--format", "jsonl", "--refs"],
        &[&set, &q],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["query"], "suspect.jpg");
    assert_eq!(rows[0]["distance"], 0);
    assert!(rows[0]["label"].as_str().unwrap().contains("hotline-1"));
    assert_eq!(rows[0]["variant"], "original");
    let d = rows[1]["distance"].as_u64().unwrap();
    assert!(d > 0 && d <= 31);
    // --max-distance 0 keeps only the exact one; --top-k 1 likewise here.
    for extra in [["--max-distance", "0"], ["--top-k", "1"]] {
        let out = bin()
            .args(["match", "--backend", "cpu", "--format", "jsonl"])
            .args(extra)
            .arg("--refs")
            .arg(&set)
            .arg(&q)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            1,
            "{extra:?}"
        );
    }
}

#[test]
fn match_hashes_image_queries_on_the_fly_with_dihedral_variants() {
    let Some(data) = common::testdata() else {
        return;
    };
    let dir = scratch("refs-images");
    let orig = data.join("pdq/reg-test-input/dih/bridge-1-original.jpg");
    let rotated = data.join("pdq/reg-test-input/dih/bridge-2-rotate-90.jpg");
    let out = bin()
        .args(["hash", "--algo", "pdq", "--backend", "cpu", "-o"])
        .arg(dir.join("orig.csv"))
        .arg(&orig)
        .output()
        .unwrap();
    assert!(out.status.success());
    let set = dir.join("s.hsref");
    assert!(
        run(&["refs", "build", "-o"], &[&set, &dir.join("orig.csv")])
            .status
            .success()
    );
    let m = |extra: &[&str]| {
        let out = bin()
            .args(["match", "--backend", "cpu", "--format", "jsonl"])
            .args(extra)
            .arg("--refs")
            .arg(&set)
            .arg(&rotated)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        m(&[]).is_empty(),
        "a rotated copy is far from the original as is"
    );
    // The photo's EXIF thumbnail is a query of its own (`!thumbnail`) and may match too.
    let rows: Vec<_> = m(&["--dihedral"])
        .into_iter()
        .filter(|r| !r["query"].as_str().unwrap().ends_with("!thumbnail"))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0]["distance"].as_u64().unwrap() <= 31);
    assert_ne!(rows[0]["variant"], "original");
}
