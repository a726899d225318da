//! Output records of `hashsweep scan` (JSONL; CSV on request).

use std::path::Path;

// The path grammar, and the escape of paths that are not UTF-8, live with the sources
// that find the files.
pub use crate::sources::location::{path_text, unescape};

/// How file records are written. Header and summary records are JSON either way (in the
/// output itself for JSONL, in `OUT.meta.jsonl` beside a CSV output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

/// What became of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Hashed (an image), or hashed and its vPDQ file written (a video).
    #[default]
    Ok,
    /// Not an image or video, a link not followed, a special file: nothing to hash.
    Skipped,
    /// Unreadable, corrupt, refused: `reason` says why.
    Error,
    /// A container (archive, compressed stream, document) whose members all have records
    /// before this one; `contents` counts them.
    Opened,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::Error => "error",
            Status::Opened => "opened",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !b
}

/// One file's record: the one type both writers (JSONL, CSV) read. Absent values are left
/// out of JSONL and empty in CSV.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(tag = "type", rename = "file")]
pub struct FileRecord {
    pub path: String,
    #[serde(skip_serializing_if = "is_false")]
    pub path_escaped: bool,
    /// A file inside another: the number of steps in `path` after the file on disk
    /// (`docs/paths.md`), and the path of what holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtime: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(flatten)]
    pub hashes: Hashes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a decoder recovered from (`truncated: ...`, `trailing_data: ...`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// With `--trim-borders`: the picture inside added borders, hashed beside the whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trimmed: Option<TrimmedPart>,
    /// With `--all-frames`: the frames of an animation after the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_count: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<AnimationFrame>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_truncated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_error: Option<String>,
    /// A video's stream, the frames hashed and where its vPDQ file went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<crate::video::VideoInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_hashed: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpdq_file: Option<String>,
    /// Seconds into the run (since its own start, for a resumed run) when the record was
    /// written: the report's files-per-second plot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_s: Option<f64>,
    /// A container's members, by what became of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Contents>,
    /// A deleted file of a disk image, read where its entry says its bytes were.
    #[serde(skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// A file of a disk image: its filesystem, where its volume lies, its inode or entry
    /// number and its times as the filesystem stores them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs: Option<FsRecord>,
    /// A volume of a disk image: where it lies and what its table calls it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeRecord>,
    /// Counted in the summary, not written.
    #[serde(skip)]
    pub bytes_read: u64,
    /// A picture's thumbnail (counted apart from the members of containers).
    #[serde(skip)]
    pub thumbnail: bool,
}

/// What a file's filesystem says of it (`disk::FsFacts`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FsRecord {
    pub filesystem: String,
    pub volume_offset: u64,
    /// The inode (ext) or directory entry number (FAT), as The Sleuth Kit numbers them.
    pub inode: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<f64>,
    /// Why the times have no zone, when they have none (FAT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl From<&crate::sources::container::disk::FsFacts> for FsRecord {
    fn from(f: &crate::sources::container::disk::FsFacts) -> FsRecord {
        FsRecord {
            filesystem: f.filesystem.to_string(),
            volume_offset: f.volume_offset,
            inode: f.inode,
            modified: f.times.modified,
            accessed: f.times.accessed,
            changed: f.times.changed,
            created: f.times.created,
            time_zone: f.times.zone.map(str::to_string),
        }
    }
}

/// A disk image's volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VolumeRecord {
    pub offset: u64,
    pub length: u64,
    pub table: String,
}

/// What a container held: its members (direct ones), by what became of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Contents {
    pub entries: usize,
    pub hashed: usize,
    pub opened: usize,
    pub skipped: usize,
    pub refused: usize,
    pub encrypted: usize,
}

impl Contents {
    /// Count one member's record.
    pub fn count(&mut self, r: &FileRecord) {
        self.entries += 1;
        match r.status {
            Status::Ok => self.hashed += 1,
            Status::Opened => self.opened += 1,
            Status::Skipped => self.skipped += 1,
            Status::Error => self.refused += 1,
        }
        if r.is_encrypted() {
            self.encrypted += 1;
        }
    }
}

/// A frame's hashes as records write them.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Hashes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq: Option<crate::hash::Pdq256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phash: Option<crate::hash::Phash64>,
}

