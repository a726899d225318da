//! Arbitrary bytes through what `scan` does with a file: sniff, decode (with a small pixel
//! limit so the fuzzer explores formats, not allocation), and hash on the CPU path. Any
//! panic or crash is a finding; an error value is the expected outcome for junk.
#![no_main]

use hashsweep::decode::sniff;
use hashsweep::decode::{DecodeOptions, decode_bytes};
use hashsweep::{Algorithms, engine};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sniff::detect(&data[..data.len().min(sniff::HEAD)]);
    let opts = DecodeOptions {
        max_pixels: 1 << 20,
        reduce_jpeg: Some(64),
        ..Default::default()
    };
    if let Ok(d) = decode_bytes(data, &opts) {
        let h = engine::hash_cpu(&d.frame, Algorithms::ALL);
        assert!(h.pdq.is_some() && h.phash.is_some());
    }
});
