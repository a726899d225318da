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
    let (whole, trimmed) = (
        pdq(0).distance(&pdq(2)).0,
        pdq(1).distance(&pdq(2)).0,
    );
    eprintln!("letterboxed sample: {whole} bits from the original whole, {trimmed} trimmed");
    assert!(whole > 31, "as is, the letterboxed copy does not match: {whole}");
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
