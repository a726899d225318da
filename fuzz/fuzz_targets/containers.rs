//! Arbitrary bytes as a file that holds others: each container reader (ZIP and its
//! salvage, TAR, gzip, bzip2, xz, zstd, 7z, RAR, PDF; disk images: EWF and raw, with
//! their volumes and FAT, exFAT and ext filesystems) lists it and every member is read,
//! within small limits; and as a JPEG whose thumbnails are looked for. Bytes that no
//! reader claims go to the reader their first byte picks, so every reader sees mutations.
#![no_main]

mod scratch;

use hashsweep::sources::container::{self, Content, Expander, Kind, Limits};
use libfuzzer_sys::fuzz_target;

const KINDS: [Kind; 11] = [
    Kind::Zip,
    Kind::Tar,
    Kind::Gzip,
    Kind::Bzip2,
    Kind::Xz,
    Kind::Zstd,
    Kind::SevenZ,
    Kind::Rar,
    Kind::Pdf,
    Kind::Ewf,
    Kind::Raw,
];

fuzz_target!(|data: &[u8]| {
    let _ = container::thumbnail::of_jpeg(data);
    let (kind, body) = match container::detect(data) {
        Some(k) => (k, data),
        None if data.is_empty() => return,
        None => (KINDS[usize::from(data[0]) % KINDS.len()], &data[1..]),
    };
    let path = scratch::file("input", body);
    let limits = Limits {
        max_depth: 4,
        max_ratio: 50,
        max_held: 8 << 20,
        max_nested: 16 << 20,
        // Carving reads every byte of what no file holds: the disk readers' free space.
        carve: data.first().is_some_and(|b| b & 1 == 1),
    };
    let none = |_: &hashsweep::sources::location::Location| false;
    let mut seen = 0usize;
    let mut emit = |e: container::Entry| {
        seen += 1;
        match e.content {
            Content::Member(m) => drop(m.read()),
            Content::Disk(d) => drop(d.read()),
            _ => {}
        }
        let _ = e.location.text();
        seen < 10_000
    };
    Expander::new(limits, Default::default(), &none, &mut emit).file(&path, kind);
});