impl Hashes {
    pub fn of(h: &crate::engine::FrameHashes) -> Hashes {
        Hashes {
            pdq: h.pdq.map(|p| p.original()),
            quality: h.pdq.map(|p| p.quality.0),
            phash: h.phash,
        }
    }
}

/// The part of an image inside its added borders, and its hashes.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct TrimmedPart {
    #[serde(rename = "box")]
    pub region: crate::decode::trim::Rect,
    #[serde(flatten)]
    pub hashes: Hashes,
}

/// A later frame of an animation (`index` 0 is the second frame).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct AnimationFrame {
    pub index: usize,
    #[serde(flatten)]
    pub hashes: Hashes,
}

impl FileRecord {
    /// A record naming `path` (escaped when it must be), with its size and time if known.
    pub fn new(path: &Path, meta: Option<&std::fs::Metadata>) -> FileRecord {
        let (path, path_escaped) = path_text(path);
        FileRecord {
            path,
            path_escaped,
            size: meta.map(std::fs::Metadata::len),
            mtime: meta
                .and_then(|m| m.modified().ok())
                .map(crate::clock::unix_seconds),
            ..FileRecord::default()
        }
    }

    pub fn set(&mut self, status: Status, reason: impl Into<String>) {
        self.status = status;
        self.reason = Some(reason.into());
    }

    /// The file's digest of this kind, if it was computed.
    pub fn digest(&self, algo: crate::refset::Algo) -> Option<&str> {
        match algo {
            crate::refset::Algo::Md5 => self.md5.as_deref(),
            crate::refset::Algo::Sha1 => self.sha1.as_deref(),
            crate::refset::Algo::Sha256 => self.sha256.as_deref(),
            _ => None,
        }
    }

    /// A record naming a file on disk or inside others, without size or time.
    pub fn at(loc: &crate::sources::location::Location) -> FileRecord {
        let (path, path_escaped) = loc.text();
        let depth = loc.steps.len();
        FileRecord {
            path,
            path_escaped,
            depth: (depth > 0).then_some(depth),
            container: loc.container().map(|c| c.text().0),
            ..FileRecord::default()
        }
    }

    /// The key resume and merge know this file by.
    pub fn key(&self) -> String {
        crate::sources::location::key_of(&self.path, self.path_escaped, self.depth.unwrap_or(0))
    }

    /// Refused because it is encrypted (the reason says so first).
    pub fn is_encrypted(&self) -> bool {
        self.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("encrypted"))
    }
}

/// One match: a frame (an image, a frame of an animation or a video) within reach of a
/// reference set's entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MatchRecord {
    pub path: String,
    #[serde(skip_serializing_if = "is_false")]
    pub path_escaped: bool,
    /// Steps of `path` inside the file on disk (`FileRecord::depth`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// What matched: `pdq` or `phash` (within `distance`), or a file digest `md5`, `sha1`,
    /// `sha256` (exactly).
    pub kind: &'static str,
    pub refset: String,
    pub entry_id: u64,
    pub label: String,
    pub distance: u32,
    /// Which of the 8 dihedral forms of the query matched (`original` without --dihedral);
    /// none for a digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<&'static str>,
    /// With `--trim-borders`: whether the `whole` image or the part inside its added
    /// borders (`trimmed`) matched.
    #[serde(rename = "box", skip_serializing_if = "Option::is_none")]
    pub region: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// The list the entry came from, its id there and its category, when its label says
    /// (sets built from NCMEC, StopNCII, ThreatExchange or VICS lists).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::refset::exchange::Source>,
}

/// The CSV form of a file record: its flat fields, in this order. The header is these
/// names; nested parts (animation frames, video stream facts) are left to JSONL, with the
/// number of extra frames in `frames`.
#[derive(serde::Serialize)]
struct CsvRow<'a> {
    path: &'a str,
    path_escaped: Option<bool>,
    size: Option<u64>,
    mtime: Option<f64>,
    format: Option<&'a str>,
    width: Option<u32>,
    height: Option<u32>,
    frames: Option<usize>,
    pdq: Option<String>,
    quality: Option<u8>,
    phash: Option<String>,
    md5: Option<&'a str>,
    sha1: Option<&'a str>,
    sha256: Option<&'a str>,
    status: Status,
    reason: Option<&'a str>,
    /// What a decoder recovered from, `; `-separated.
    warnings: Option<String>,
    depth: Option<usize>,
    container: Option<&'a str>,
    /// A file of a disk image: its filesystem, its volume's offset and its inode or entry
    /// number (its times are left to JSONL).
    filesystem: Option<&'a str>,
    volume_offset: Option<u64>,
    inode: Option<u64>,
}

