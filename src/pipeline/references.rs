//! Reference entries from pictures (`refs build` given images or folders): each picture's
//! hash labelled with its path; with trimming, the hash of the part inside its added
//! borders; with augmentation, also the hashes of its crop windows as derived entries,
//! which carry their parent's id (so a match names the parent) and say in their label
//! which window of which picture they are.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Budget, HashSource, Hashed};
use crate::decode::{DecodeOptions, augment};
use crate::engine::{Algorithms, Engine, FrameHashes};
use crate::refset::Algo;
use crate::refset::write::{Entry, derived_id};

/// What the pictures gave.
#[derive(Default)]
pub struct ImageEntries {
    pub entries: Vec<Entry>,
    /// Pictures hashed (each one parent entry).
    pub pictures: usize,
    /// Of those, cut inside added borders.
    pub trimmed: usize,
    /// Derived (crop) entries.
    pub derived: usize,
    /// Pictures below the quality floor, not listed.
    pub low_quality: usize,
    /// Members of archives and documents that are not pictures (their text, notes).
    pub not_pictures: usize,
    pub failed: Vec<(PathBuf, String)>,
}

/// The reason `HashSource` gives a container's member that is not a picture.
pub const NOT_A_PICTURE: &str = "not an image";

/// How the pictures are read and what is added.
#[derive(Debug, Clone, Copy)]
pub struct ImageOptions {
    pub algo: Algo,
    pub decode: DecodeOptions,
    /// Add the hashes of `augment::CROPS` windows.
    pub augment: bool,
    /// PDQ hashes of a lower quality are not listed (the reference would not match them).
    pub min_quality: u8,
}

pub fn image_entries(
    engine: &Engine,
    files: &[PathBuf],
    opts: &ImageOptions,
    budget: Arc<Budget>,
    progress: &crate::progress::Progress,
) -> ImageEntries {
    progress.set_total(files.len() as u64);
    let algos = Algorithms {
        pdq: opts.algo == Algo::Pdq,
        phash: opts.algo == Algo::Phash,
    };
    let mut source = HashSource::new(engine, algos, opts.decode, budget).with_progress(progress);
    if opts.augment {
        source = source.with_windows(augment::crops);
    }
    let mut out = ImageEntries::default();
    source.for_each(files, |path, r| {
        progress.add(1, u64::from(r.is_err()), 0);
        match r {
            Ok(h) => add(&mut out, path, &h, opts),
            // A folder's other files are left out before hashing; an archive's are known
            // only once it is open, and counted.
            Err(e) if e.starts_with(NOT_A_PICTURE) => out.not_pictures += 1,
            Err(e) => out.failed.push((path.to_path_buf(), e)),
        }
    });
    out
}

/// The hash words and quality of one frame's hashes under `algo`.
fn words(h: &FrameHashes, algo: Algo) -> Option<(Vec<u64>, Option<u8>)> {
    match algo {
        Algo::Pdq => h.pdq.map(|p| (p.original().0.to_vec(), Some(p.quality.0))),
        _ => h.phash.map(|p| (vec![p.0], None)),
    }
}

fn add(out: &mut ImageEntries, path: &Path, h: &Hashed, opts: &ImageOptions) {
    let label = path.to_string_lossy();
    let parent = h.trimmed.as_ref().map_or(&h.hashes, |(_, t)| t);
    let Some((parent_words, quality)) = words(parent, opts.algo) else {
        return;
    };
    if quality.is_some_and(|q| q < opts.min_quality) {
        out.low_quality += 1;
        return;
    }
    let id = derived_id(opts.algo, &parent_words, None);
    let mut entry = Entry::labelled(&parent_words, &*label);
    entry.quality = quality;
    entry.id = Some(id);
    out.entries.push(entry);
    out.pictures += 1;
    out.trimmed += usize::from(h.trimmed.is_some());
    for (name, wh) in &h.windows {
        let Some((w, q)) = words(wh, opts.algo) else {
            continue;
        };
        let mut derived = Entry::labelled(&w, format!("derived={name} of={label}"));
        derived.quality = q;
        derived.id = Some(id);
        out.entries.push(derived);
        out.derived += 1;
    }
}
