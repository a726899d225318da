//! Border trimming on real pictures: python-threatexchange's letterboxed sample comes back
//! to its original, and no other shared sample image is cut.

mod common;

use hashsweep::decode::{self, trim};
use hashsweep::engine::{Algorithms, BackendChoice, Engine};

#[test]
fn the_letterboxed_sample_is_cut_back_to_its_original_and_nothing_else_is_cut() {
    let Some(data) = common::testdata() else {
        return;
    };
    let dir = data.join("pdq");
    let opts = decode::DecodeOptions::default();
    let mut cut = vec![];
    let mut images = 0;
    for entry in walk(&dir) {
        let Ok(d) = decode::decode_file(&entry, &opts) else {
            continue;
        };
        images += 1;
        if let Some(r) = trim::content_box(&d.frame) {
            cut.push((common::file_name(&entry), r));
        }
    }
    assert!(images >= 50, "{images} images decoded");
    assert_eq!(
        cut,
        [(
            "letterboxed_sample-b.jpg".to_string(),
            trim::Rect {
                x: 200,
                y: 200,
                width: 1600,
                height: 1004
            }
        )],
        "only the letterboxed sample has added borders"
    );
    let boxed = decode::decode_file(&dir.join("pytx/letterboxed_sample-b.jpg"), &opts).unwrap();
    let plain = decode::decode_file(&dir.join("pytx/sample-b.jpg"), &opts).unwrap();
    let inner = trim::crop(&boxed.frame, cut[0].1);
    let engine = Engine::open(BackendChoice::Cpu, None).unwrap();
    let h = engine.hash(&[&boxed.frame, &inner, &plain.frame], Algorithms::ALL);
    let pdq = |i: usize| h[i].pdq.unwrap().original();
    let (whole, trimmed) = (pdq(0).distance(&pdq(2)).0, pdq(1).distance(&pdq(2)).0);
    eprintln!("letterboxed sample: {whole} bits from the original whole, {trimmed} trimmed");
    assert!(
        whole > 31,
        "as is, the letterboxed copy does not match: {whole}"
    );
    assert!(trimmed <= 8, "trimmed, it does: {trimmed}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A picture of random coloured blocks (distinct under PDQ, no border of its own).
fn picture(seed: u64) -> image::RgbImage {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let small = image::RgbImage::from_fn(24, 18, |_, _| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    image::imageops::resize(&small, 240, 180, image::imageops::FilterType::Nearest)
}

fn on_canvas(p: &image::RgbImage, colour: [u8; 3], mx: u32, my: u32) -> image::RgbImage {
    let mut out =
        image::RgbImage::from_pixel(p.width() + 2 * mx, p.height() + 2 * my, image::Rgb(colour));
    image::imageops::replace(&mut out, p, i64::from(mx), i64::from(my));
    out
}

fn jsonl(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn hash_match_and_scan_trim_borders_and_say_which_box_matched() {
    let d = common::scratch("trim-commands");
    let (known, queries) = (d.join("known"), d.join("queries"));
    std::fs::create_dir_all(&known).unwrap();
    std::fs::create_dir_all(&queries).unwrap();
    picture(1).save(known.join("p.png")).unwrap();
    picture(1).save(queries.join("same.png")).unwrap();
    on_canvas(&picture(1), [0, 0, 0], 0, 40)
        .save(queries.join("letterboxed.png"))
        .unwrap();
    on_canvas(&picture(1), [255, 255, 255], 30, 25)
        .save(queries.join("padded.png"))
        .unwrap();
    picture(2).save(queries.join("other.png")).unwrap();
    let run = common::run_ok;
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();

    // hash: the part inside the borders is what is hashed, and `box` says where it lies.
    let plain = jsonl(&run(&[
        "hash",
        "--backend",
        "cpu",
        "--format",
        "jsonl",
        &s(&known),
    ]));
    let trimmed = jsonl(&run(&[
        "hash",
        "--backend",
        "cpu",
        "--format",
        "jsonl",
        "--trim-borders",
        &s(&queries),
    ]));
    let by = |rows: &[serde_json::Value], name: &str| {
        rows.iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap()
            .clone()
    };
    let letterboxed = by(&trimmed, "letterboxed.png");
    assert_eq!(
        letterboxed["box"],
        serde_json::json!({"x": 0, "y": 40, "width": 240, "height": 180})
    );
    assert_eq!(letterboxed["pdq"], plain[0]["pdq"]);
    assert_eq!(by(&trimmed, "padded.png")["pdq"], plain[0]["pdq"]);
    assert!(by(&trimmed, "same.png")["box"].is_null());

    // match: without trimming only the same picture matches; with it the bordered copies
    // match through their trimmed box, and the same picture still through the whole.
    let list = d.join("known.jsonl");
    std::fs::write(
        &list,
        run(&["hash", "--backend", "cpu", "--format", "jsonl", &s(&known)]),
    )
    .unwrap();
    let set = d.join("known.hsref");
    common::refs_build(&list, &set);
    let matched = |extra: &[&str]| {
        let mut args = vec!["match", "--backend", "cpu", "--format", "jsonl", "--refs"];
        let set_s = s(&set);
        let q = s(&queries);
        args.push(&set_s);
        args.extend_from_slice(extra);
        args.push(&q);
        jsonl(&run(&args))
            .into_iter()
            .map(|m| {
                let name = common::file_name(std::path::Path::new(m["query"].as_str().unwrap()));
                (
                    name,
                    m["box"].as_str().unwrap_or("-").to_string(),
                    m["distance"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(matched(&[]), [("same.png".to_string(), "-".to_string(), 0)]);
    let mut with = matched(&["--trim-borders"]);
    with.sort();
    assert_eq!(
        with,
        [
            ("letterboxed.png".to_string(), "trimmed".to_string(), 0),
            ("padded.png".to_string(), "trimmed".to_string(), 0),
            ("same.png".to_string(), "whole".to_string(), 0),
        ]
    );

    // scan: the record holds the trimmed box and its hashes; matches say which box.
    let out = d.join("scan.jsonl");
    run(&[
        "scan",
        "--backend",
        "cpu",
        "--quiet",
        "--trim-borders",
        "--refs",
        &s(&set),
        &s(&queries),
        "-o",
        &s(&out),
    ]);
    let records = common::records(&out);
    let files = common::files(&records);
    let rec = |name: &str| {
        *files
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap()
    };
    assert_eq!(rec("padded.png")["trimmed"]["box"]["x"], 30);
    assert_eq!(rec("padded.png")["trimmed"]["pdq"], plain[0]["pdq"]);
    assert!(rec("same.png").get("trimmed").is_none());
    assert!(rec("other.png").get("trimmed").is_none());
    let matches = jsonl(&std::fs::read_to_string(d.join("scan.matches.jsonl")).unwrap());
    let mut found: Vec<(String, String)> = matches
        .iter()
        .map(|m| {
            (
                common::file_name(std::path::Path::new(m["path"].as_str().unwrap())),
                m["box"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("letterboxed.png".to_string(), "trimmed".to_string()),
            ("padded.png".to_string(), "trimmed".to_string()),
            ("same.png".to_string(), "whole".to_string()),
        ]
    );
}

#[test]
fn references_built_from_pictures_with_crops_match_cropped_copies_and_name_the_parent() {
    let d = common::scratch("augment");
    let (known, queries) = (d.join("known"), d.join("queries"));
    std::fs::create_dir_all(&known).unwrap();
    std::fs::create_dir_all(&queries).unwrap();
    for s in 1..=3u64 {
        picture(s).save(known.join(format!("p{s}.png"))).unwrap();
    }
    std::fs::write(known.join("notes.txt"), "not a picture").unwrap();
    let p1 = picture(1);
    // Cut 10% from the right, and 5% from every side.
    image::imageops::crop_imm(&p1, 0, 0, 216, 180)
        .to_image()
        .save(queries.join("side.png"))
        .unwrap();
    image::imageops::crop_imm(&p1, 6, 4, 228, 172)
        .to_image()
        .save(queries.join("centre.png"))
        .unwrap();
    on_canvas(&p1, [0, 0, 0], 0, 30)
        .save(known.join("p1-letterboxed.png"))
        .unwrap();
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let build = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["refs", "build", "--backend", "cpu", "-o"];
        let o = s(out);
        let k = s(&known);
        args.push(&o);
        args.extend_from_slice(extra);
        args.push(&k);
        let r = common::bin().args(&args).output().unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        String::from_utf8_lossy(&r.stderr).into_owned()
    };
    let info = |set: &std::path::Path| -> serde_json::Value {
        let r = common::bin()
            .args(["refs", "info", "--json"])
            .arg(set)
            .output()
            .unwrap();
        serde_json::from_slice(&r.stdout).unwrap()
    };
    let plain = d.join("plain.hsref");
    build(&plain, &[]);
    let augmented = d.join("augmented.hsref");
    let said = build(&augmented, &["--augment", "crops", "--trim-borders"]);
    assert!(said.contains("4 pictures hashed"), "{said}");
    assert!(said.contains("1 cut inside added borders"), "{said}");
    let windows = hashsweep::decode::augment::CROPS.len() as u64;
    // p1 and its letterboxed copy trim to the same hash: one entry, both labels.
    assert_eq!(info(&plain)["entries"], 4);
    assert_eq!(info(&augmented)["entries"], 3 * (1 + windows));
    let matched = |set: &std::path::Path| -> Vec<serde_json::Value> {
        let r = common::bin()
            .args(["match", "--backend", "cpu", "--format", "jsonl", "--refs"])
            .arg(set)
            .arg(&queries)
            .output()
            .unwrap();
        String::from_utf8_lossy(&r.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert!(
        matched(&plain).is_empty(),
        "cropped copies miss the plain set"
    );
    let found = matched(&augmented);
    let queries_found: std::collections::BTreeSet<String> = found
        .iter()
        .map(|m| common::file_name(std::path::Path::new(m["query"].as_str().unwrap())))
        .collect();
    assert_eq!(
        queries_found.into_iter().collect::<Vec<_>>(),
        ["centre.png", "side.png"]
    );
    // Every match names p1: its id, and a label saying which window of it matched.
    let set = hashsweep::refset::RefSet::open(&augmented).unwrap();
    let p1_entry = (0..set.len())
        .find(|&i| set.labels(i).iter().any(|l| l.ends_with("known/p1.png")))
        .unwrap();
    for m in &found {
        assert_eq!(m["entry_id"], set.ids()[p1_entry], "{m}");
        let label = m["label"].as_str().unwrap();
        assert!(
            label.starts_with("derived=crop") && label.ends_with("known/p1.png"),
            "{label}"
        );
    }
}
