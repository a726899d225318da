//! Arbitrary bytes as a `.hsref` set given to `scan --refs` or `match --refs`: the header,
//! section table and labels are read, and a set that opens is read through every accessor
//! the matchers and reports use. Seeded with real sets, so the mutations reach past the
//! magic number.
#![no_main]

mod scratch;

use hashsweep::refset::RefSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = scratch::file("set.hsref", data);
    let Ok(set) = RefSet::open(&path) else { return };
    let _ = set.verify();
    let _ = set.stored_checksum();
    let n = set.len();
    assert_eq!(
        set.words().len(),
        n * set.algo().words(),
        "words match the count"
    );
    for i in (0..n).take(64) {
        let words = set.hash_words(i).to_vec();
        let _ = set.find_exact(&words);
        let _ = (set.quality(i), set.labels(i), set.label_text(i));
    }
    let _ = set.ids();
    if set.has_videos() {
        for v in 0..set.video_count().min(16) {
            let _ = set.video_name(v);
        }
        let _ = set.video_of();
    }
});
