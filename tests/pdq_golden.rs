//! The CPU PDQ path against the reference core's golden vectors: identical quality and all
//! eight hashes, and identical intermediates at the stage where any drift would start.

mod common;

use hashsweep::cpu::{jarosz, luma, pdq};
use hashsweep::hash::{Dihedral, Pdq256};

#[test]
fn cpu_pdq_equals_reference_on_every_golden_buffer() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let rows = common::read_csv(&dir.join("golden/golden.csv"));
    assert_eq!(rows.len(), 17);
    for row in &rows {
        let (w, h) = (
            row["width"].parse().unwrap(),
            row["height"].parse().unwrap(),
        );
        let frame = common::golden_frame(&dir, &row["name"], w, h);
        let got = pdq::pdq(frame.rgb(), h as usize, w as usize);
        assert_eq!(
            got.quality.0.to_string(),
            row["quality"],
            "quality of {}",
            row["name"]
        );
        for d in Dihedral::ALL {
            let want: Pdq256 = row[d.name()].parse().unwrap();
            assert_eq!(got.variant(d), want, "{} of {}", d.name(), row["name"]);
        }
    }
}

#[test]
fn cpu_intermediates_equal_reference_bit_for_bit() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let mut checked = 0;
    for row in common::read_csv(&dir.join("golden/golden.csv")) {
        let name = &row["name"];
        let (w, h): (usize, usize) = (
            row["width"].parse().unwrap(),
            row["height"].parse().unwrap(),
        );
        let frame = common::golden_frame(&dir, name, w as u32, h as u32);
        let base = dir.join("golden").join(name);
        if let Some(want) = common::read_f32(&base.with_extension("luma.f32")) {
            let mut got = vec![0.0f32; w * h];
            luma::luma(frame.rgb(), &mut got);
            assert_bits_eq(&got, &want, name, "luma");
        }
        let Some(down) = pdq::downsample(frame.rgb(), h, w) else {
            continue;
        };
        if let Some(want) = common::read_f32(&base.with_extension("down64.f32")) {
            assert_bits_eq(&down, &want, name, "down64");
            checked += 1;
        }
        if let Some(want) = common::read_f32(&base.with_extension("dct16.f32")) {
            assert_bits_eq(&pdq::dct64_to_16(&down), &want, name, "dct16");
        }
    }
    assert!(
        checked >= 15,
        "only {checked} golden buffers had intermediates"
    );
}

fn assert_bits_eq(got: &[f32], want: &[f32], name: &str, stage: &str) {
    assert_eq!(got.len(), want.len(), "{stage} length of {name}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_bits(),
            w.to_bits(),
            "{stage}[{i}] of {name}: {g} vs {w}"
        );
    }
}

#[test]
fn window_sizes_follow_the_reference_formula() {
    assert_eq!(jarosz::window_size(64), 1);
    assert_eq!(jarosz::window_size(128), 1);
    assert_eq!(jarosz::window_size(129), 2);
    assert_eq!(jarosz::window_size(1600), 13);
}

#[test]
fn torben_returns_an_element_for_even_counts() {
    let v: Vec<f32> = (0..256).map(|i| ((i * 37) % 256) as f32).collect();
    // h = 128: the 128th smallest of 0..255 is 127.
    assert_eq!(pdq::torben(&v), 127.0);
}
