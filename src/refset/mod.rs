//! Reference sets: lists of known hashes with ids, labels and quality, in a memory-mapped
//! file format (docs/refset-format.md). Opening maps the file and checks the header and
//! section bounds; nothing proportional to the set is read into the heap.

pub mod build;
pub mod exchange;
pub mod format;
pub mod group;
pub mod index;
pub mod indexed;
pub mod input;
pub mod verified;
pub mod write;

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use thiserror::Error;

pub use format::Algo;
use format::{
    FLAG_INDEX, FLAG_LABELS, FLAG_QUALITY, FLAG_SORTED, FLAG_VIDEOS, HEADER_LEN, Header,
    LABEL_SEPARATOR, MAGIC, VERSION,
};

#[derive(Debug, Error)]
pub enum RefSetError {
    // Not `source`: the OS error is said once, in this message, not again as the cause.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{0}: not a hashsweep reference set (bad magic)")]
    Magic(PathBuf),
    #[error(
        "{0} is a hash list, not a reference set: build one with `hashsweep refs build {0} -o SET.hsref` and pass SET.hsref"
    )]
    List(PathBuf),
    #[error("{path}: unsupported version {version}")]
    Version { path: PathBuf, version: u32 },
    #[error("{path}: corrupt header: {what}")]
    Corrupt { path: PathBuf, what: String },
    #[error("{path}: checksum mismatch (stored {stored}, computed {computed})")]
    Checksum {
        path: PathBuf,
        stored: String,
        computed: String,
    },
}

/// An open, memory-mapped reference set.
pub struct RefSet {
    path: PathBuf,
    map: Mmap,
    header: Header,
    instance: u64,
    /// The opened file's identity and times: what `verified` remembers a check under.
    meta: std::fs::Metadata,
}