impl<'a> CsvRow<'a> {
    fn of(r: &'a FileRecord) -> CsvRow<'a> {
        CsvRow {
            path: &r.path,
            path_escaped: r.path_escaped.then_some(true),
            size: r.size,
            mtime: r.mtime,
            format: r.format.as_deref(),
            width: r.width,
            height: r.height,
            frames: (!r.frames.is_empty()).then_some(r.frames.len()),
            pdq: r.hashes.pdq.map(|h| h.to_string()),
            quality: r.hashes.quality,
            phash: r.hashes.phash.map(|h| h.to_string()),
            md5: r.md5.as_deref(),
            sha1: r.sha1.as_deref(),
            sha256: r.sha256.as_deref(),
            status: r.status,
            reason: r.reason.as_deref(),
            warnings: (!r.warnings.is_empty()).then(|| r.warnings.join("; ")),
            depth: r.depth,
            container: r.container.as_deref(),
            filesystem: r.fs.as_ref().map(|f| f.filesystem.as_str()),
            volume_offset: r.fs.as_ref().map(|f| f.volume_offset),
            inode: r.fs.as_ref().map(|f| f.inode),
        }
    }
}

fn csv_text(row: &CsvRow, header: bool) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(header)
        .from_writer(vec![]);
    w.serialize(row).expect("a flat row serialises");
    String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8 fields")
}

/// The CSV header line (without its line break).
pub fn csv_header() -> String {
    let text = csv_text(&CsvRow::of(&FileRecord::default()), true);
    text.lines().next().unwrap_or_default().to_string()
}

/// One file record as a line (without the newline).
pub fn line(format: Format, r: &FileRecord) -> String {
    match format {
        Format::Jsonl => serde_json::to_string(r).expect("records serialise"),
        Format::Csv => csv_text(&CsvRow::of(r), false)
            .trim_end_matches(['\n', '\r'])
            .to_string(),
    }
}

/// Key under which a file is recorded (and recognised on resume and by merge). An escaped
/// path is marked, so that a file literally named `caf%E9` and one whose name holds the
/// byte E9 never share a key.
pub fn key(p: &Path) -> String {
    let (text, escaped) = path_text(p);
    key_of(&text, escaped)
}

pub fn key_of(text: &str, escaped: bool) -> String {
    crate::sources::location::key_of(text, escaped, 0)
}

/// The key of a file or match record read back as JSON (its path, escape mark and depth).
pub fn key_of_value(v: &serde_json::Value) -> String {
    let text = v["path"].as_str().unwrap_or_default();
    let depth = v["depth"].as_u64().unwrap_or(0) as usize;
    crate::sources::location::key_of(text, v["path_escaped"] == true, depth)
}

/// The file on disk a record read back as JSON names (for shards: a file inside another
/// goes with the file on disk that holds it).
pub fn outer_of_value(v: &serde_json::Value) -> std::path::PathBuf {
    let text = v["path"].as_str().unwrap_or_default();
    let escaped = v["path_escaped"] == true;
    let depth = v["depth"].as_u64().unwrap_or(0) as usize;
    crate::sources::location::Location::parse(text, escaped, depth).map_or_else(
        || crate::sources::location::path_from_text(text, escaped),
        |l| l.outer,
    )
}

/// Which column of a CSV output holds the depth.
pub fn csv_depth_column() -> usize {
    csv_header()
        .split(',')
        .position(|c| c == "depth")
        .expect("depth is a column")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_round_trip_through_the_escape() {
        use std::os::unix::ffi::OsStrExt;
        let raw: &[u8] = b"/ev/caf\xe9 100%/\xff\xfe.jpg";
        let p = Path::new(std::ffi::OsStr::from_bytes(raw));
        let (text, escaped) = path_text(p);
        assert!(escaped);
        assert_eq!(text, "/ev/caf%E9 100%25/%FF%FE.jpg");
        assert_eq!(unescape(&text), raw);
        assert_eq!(
            path_text(Path::new("/ok/100%.jpg")),
            ("/ok/100%.jpg".to_string(), false)
        );
    }
}
