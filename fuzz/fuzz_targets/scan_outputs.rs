//! Arbitrary bytes as a scan's output read back: by `report` (JSONL or CSV, with its
//! `.meta.jsonl`), by `merge` (as a shard) and by `--resume` (which cuts a torn last line
//! and prunes the matches file). The input's first byte picks JSONL or CSV; a zero byte
//! splits it into the records and the companion file (meta or matches).
#![no_main]

mod scratch;

use hashsweep::scan::record::Format;
use hashsweep::scan::{merge, resume};
use hashsweep::{progress::Progress, report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (records, companion) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let _ = std::fs::remove_file(scratch::dir().join("merged.jsonl"));
    let _ = std::fs::remove_file(scratch::dir().join("merged.matches.jsonl"));
    if pick & 1 == 0 {
        let out = scratch::file("out.jsonl", records);
        let matches = scratch::file("out.matches.jsonl", companion);
        let _ = report::gather(&out, true);
        let _ = merge::merge(
            std::slice::from_ref(&out),
            &scratch::dir().join("merged.jsonl"),
            &Progress::off(),
        );
        if let Ok(done) = resume::recorded(&out, Format::Jsonl) {
            let _ = resume::prune_matches(&matches, &done);
        }
    } else {
        let out = scratch::file("out.csv", records);
        let meta = scratch::file("out.meta.jsonl", companion);
        let _ = report::gather(&out, true);
        let _ = resume::first_header(&meta);
        let _ = resume::recorded(&out, Format::Csv);
    }
});