/// Numbers each opened set, so that a GPU matcher can keep a set resident and know it again.
static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A number no opened set has, for hashes matched like a set without being one (the GPU
/// matcher keys its resident sets by it).
pub fn fresh_instance_id() -> u64 {
    OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl RefSet {
    pub fn open(path: &Path) -> Result<RefSet, RefSetError> {
        let io = |cause| RefSetError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        // Safety: the map is read-only; a set rewritten under us is replaced by rename, so
        // this mapping keeps the old file's pages.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        let header = check_header(path, &map)?;
        Ok(RefSet {
            path: path.to_path_buf(),
            map,
            header,
            instance: fresh_instance_id(),
            meta,
        })
    }

    /// A number no other set opened by this process has: the key of its resident copy on a
    /// GPU. Never the content's checksum, which a tampered file could repeat.
    pub fn instance_id(&self) -> u64 {
        self.instance
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn algo(&self) -> Algo {
        self.header.algo().expect("checked on open")
    }

    pub fn len(&self) -> usize {
        self.header.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn section(&self, offset: u64, len: usize) -> &[u8] {
        &self.map[offset as usize..offset as usize + len]
    }

    /// All hashes as one slice of u64 words, `algo().words()` per entry.
    pub fn words(&self) -> &[u64] {
        let n = self.len() * self.algo().words();
        bytemuck::cast_slice(self.section(self.header.hashes_offset, n * 8))
    }

    /// Entries are in hash order (every set `refs build` and `refs merge` write; not
    /// `refs random`'s): exact lookups are binary searches.
    pub fn is_sorted(&self) -> bool {
        self.header.flags & FLAG_SORTED != 0
    }

    /// The entries whose hash is exactly `words`: a binary search over the mapped, sorted
    /// hash array (nothing is copied into the heap), or a pass over an unsorted one.
    pub fn find_exact(&self, words: &[u64]) -> Vec<usize> {
        let w = self.algo().words();
        if words.len() != w {
            return vec![];
        }
        let all = self.words();
        let key = |i: usize| &all[i * w..(i + 1) * w];
        if !self.is_sorted() {
            return (0..self.len()).filter(|&i| key(i) == words).collect();
        }
        let first = partition(self.len(), |i| key(i) < words);
        let end = partition(self.len(), |i| key(i) <= words);
        (first..end).collect()
    }

    pub fn hash_words(&self, i: usize) -> &[u64] {
        let w = self.algo().words();
        &self.words()[i * w..(i + 1) * w]
    }

    pub fn ids(&self) -> &[u64] {
        bytemuck::cast_slice(self.section(self.header.ids_offset, self.len() * 8))
    }

    pub fn quality(&self, i: usize) -> Option<u8> {
        self.header
            .has(FLAG_QUALITY)
            .then(|| self.section(self.header.quality_offset, self.len())[i])
    }

    /// The labels of entry `i` (several when duplicates were merged).
    pub fn labels(&self, i: usize) -> Vec<&str> {
        if !self.header.has(FLAG_LABELS) {
            return vec![];
        }
        let h = &self.header;
        match self.blob_item(
            h.label_index_offset,
            self.len(),
            h.labels_offset,
            h.labels_len,
            i,
        ) {
            Some(bytes) if !bytes.is_empty() => bytes
                .split(|&c| c == LABEL_SEPARATOR)
                .map(|l| std::str::from_utf8(l).unwrap_or("<invalid utf-8>"))
                .collect(),
            _ => vec![],
        }
    }

    /// Labels of entry `i` joined with "; " for one-line output.
    pub fn label_text(&self, i: usize) -> String {
        self.labels(i).join("; ")
    }

    /// Item `i` of a blob section that an index of `n + 1` u64 offsets cuts into items
    /// (labels, video names); `None` when a hostile index points outside the blob.
    fn blob_item(&self, index: u64, n: usize, blob: u64, blob_len: u64, i: usize) -> Option<&[u8]> {
        let index: &[u64] = bytemuck::cast_slice(self.section(index, (n + 1) * 8));
        let blob = self.section(blob, blob_len as usize);
        blob.get(index[i] as usize..index[i + 1] as usize)
    }

    /// Whether entries are video frame hashes (a set built from vPDQ files).
    pub fn has_videos(&self) -> bool {
        self.header.has(FLAG_VIDEOS)
    }

    pub fn video_count(&self) -> usize {
        if self.has_videos() {
            self.header.video_count as usize
        } else {
            0
        }
    }

    /// Each entry's video index (`u32::MAX`: none); empty unless `has_videos`.
    pub fn video_of(&self) -> &[u32] {
        if !self.has_videos() {
            return &[];
        }
        bytemuck::cast_slice(self.section(self.header.video_of_offset, self.len() * 4))
    }

    pub fn video_name(&self, v: usize) -> &str {
        let h = &self.header;
        let (index, names, len) = (
            h.video_name_index_offset,
            h.video_names_offset,
            h.video_names_len,
        );
        self.blob_item(index, self.video_count(), names, len, v)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("<invalid video name>")
    }

    pub(crate) fn map(&self) -> &[u8] {
        &self.map
    }

    /// The multi-index, when the set has one (checked on open).
    pub fn index(&self) -> Option<index::IndexView<'_>> {
        let h = &self.header;
        if !h.has(FLAG_INDEX) {
            return None;
        }
        let section = self.section(h.index_offset, h.index_len as usize);
        index::IndexView::parse(section, h.count, h.bits).ok()
    }

    /// What names this set's content in headers, reports and resume checks: the checksum
    /// of the set without its index (equal to the stored checksum of a set that never had
    /// one), so adding or rebuilding an index does not change it.
    pub fn identity(&self) -> String {
        let h = &self.header;
        match h.has(FLAG_INDEX) {
            true => crate::hash::hex(&h.content_checksum),
            false => crate::hash::hex(&h.checksum),
        }
    }

    /// Recompute the checksum over the mapped file and compare it with the stored one;
    /// the set's [`identity`](RefSet::identity) when they agree.
    pub fn verify(&self) -> Result<String, RefSetError> {
        let computed = checksum(&self.map);
        let stored = crate::hash::hex(&self.header.checksum);
        if computed != self.header.checksum {
            return Err(RefSetError::Checksum {
                path: self.path.clone(),
                stored,
                computed: crate::hash::hex(&computed),
            });
        }
        Ok(self.identity())
    }

    pub fn stored_checksum(&self) -> String {
        crate::hash::hex(&self.header.checksum)
    }
}

/// BLAKE3 of the file with the checksum field taken as zeros.
/// The first index in `0..n` for which `before` is false (`before` true then false).
fn partition(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

pub fn checksum(file: &[u8]) -> [u8; 32] {
    let at = std::mem::offset_of!(Header, checksum);
    let mut h = blake3::Hasher::new();
    h.update(&file[..at]);
    h.update(&[0u8; 32]);
    h.update_rayon(&file[at + 32..]);
    *h.finalize().as_bytes()
}

/// Whether a file that is not a set begins as text does (a hash list given as a set).
fn looks_like_text(map: &[u8]) -> bool {
    let head = &map[..map.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A multi-byte character cut at the end of the window is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.trim().is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
}

/// A hostile file could name video 7 of 3; checked once on open so that readers may index.
fn video_refs_out_of_range(map: &[u8], h: &Header) -> bool {
    let at = h.video_of_offset as usize;
    let of: &[u32] = bytemuck::cast_slice(&map[at..at + h.count as usize * 4]);
    of.iter()
        .any(|&v| v != u32::MAX && v as u64 >= h.video_count)
}

/// Every offset and length in the header must lie inside the file, so that no later
/// access can fall outside the map whatever the file holds.
fn check_header(path: &Path, map: &[u8]) -> Result<Header, RefSetError> {
    let corrupt = |what: &str| RefSetError::Corrupt {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    if map.len() < HEADER_LEN || map[..8] != MAGIC {
        return Err(match looks_like_text(map) {
            true => RefSetError::List(path.to_path_buf()),
            false => RefSetError::Magic(path.to_path_buf()),
        });
    }
    let h: Header = bytemuck::pod_read_unaligned(&map[..HEADER_LEN]);
    if h.version != VERSION {
        return Err(RefSetError::Version {
            path: path.to_path_buf(),
            version: h.version,
        });
    }
    let algo = h.algo().ok_or_else(|| corrupt("unknown algorithm"))?;
    if h.bits as usize != algo.bits() {
        return Err(corrupt("bit width does not match the algorithm"));
    }
    if h.file_len != map.len() as u64 {
        return Err(corrupt(
            "file length differs from the header's (truncated?)",
        ));
    }
    let n = h.count;
    let fits = |off: u64, len: Option<u64>| {
        len.and_then(|l| off.checked_add(l))
            .is_some_and(|end| end <= map.len() as u64 && off.is_multiple_of(format::SECTION_ALIGN))
    };
    if !fits(h.hashes_offset, n.checked_mul(algo.bits() as u64 / 8)) {
        return Err(corrupt("hash section out of bounds"));
    }
    if !fits(h.ids_offset, n.checked_mul(8)) {
        return Err(corrupt("id section out of bounds"));
    }
    if h.has(FLAG_QUALITY) && !fits(h.quality_offset, Some(n)) {
        return Err(corrupt("quality section out of bounds"));
    }
    if h.has(FLAG_LABELS) {
        if !fits(
            h.label_index_offset,
            n.checked_add(1).and_then(|x| x.checked_mul(8)),
        ) {
            return Err(corrupt("label index out of bounds"));
        }
        if !fits(h.labels_offset, Some(h.labels_len)) {
            return Err(corrupt("label blob out of bounds"));
        }
    }
    if h.has(FLAG_VIDEOS) {
        if !fits(h.video_of_offset, n.checked_mul(4)) {
            return Err(corrupt("video section out of bounds"));
        }
        let index_len = h.video_count.checked_add(1).and_then(|x| x.checked_mul(8));
        if !fits(h.video_name_index_offset, index_len)
            || !fits(h.video_names_offset, Some(h.video_names_len))
        {
            return Err(corrupt("video names out of bounds"));
        }
        if video_refs_out_of_range(map, &h) {
            return Err(corrupt("an entry names a video that does not exist"));
        }
    }
    if h.has(FLAG_INDEX) {
        check_index(map, &h).map_err(|what| corrupt(&what))?;
    }
    Ok(h)
}

/// The index lies after the other sections, inside the file, and fits the set.
fn check_index(map: &[u8], h: &Header) -> Result<(), String> {
    let end = h.index_offset.checked_add(h.index_len);
    let inside = end.is_some_and(|e| e <= map.len() as u64)
        && h.body_len <= h.index_offset
        && h.index_offset.is_multiple_of(format::SECTION_ALIGN);
    if !inside {
        return Err("index section out of bounds".into());
    }
    let section = &map[h.index_offset as usize..(h.index_offset + h.index_len) as usize];
    index::IndexView::parse(section, h.count, h.bits).map(|_| ())
}
