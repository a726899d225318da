//! Writing reference sets: entries are sorted and merged by hash, sections written in
//! order through a running BLAKE3, and the file appears under its final name only when
//! complete (temporary file, fsync, rename, fsync of the directory).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use super::format::{
    self, Algo, FLAG_GROUP_MEMBER, FLAG_LABELS, FLAG_QUALITY, FLAG_SORTED, FLAG_VIDEOS, HEADER_LEN,
    Header, LABEL_SEPARATOR,
};

/// A hash's words held inline (`algo.words()` of the four used, the rest zero): a list of
/// 100 million hashes must not be 100 million small heap objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Words {
    w: [u64; 4],
    len: u8,
}

impl Words {
    pub fn new(words: &[u64]) -> Words {
        assert!(words.len() <= 4, "at most 256 bits");
        let mut w = [0; 4];
        w[..words.len()].copy_from_slice(words);
        Words {
            w,
            len: words.len() as u8,
        }
    }
}

impl std::ops::Deref for Words {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        &self.w[..usize::from(self.len)]
    }
}

/// Where an entry came from, as its list says or as `file:line` when it says nothing. The
/// file name is shared by every line of the file, not copied into each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    Text(Box<str>),
    Line(Arc<str>, u64),
}

impl Label {
    pub fn text(s: impl Into<Box<str>>) -> Label {
        Label::Text(s.into())
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Text(t) => f.write_str(t),
            Label::Line(file, line) => write!(f, "{file}:{line}"),
        }
    }
}

impl PartialEq<&str> for Label {
    fn eq(&self, other: &&str) -> bool {
        match self {
            Label::Text(t) => &**t == *other,
            Label::Line(file, line) => other
                .rsplit_once(':')
                .is_some_and(|(f, l)| f == &**file && l.parse() == Ok(*line)),
        }
    }
}

/// An entry's labels: almost always one, held inline.
pub type Labels = smallvec::SmallVec<[Label; 1]>;

/// One reference hash with what is known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `algo.words()` little-endian words, the in-file and in-memory form.
    pub words: Words,
    pub labels: Labels,
    pub quality: Option<u8>,
    pub id: Option<u64>,
    /// The video this frame hash came from (vPDQ inputs), shared by its frames.
    pub video: Option<Arc<str>>,
}

impl Entry {
    /// A hash with one label and nothing else known.
    pub fn labelled(words: &[u64], label: impl Into<Box<str>>) -> Entry {
        Entry {
            words: Words::new(words),
            labels: smallvec::smallvec![Label::text(label)],
            quality: None,
            id: None,
            video: None,
        }
    }
}

/// Stable id of a hash when its source gives none: the first 8 bytes of BLAKE3 over the
/// algorithm code, the hash's bytes and, for a video frame, the video's name, so rebuilding
/// from any input order gives the same id.
pub fn derived_id(algo: Algo, words: &[u64], video: Option<&str>) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&[algo as u8]);
    for w in words {
        h.update(&w.to_le_bytes());
    }
    if let Some(v) = video {
        h.update(v.as_bytes());
    }
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Sort by hash and keep each hash once, with all its labels (in first-seen order, without
/// repeats), its best quality and its first explicit id. Frame hashes of different videos
/// stay apart: a video's distinct hashes are what vPDQ matching counts.
pub fn merge_duplicates(mut entries: Vec<Entry>) -> Vec<Entry> {
    // Stable, so that labels keep the order they were read in. In place: no second list.
    entries.sort_by(|a, b| (&a.words, &a.video).cmp(&(&b.words, &b.video)));
    entries.dedup_by(|e, last| {
        if last.words != e.words || last.video != e.video {
            return false;
        }
        for l in e.labels.drain(..) {
            if !last.labels.contains(&l) {
                last.labels.push(l);
            }
        }
        last.quality = last.quality.max(e.quality);
        last.id = last.id.or(e.id);
        true
    });
    entries
}

/// A `Write` that hashes what passes through and knows its position.
struct Sink<'f> {
    out: BufWriter<&'f mut File>,
    hasher: blake3::Hasher,
    pos: u64,
}

