//! Arbitrary bytes through the HEIF box reader that runs before the decoder is started:
//! the `meta` box, its items, references and properties, and the size it plans for. The
//! decoder itself (heif-convert) runs in a capped child process and is not fuzzed here.
#![no_main]

use hashsweep::decode::{bmff, heif};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bmff::heif_brand(&data[..data.len().min(64)]);
    let _ = heif::planned_size(data);
    let Ok(meta) = bmff::meta(data) else { return };
    assert!(meta.items.len() <= bmff::MAX_ITEMS);
    for item in meta.top_level() {
        assert!(meta.item(item.id).is_some(), "a top-level item is an item");
        for part in meta.parts(item.id) {
            let _ = meta.inherited(part, |p| p.size);
        }
        let _ = meta.inherited(item, |p| p.bits);
    }
});
