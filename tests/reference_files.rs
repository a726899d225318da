//! The whole CPU path (our decoder + CPU hashes) against the reference values for the 49
//! real files in `pdq/reference.csv`. The figures are printed (run with --nocapture) and
//! bounded by the acceptance rules of `../shared/spec`.

mod common;

use hashsweep::cpu::{pdq, phash};
use hashsweep::decode::DecodeOptions;
use hashsweep::hash::{Dihedral, Pdq256, Phash64};

fn pdq_of(f: &hashsweep::Frame) -> hashsweep::hash::PdqHashes {
    pdq::pdq(f.rgb(), f.height() as usize, f.width() as usize)
}

#[test]
fn phash_matches_imagehash_on_95_percent_of_files_and_never_by_more_than_4_bits() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let files = common::reference_files(&dir, &DecodeOptions::default());
    let mut dists = vec![];
    for f in &files {
        let d = f
            .decoded
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", f.row["path"]));
        let want: Phash64 = f.row["phash_imagehash"].parse().unwrap();
        let got = phash::phash(
            d.frame.phash_source(),
            d.frame.width() as usize,
            d.frame.height() as usize,
        );
        let dist = got.distance(&want).0;
        if dist > 0 {
            eprintln!("phash differs by {dist}: {}", f.row["path"]);
        }
        dists.push(dist);
    }
    let exact = dists.iter().filter(|&&d| d == 0).count();
    let rate = exact as f64 / dists.len() as f64;
    let (mean, max) = common::mean_max(&dists);
    eprintln!(
        "FIGURE phash exact {exact}/{} = {:.1}%, mean {mean:.3}, max {max}",
        dists.len(),
        rate * 100.0
    );
    assert!(rate >= 0.95, "exact-match rate {rate}");
    assert!(max <= 4, "max distance {max}");
}

/// Distances to one reference column over files with reference quality >= 80.
fn pdq_distances(files: &[common::RefFile], col: &str, skip: &[&str]) -> Vec<(String, u32)> {
    files
        .iter()
        .filter(|f| f.row[&format!("{col}_quality")].parse::<u32>().unwrap() >= 80)
        .filter(|f| !skip.contains(&f.row["path"].as_str()))
        .map(|f| {
            let d = f.decoded.as_ref().unwrap();
            let want: Pdq256 = f.row[col].parse().unwrap();
            (
                f.row["path"].clone(),
                pdq_of(&d.frame).original().distance(&want).0,
            )
        })
        .collect()
}

fn report(label: &str, d: &[(String, u32)]) -> (f64, f64, u32) {
    let dist: Vec<u32> = d.iter().map(|x| x.1).collect();
    let within = dist.iter().filter(|&&x| x <= 10).count() as f64 / dist.len() as f64;
    let (mean, max) = common::mean_max(&dist);
    let exact = dist.iter().filter(|&&x| x == 0).count();
    eprintln!(
        "FIGURE {label}: {} files q>=80, within 10 bits {:.1}%, exact {exact}, mean {mean:.3}, max {max}",
        dist.len(),
        within * 100.0
    );
    for (p, x) in d.iter().filter(|x| x.1 > 10) {
        eprintln!("  {p}: {x} bits");
    }
    (within, mean, max)
}

#[test]
fn pdq_full_image_is_within_10_bits_of_the_reference_core_on_every_file() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let files = common::reference_files(&dir, &DecodeOptions::default());
    let (within, mean, _) = report(
        "pdq vs pdq_core_pil",
        &pdq_distances(&files, "pdq_core_pil", &[]),
    );
    assert_eq!(within, 1.0);
    assert!(mean <= 1.0, "mean {mean}");
    let (within, _, _) = report(
        "pdq (default) vs pdq_cli",
        &pdq_distances(&files, "pdq_cli", &[]),
    );
    assert!(within >= 0.95, "{within}");
}

#[test]
fn pre_resize_512_reproduces_the_reference_command_line_tool() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let opts = DecodeOptions {
        pre_resize: Some(512),
        ..Default::default()
    };
    let files = common::reference_files(&dir, &opts);
    // The reference tool reads 16-bit samples by their low byte (testdata/README.md).
    let quirk = ["pytx/I16.png"];
    let (within, _, _) = report(
        "pdq --pre-resize 512 vs pdq_cli",
        &pdq_distances(&files, "pdq_cli", &quirk),
    );
    assert_eq!(within, 1.0);
    // The dihedral hashes come from the same DCT: each stays as close as the original.
    for f in files
        .iter()
        .filter(|f| !quirk.contains(&f.row["path"].as_str()))
    {
        if f.row["pdq_cli_quality"].parse::<u32>().unwrap() < 80 {
            continue;
        }
        let got = pdq_of(&f.decoded.as_ref().unwrap().frame);
        for d in &Dihedral::ALL[1..] {
            let want: Pdq256 = f.row[&format!("pdq_cli_{}", d.name())].parse().unwrap();
            let dist = got.variant(*d).distance(&want).0;
            assert!(dist <= 10, "{} {}: {dist}", f.row["path"], d.name());
        }
    }
}