impl Sink<'_> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.hasher.update(b);
        self.pos += b.len() as u64;
        self.out.write_all(b)
    }

    fn pad_to(&mut self, offset: u64) -> std::io::Result<()> {
        debug_assert!(offset >= self.pos);
        let zeros = vec![0u8; (offset - self.pos) as usize];
        self.put(&zeros)
    }
}

/// What a set's sections hold, produced in order by the caller.
pub trait Sections {
    fn algo(&self) -> Algo;
    fn count(&self) -> u64;
    fn flags(&self) -> u32;
    fn labels_len(&self) -> u64;
    /// Called with each section's writer in file order.
    fn hashes(&mut self, put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()>;
    fn ids(&mut self, put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()>;
    fn quality(
        &mut self,
        _put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        Ok(())
    }
    fn label_index(
        &mut self,
        _put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        Ok(())
    }
    fn labels(
        &mut self,
        _put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        Ok(())
    }
    /// With FLAG_VIDEOS: the videos' names, in index order.
    fn video_names(&self) -> &[String] {
        &[]
    }
    /// With FLAG_VIDEOS: each entry's video, as a u32 index into `video_names`.
    fn videos(
        &mut self,
        _put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        Ok(())
    }
}

fn layout<S: Sections + ?Sized>(s: &S) -> Header {
    let algo = s.algo();
    let n = s.count();
    let mut h = Header {
        magic: format::MAGIC,
        version: format::VERSION,
        algo: algo as u32,
        bits: algo.bits() as u32,
        flags: s.flags(),
        count: n,
        hashes_offset: 0,
        ids_offset: 0,
        quality_offset: 0,
        label_index_offset: 0,
        labels_offset: 0,
        labels_len: 0,
        file_len: 0,
        pad: 0,
        checksum: [0; 32],
        video_of_offset: 0,
        video_count: 0,
        video_name_index_offset: 0,
        video_names_offset: 0,
        video_names_len: 0,
        index_offset: 0,
        index_len: 0,
        body_len: 0,
        content_checksum: [0; 32],
        reserved: [0; 32],
    };
    let mut at = format::align_up(HEADER_LEN as u64);
    h.hashes_offset = at;
    at = format::align_up(at + n * algo.bits() as u64 / 8);
    h.ids_offset = at;
    at += n * 8;
    if h.has(FLAG_QUALITY) {
        at = format::align_up(at);
        h.quality_offset = at;
        at += n;
    }
    if h.has(FLAG_LABELS) {
        at = format::align_up(at);
        h.label_index_offset = at;
        at = format::align_up(at + (n + 1) * 8);
        h.labels_offset = at;
        h.labels_len = s.labels_len();
        at += h.labels_len;
    }
    if h.has(FLAG_VIDEOS) {
        let videos = s.video_names().len() as u64;
        let names_len: u64 = s.video_names().iter().map(|v| v.len() as u64).sum();
        at = format::align_up(at);
        h.video_of_offset = at;
        at = format::align_up(at + n * 4);
        h.video_count = videos;
        h.video_name_index_offset = at;
        at = format::align_up(at + (videos + 1) * 8);
        h.video_names_offset = at;
        h.video_names_len = names_len;
        at += names_len;
    }
    h.file_len = at;
    h
}

/// Write a set whole or not at all (`durable::replace`): readers map sets that are
/// replaced by rename.
pub fn write_set<S: Sections + ?Sized>(path: &Path, s: &mut S) -> std::io::Result<Header> {
    let mut header = layout(s);
    crate::durable::replace(path, |file| {
        let mut sink = Sink {
            out: BufWriter::with_capacity(1 << 20, &mut *file),
            hasher: blake3::Hasher::new(),
            pos: 0,
        };
        sink.put(bytemuck::bytes_of(&header))?;
        sink.pad_to(header.hashes_offset)?;
        s.hashes(&mut |b| sink.put(b))?;
        sink.pad_to(header.ids_offset)?;
        s.ids(&mut |b| sink.put(b))?;
        if header.has(FLAG_QUALITY) {
            sink.pad_to(header.quality_offset)?;
            s.quality(&mut |b| sink.put(b))?;
        }
        if header.has(FLAG_LABELS) {
            sink.pad_to(header.label_index_offset)?;
            s.label_index(&mut |b| sink.put(b))?;
            sink.pad_to(header.labels_offset)?;
            s.labels(&mut |b| sink.put(b))?;
        }
        if header.has(FLAG_VIDEOS) {
            sink.pad_to(header.video_of_offset)?;
            s.videos(&mut |b| sink.put(b))?;
            sink.pad_to(header.video_name_index_offset)?;
            let lengths = s.video_names().iter().map(|v| v.len() as u64);
            put_offsets(lengths, &mut |b| sink.put(b))?;
            sink.pad_to(header.video_names_offset)?;
            for v in s.video_names() {
                sink.put(v.as_bytes())?;
            }
        }
        if sink.pos != header.file_len {
            return Err(std::io::Error::other(format!(
                "wrote {} bytes, layout says {}",
                sink.pos, header.file_len
            )));
        }
        header.checksum = *sink.hasher.finalize().as_bytes();
        sink.out.flush()?;
        drop(sink);
        file.seek(SeekFrom::Start(
            std::mem::offset_of!(Header, checksum) as u64
        ))?;
        file.write_all(&header.checksum)
    })?;
    Ok(header)
}

/// The index of a blob section: 0, then the running sum of the items' lengths.
fn put_offsets(
    lengths: impl Iterator<Item = u64>,
    put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut at = 0u64;
    put(&at.to_le_bytes())?;
    for len in lengths {
        at += len;
        put(&at.to_le_bytes())?;
    }
    Ok(())
}

/// Sections from entries held in memory (what `refs build` and `refs merge` write).
pub struct EntrySections {
    algo: Algo,
    entries: Vec<Entry>,
    /// Distinct video names, sorted, when any entry names one.
    videos: Vec<String>,
    /// One of the sets of a build of several kinds (`FLAG_GROUP_MEMBER`).
    group_member: bool,
}

impl EntrySections {
    /// Sorts and merges duplicates first.
    pub fn new(algo: Algo, entries: Vec<Entry>) -> EntrySections {
        let mut videos: Vec<String> = entries
            .iter()
            .filter_map(|e| e.video.as_deref().map(String::from))
            .collect();
        videos.sort();
        videos.dedup();
        EntrySections {
            algo,
            entries: merge_duplicates(entries),
            videos,
            group_member: false,
        }
    }

    /// Mark the set as one of a group written by one build (see `group`).
    pub fn in_group(mut self, member: bool) -> EntrySections {
        self.group_member = member;
        self
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn label_text(e: &Entry) -> String {
        let sep = std::str::from_utf8(&[LABEL_SEPARATOR]).expect("ascii");
        let texts: Vec<String> = e.labels.iter().map(Label::to_string).collect();
        texts.join(sep)
    }

    fn label_bytes(e: &Entry) -> u64 {
        match e.labels.as_slice() {
            [Label::Text(t)] => t.len() as u64,
            _ => Self::label_text(e).len() as u64,
        }
    }
}

impl Sections for EntrySections {
    fn algo(&self) -> Algo {
        self.algo
    }
    fn count(&self) -> u64 {
        self.entries.len() as u64
    }
    fn flags(&self) -> u32 {
        let mut f = FLAG_SORTED;
        if self.entries.iter().any(|e| e.quality.is_some()) {
            f |= FLAG_QUALITY;
        }
        if self.entries.iter().any(|e| !e.labels.is_empty()) {
            f |= FLAG_LABELS;
        }
        if !self.videos.is_empty() {
            f |= FLAG_VIDEOS;
        }
        if self.group_member {
            f |= FLAG_GROUP_MEMBER;
        }
        f
    }
    fn labels_len(&self) -> u64 {
        self.entries.iter().map(Self::label_bytes).sum()
    }
    fn hashes(&mut self, put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        self.entries
            .iter()
            .try_for_each(|e| put(bytemuck::cast_slice(&e.words[..])))
    }
    fn ids(&mut self, put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let algo = self.algo;
        self.entries.iter().try_for_each(|e| {
            put(&e
                .id
                .unwrap_or_else(|| derived_id(algo, &e.words, e.video.as_deref()))
                .to_le_bytes())
        })
    }
    fn quality(
        &mut self,
        put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let q: Vec<u8> = self
            .entries
            .iter()
            .map(|e| e.quality.unwrap_or(0))
            .collect();
        put(&q)
    }
    fn label_index(
        &mut self,
        put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        put_offsets(self.entries.iter().map(Self::label_bytes), put)
    }
    fn labels(&mut self, put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        for e in &self.entries {
            match e.labels.as_slice() {
                [Label::Text(t)] => put(t.as_bytes())?,
                _ => put(Self::label_text(e).as_bytes())?,
            }
        }
        Ok(())
    }
    fn video_names(&self) -> &[String] {
        &self.videos
    }
    fn videos(&mut self, put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        for e in &self.entries {
            // An entry without a video in a video set (a plain hash list merged in) is
            // marked with u32::MAX and never counted as a video's frame.
            let v = e.video.as_deref().map_or(u32::MAX, |v| {
                self.videos
                    .binary_search_by(|x| x.as_str().cmp(v))
                    .expect("collected in new") as u32
            });
            put(&v.to_le_bytes())?;
        }
        Ok(())
    }
}

/// Uniformly random hashes, generated while writing so that a set of any size is made in
/// constant memory (benchmarks and the 100-million-entry memory check).
pub struct RandomSections {
    pub algo: Algo,
    pub count: u64,
    pub seed: u64,
    /// With `s > 1`: near-duplicate series of `s` entries, each after the first its
    /// predecessor with 1-8 random bits flipped (lists hold edited copies of pictures).
    pub series: u64,
}

impl Sections for RandomSections {
    fn algo(&self) -> Algo {
        self.algo
    }
    fn count(&self) -> u64 {
        self.count
    }
    fn flags(&self) -> u32 {
        0
    }
    fn labels_len(&self) -> u64 {
        0
    }
    fn hashes(&mut self, put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let per = self.algo.words();
        let bits = self.algo.bits() as u64;
        let mut words = crate::hash::random_words(self.seed);
        let mut buf: Vec<u64> = Vec::with_capacity(8192 * per);
        for i in 0..self.count {
            if self.series > 1 && i % self.series != 0 {
                let prev = buf.len() - per;
                buf.extend_from_within(prev..);
                let at = buf.len() - per;
                for _ in 0..1 + words.next().unwrap_or(0) % 8 {
                    let b = words.next().unwrap_or(0) % bits;
                    buf[at + (b / 64) as usize] ^= 1 << (b % 64);
                }
            } else {
                buf.extend(words.by_ref().take(per));
            }
            if buf.len() >= 8192 * per {
                put(bytemuck::cast_slice(&buf[..buf.len() - per]))?;
                buf.drain(..buf.len() - per);
            }
        }
        put(bytemuck::cast_slice(&buf))
    }
    fn ids(&mut self, put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        // Entry index: these sets have no meaning beyond benchmarks.
        (0..self.count).try_for_each(|i| put(&i.to_le_bytes()))
    }
}
