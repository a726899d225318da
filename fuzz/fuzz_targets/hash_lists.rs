//! Arbitrary bytes as a hash list given to `refs build`: the layout is recognised by
//! content (plain hex, CSV, JSONL, vPDQ text, NCMEC XML, VICS and StopNCII JSON,
//! ThreatExchange lines), then read with and without an algorithm forced, and with and
//! without `--skip-invalid`. Errors are the expected outcome for junk; a panic is a finding.
#![no_main]

mod scratch;

use hashsweep::refset::Algo;
use hashsweep::refset::{exchange, input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = scratch::file("list", data);
    let _ = input::peek(&path, None);
    for algo in [None, Some(Algo::Pdq), Some(Algo::Md5)] {
        for skip in [false, true] {
            let _ = input::read_file(&path, algo, skip);
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = exchange::ncmec_xml(&text);
    for line in text.lines().take(64) {
        let _ = exchange::te_line(line);
    }
});
