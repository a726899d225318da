//! The CPU pHash against `imagehash.phash` on the golden buffers.

mod common;

use hashsweep::cpu::phash;
use hashsweep::hash::Phash64;

#[test]
fn cpu_phash_equals_imagehash_on_every_golden_buffer() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let rows = common::read_csv(&dir.join("golden/golden_phash.csv"));
    assert_eq!(rows.len(), 17);
    let mut wrong = vec![];
    for row in &rows {
        let (w, h) = (
            row["width"].parse().unwrap(),
            row["height"].parse().unwrap(),
        );
        let frame = common::golden_frame(&dir, &row["name"], w, h);
        let want: Phash64 = row["phash"].parse().unwrap();
        let got = phash::phash(frame.rgb(), w as usize, h as usize);
        if got != want {
            wrong.push(format!("{}: {got} vs {want}", row["name"]));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
