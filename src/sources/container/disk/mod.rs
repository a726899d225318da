//! Disk images swept as they arrive: EWF (`.E01`, in segments) and raw images (one file, or
//! split `.001`, `.002`, ...), their volumes (MBR with extended partitions, GPT, or a
//! filesystem with no table) and the files of each volume's filesystem (FAT12/16/32, exFAT,
//! ext2/3/4, NTFS with its alternate data streams),
//! each named `disk.E01#p2/Users/x/a.jpg` (`docs/paths.md`). Files are handed on unread
//! (`Content::Disk`) and read by the hashing workers at their offsets, so chunks of one
//! image are inflated on all cores; a file too large to hold goes through the usual
//! streamed reading. Every volume gets a record: one whose filesystem is not read says
//! which it is. Nothing is ever written to an image: it is opened read-only.

mod carve;
mod clusters;
mod device;
mod ewf;
mod exfat;
mod ext;
mod fat;
mod ntfs;
mod verify;
mod volume;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use device::{Dev, Device, FileData, Runs};
pub use ewf::segment_number;
pub use verify::{Verification, verify};

use super::{Content, Expander, Kind, Meta, Src, Stop, Walk};
use crate::sources::location::{Location, Step};

/// Bytes of a volume's start that tell its filesystem (ext's superblock is at 1024).
pub const HEAD: usize = 4096;

/// Directories read into memory at most (a directory of a million names is 32 MiB on FAT).
const MAX_DIRECTORY: u64 = 256 << 20;

/// What a file in a filesystem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    File,
    Dir,
    Link,
    Other,
}

/// A filesystem's times for a file, as it stores them (seconds since 1970).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Times {
    pub modified: Option<f64>,
    pub accessed: Option<f64>,
    pub changed: Option<f64>,
    pub created: Option<f64>,
    /// Why the times have no zone, when they have none (FAT).
    pub zone: Option<&'static str>,
}

/// One file (or an unreadable directory) of a filesystem.
pub struct FsFile {
    /// From the root: `/DCIM/a.jpg`.
    pub path: Vec<u8>,
    pub kind: FsKind,
    pub data: Result<Runs, String>,
    pub size: u64,
    /// The inode (ext), directory entry number (FAT, exFAT) or MFT record number (NTFS), as
    /// The Sleuth Kit numbers them.
    pub inode: u64,
    pub times: Times,
    /// Its bytes, already in memory: an NTFS stream resident in its record, or one
    /// decompressed (`data` is then empty).
    pub inline: Option<Vec<u8>>,
    /// An NTFS alternate data stream: its name (`path:name`).
    pub stream: Option<Vec<u8>>,
    /// A deleted file (named under `/$deleted/N/`), read where its entry says its bytes
    /// were.
    pub deleted: bool,
    /// What is doubtful about its bytes (a deleted file's clusters taken by others).
    pub warning: Option<String>,
}

/// Takes each file of a filesystem walk.
type Visit<'a> = dyn FnMut(FsFile) -> Walk + 'a;

/// What a record says of a file found in a disk image.
#[derive(Debug, Clone, PartialEq)]
pub struct FsFacts {
    /// `fat32`, `ext4`, ...
    pub filesystem: &'static str,
    /// The volume's byte offset in the disk.
    pub volume_offset: u64,
    pub inode: u64,
    pub times: Times,
    pub deleted: bool,
    /// A warning for its record (a deleted file's bytes partly someone else's).
    pub warning: Option<String>,
}

/// A file of a disk image, read by whoever takes it.
pub struct DiskFile {
    pub data: FileData,
    /// Its first bytes (up to `HEAD`), read when it was listed: what it is, and for a
    /// picture the size it decodes to.
    pub head: Vec<u8>,
}

impl DiskFile {
    pub fn size(&self) -> u64 {
        self.data.size
    }

    /// Its bytes, and warnings for what was damaged among them.
    pub fn read(self) -> Result<(Vec<u8>, Vec<String>), String> {
        self.data.read()
    }
}

/// A volume found in a disk image, for its record.
pub struct VolumeFacts {
    /// `fat32`, `ext4`, `ntfs`, or what the table calls it when no filesystem is read.
    pub format: String,
    pub offset: u64,
    pub len: u64,
    /// `mbr 0x0c`, `gpt <type GUID>`, `whole disk`.
    pub table: String,
    /// Why its files were not all read.
    pub error: Option<String>,
}

/// Whether `head` (a file's first bytes) is a disk image, and which kind.
pub fn detect(head: &[u8]) -> Option<Kind> {
    if head.starts_with(ewf::SIGNATURE) {
        return Some(Kind::Ewf);
    }
    let is_disk = volume::is_gpt(head) || filesystem(head).is_some() || volume::is_mbr(head);
    is_disk.then_some(Kind::Raw)
}

/// The filesystem a volume's first bytes show.
fn filesystem(head: &[u8]) -> Option<&'static str> {
    if head.get(3..11) == Some(b"NTFS    ") {
        return Some("ntfs");
    }
    if head.get(3..11) == Some(b"EXFAT   ") {
        return Some("exfat");
    }
    if let Some(f) = fat::detect(head) {
        return Some(f);
    }
    if ext::detect(head) {
        return Some("ext");
    }
    None
}

/// Whether unit `k` (a cluster, a block) is set in an allocation bitmap: a live file holds
/// it.
fn bit(map: &[u8], k: u64) -> bool {
    map.get((k / 8) as usize)
        .is_some_and(|b| b >> (k % 8) & 1 == 1)
}

/// How far a deleted file's bytes are its own, from how many of the `all` units its entry
/// names live files hold now (`taken`): none, its runs; some, its runs with the warning
/// `deleted_reallocated`; all, an error saying its data is gone.
fn deleted_verdict(runs: Runs, all: u64, taken: u64) -> (Result<Runs, String>, Option<String>) {
    match taken {
        0 => (Ok(runs), None),
        t if t == all => (
            Err(format!(
                "deleted; all {all} clusters it had now belong to other files: its data is gone"
            )),
            None,
        ),
        t => (
            Ok(runs),
            Some(format!(
                "deleted_reallocated: {t} of the {all} clusters it had now belong to other files; those bytes are not its own"
            )),
        ),
    }
}

/// Read a directory's (or other metadata's) runs whole, within `MAX_DIRECTORY`.
fn read_runs(d: &dyn Device, runs: &Runs) -> Result<Vec<u8>, String> {
    if runs.total() > MAX_DIRECTORY {
        return Err(format!(
            "{} bytes: over the {MAX_DIRECTORY} a directory may take",
            runs.total()
        ));
    }
    let mut out = vec![];
    for &(at, len) in &runs.runs {
        match at {
            Some(a) => out.extend(device::bytes_at(d, a, len as usize).map_err(|e| e.to_string())?),
            None => out.resize(out.len() + len as usize, 0),
        }
    }
    Ok(out)
}

fn dir_error(path: &[u8], inode: u64, why: String) -> FsFile {
    FsFile {
        path: if path.is_empty() {
            b"/".to_vec()
        } else {
            path.to_vec()
        },
        kind: FsKind::Dir,
        data: Err(format!("directory unreadable: {why}")),
        size: 0,
        inode,
        times: Times::default(),
        inline: None,
        stream: None,
        deleted: false,
        warning: None,
    }
}

fn file_error(path: Vec<u8>, inode: u64, why: String) -> FsFile {
    FsFile {
        path,
        kind: FsKind::File,
        data: Err(why),
        size: 0,
        inode,
        times: Times::default(),
        inline: None,
        stream: None,
        deleted: false,
        warning: None,
    }
}

/// The segments of an image on disk: `x.E01, x.E02, ...` or `x.001, x.002, ...`.
fn segment_paths(first: &Path, kind: Kind) -> Vec<PathBuf> {
    match kind {
        Kind::Ewf => ewf::segment_paths(first),
        _ => split_paths(first),
    }
}

/// `x.001` and the `x.002`, `x.003`, ... beside it.
fn split_paths(first: &Path) -> Vec<PathBuf> {
    let mut out = vec![first.to_path_buf()];
    let Some(ext) = first.extension().and_then(|e| e.to_str()) else {
        return out;
    };
    let width = ext.len();
    if ext.parse::<u64>() != Ok(1) || width < 2 {
        return out;
    }
    for n in 2.. {
        let p = first.with_extension(format!("{n:0width$}"));
        if !p.is_file() {
            break;
        }
        out.push(p);
    }
    out
}

/// Whether a file is named as a raw disk image is (`.dd`, `.raw`, `.img`, `.001`): with
/// `--carve`, such a file whose content is not recognised is carved whole.
pub fn is_raw_name(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    ["dd", "raw", "img", "001"]
        .iter()
        .any(|e| e.eq_ignore_ascii_case(ext))
}

/// Whether a file on disk is a later segment of a split or EWF image that is read with
/// its first one (so it is not swept on its own): the first segment's path if so.
pub fn first_segment_of(path: &Path, head: &[u8]) -> Option<PathBuf> {
    let ext = path.extension()?.to_str()?;
    if let Some(n) = ewf::segment_number(head) {
        if n <= 1 {
            return None;
        }
        let first = path.with_extension(format!("{}01", &ext[..1]));
        return first.is_file().then_some(first);
    }
    let n: u64 = ext.parse().ok()?;
    if n < 2 {
        return None;
    }
    let width = ext.len();
    let first = path.with_extension(format!("{:0width$}", 1));
    let is_image = super::detect_file(&first).is_some_and(|k| k == Kind::Raw);
    is_image.then_some(first)
}

/// Open a disk image and hand on every file of every volume, then each volume's record.
/// Returns the format's name and its problems (noted on the image's record).
pub(super) fn walk(x: &mut Expander, loc: &Location, src: &Src, kind: Kind) -> (String, Walk) {
    let (dev, format, mut problems) = match open(loc, src, kind) {
        Ok(o) => o,
        Err(why) => return (kind.name().to_string(), Err(Stop::Broken(why))),
    };
    let head = match device::bytes_at(&*dev, 0, HEAD.min(dev.len() as usize)) {
        Ok(h) => h,
        Err(e) => return (format, Err(Stop::Broken(format!("unreadable: {e}")))),
    };
    let table = if volume::is_gpt(&head) {
        volume::Table::Gpt
    } else if filesystem(&head).is_some() {
        volume::Table::None
    } else if volume::is_mbr(&head) {
        volume::Table::Mbr
    } else if x.limits.carve {
        volume::Table::None
    } else {
        let why = "no partition table or filesystem recognised: not swept".to_string();
        return (format, Err(Stop::Broken(why)));
    };
    let (volumes, error) = volume::volumes(&*dev, table);
    problems.extend(error);
    for v in volumes {
        if let Err(stop) = sweep_volume(x, loc, &dev, v) {
            return (format, Err(stop));
        }
    }
    let walk = match problems.is_empty() {
        true => Ok(()),
        false => Err(Stop::Broken(problems.join("; "))),
    };
    (format, walk)
}

/// The image's bytes as a device, its format's name, and what was wrong on opening.
fn open(loc: &Location, src: &Src, kind: Kind) -> Result<(Dev, String, Vec<String>), String> {
    // Segments are looked for beside an image on disk; one held inside another is whole.
    let paths = match loc.steps.is_empty() {
        true => segment_paths(&loc.outer, kind),
        false => vec![],
    };
    let mut srcs = vec![src.clone()];
    for p in paths.iter().skip(1) {
        let f = std::fs::File::open(p).map_err(|e| format!("segment {}: {e}", p.display()))?;
        let len = f.metadata().map_err(|e| e.to_string())?.len();
        srcs.push(Src::File(Arc::new(f), len));
    }
    match kind {
        Kind::Ewf => {
            let (e, problems) = ewf::Ewf::open(srcs, paths)?;
            Ok((Arc::new(e), "e01".into(), problems))
        }
        _ => {
            let name = if srcs.len() > 1 { "raw (split)" } else { "raw" };
            Ok((Arc::new(device::Raw::new(srcs)), name.into(), vec![]))
        }
    }
}

/// One volume: its files, then its own record.
fn sweep_volume(x: &mut Expander, loc: &Location, dev: &Dev, v: volume::Volume) -> Walk {
    let at = loc.join(Step::Volume {
        index: v.index,
        path: vec![],
    });
    if (x.done)(&at) {
        return Ok(());
    }
    let len = v.len.min(dev.len().saturating_sub(v.start));
    let part: Dev = Arc::new(device::Part {
        dev: dev.clone(),
        start: v.start,
        len,
    });
    let mut facts = VolumeFacts {
        format: v.table.clone(),
        offset: v.start,
        len: v.len,
        table: v.table.clone(),
        error: None,
    };
    if len < v.len {
        facts.error = Some(format!(
            "the table says {} bytes from byte {}, the disk ends {} bytes in",
            v.len, v.start, len
        ));
    }
    let head = device::bytes_at(&*part, 0, HEAD.min(len as usize)).unwrap_or_default();
    let read = match filesystem(&head) {
        Some(f) if f.starts_with("fat") => fat::Fat::open(part.clone()).map(Fs::Fat),
        Some("ext") => ext::Ext::open(part.clone()).map(Fs::Ext),
        Some("exfat") => exfat::ExFat::open(part.clone()).map(Fs::ExFat),
        Some("ntfs") => ntfs::Ntfs::open(part.clone()).map(Fs::Ntfs),
        Some(other) => Err(format!("{other} filesystem: not read yet")),
        None => Err("no filesystem recognised: not swept".into()),
    };
    match read {
        Ok(fs) => {
            facts.format = fs.name().to_string();
            let mut each = |f: FsFile| hand_on(x, loc, &part, v.index, v.start, fs.name(), f);
            fs.walk(&mut each)?;
            if x.limits.carve {
                sweep_unallocated(x, loc, &part, v.index, &fs.unallocated())?;
            }
        }
        // With `--carve`, a volume whose filesystem is not recognised is carved whole.
        Err(why) if x.limits.carve && filesystem(&head).is_none() => {
            facts.format = format!("{} (no filesystem recognised: carved)", v.table);
            let mut all = Runs::default();
            all.push(Some(0), len);
            let _ = why;
            sweep_unallocated(x, loc, &part, v.index, &all)?;
        }
        Err(why) => {
            if let Some(f) = filesystem(&head) {
                facts.format = f.to_string();
            }
            facts.error = Some(why);
        }
    }
    x.note_at(at, Some(v.len), None, None, Content::Volume(facts))
}

enum Fs {
    Fat(fat::Fat),
    ExFat(exfat::ExFat),
    Ext(ext::Ext),
    Ntfs(ntfs::Ntfs),
}

impl Fs {
    fn name(&self) -> &'static str {
        match self {
            Fs::Fat(f) => f.name(),
            Fs::ExFat(_) => "exfat",
            Fs::Ext(e) => e.name(),
            Fs::Ntfs(_) => "ntfs",
        }
    }

    fn unallocated(&self) -> Runs {
        match self {
            Fs::Fat(f) => f.unallocated(),
            Fs::ExFat(x) => x.unallocated(),
            Fs::Ext(e) => e.unallocated(),
            Fs::Ntfs(n) => n.unallocated(),
        }
    }

    fn walk(&self, each: &mut Visit) -> Walk {
        match self {
            Fs::Fat(f) => f.walk(each),
            Fs::ExFat(x) => x.walk(each),
            Fs::Ext(e) => e.walk(each),
            Fs::Ntfs(n) => n.walk(each),
        }
    }
}

/// `--carve`: the pictures in `runs` (a volume's free space, or all of it), each an entry
/// `#pN/$unallocated@OFFSET.ext` at its byte offset in the volume.
fn sweep_unallocated(
    x: &mut Expander,
    loc: &Location,
    part: &Dev,
    index: u32,
    runs: &Runs,
) -> Walk {
    let stream = carve::Stream::new(part, runs);
    let free = loc.join(Step::Volume {
        index,
        path: b"/$unallocated".to_vec(),
    });
    let mut result = Ok(());
    carve::carve(&stream, &mut |found| {
        let offset = stream.volume_offset(found.at);
        let at = free.join(Step::Carved {
            offset,
            ext: found.ext.to_string(),
        });
        let content = match found.len > x.limits.max_held {
            true => Content::Refused {
                encrypted: false,
                reason: format!(
                    "carved {} of {} bytes: over the {} bytes a member may hold in memory (--max-memory)",
                    found.ext, found.len, x.limits.max_held
                ),
            },
            false => Content::Bytes(stream.bytes(found.at, found.len)),
        };
        result = x.note_at(at, Some(found.len), None, None, content);
        result.is_ok()
    });
    result
}

/// One file of a volume to the expander: unread when it may be held (workers read it),
/// streamed here when larger, or a record saying why it is not read.
/// A file read through as an archive member: a container inside is opened, and a file
/// that cannot be read to its end is its own error record (the image's other files are
/// read at their own offsets all the same).
fn read_member(
    x: &mut Expander,
    at: Location,
    size: Option<u64>,
    mtime: Option<f64>,
    fs: Option<Box<FsFacts>>,
    r: &mut dyn std::io::Read,
) -> Walk {
    let meta = Meta {
        name: vec![],
        size,
        stored: None,
        mtime,
    };
    match x.member_at(at, meta, fs, r) {
        Err(Stop::Broken(_)) => Ok(()),
        other => other,
    }
}

fn hand_on(
    x: &mut Expander,
    loc: &Location,
    part: &Dev,
    index: u32,
    offset: u64,
    filesystem: &'static str,
    f: FsFile,
) -> Walk {
    let mut at = loc.join(Step::Volume {
        index,
        path: f.path,
    });
    if let Some(name) = f.stream {
        at = at.join(Step::Stream(name));
    }
    let fs = Some(Box::new(FsFacts {
        filesystem,
        volume_offset: offset,
        inode: f.inode,
        times: f.times,
        deleted: f.deleted,
        warning: f.warning,
    }));
    let mtime = f.times.modified;
    let size = Some(f.size);
    if let Some(bytes) = f.inline {
        return read_member(x, at, size, mtime, fs, &mut bytes.as_slice());
    }
    let content = match (f.kind, f.data) {
        (FsKind::Link, _) => Content::Skipped("symbolic link: not followed".into()),
        (FsKind::Other, _) => {
            Content::Skipped("special file (device, FIFO or socket): not read".into())
        }
        (_, Err(why)) => Content::Refused {
            encrypted: false,
            reason: why,
        },
        (_, Ok(runs)) => {
            let data = FileData {
                dev: part.clone(),
                runs,
                size: f.size,
            };
            // A container inside is opened here, as one in an archive is.
            let mut head = vec![0u8; HEAD.min(f.size as usize)];
            if let Err(e) = std::io::Read::read_exact(&mut data.reader(), &mut head) {
                let reason = format!("read failed: {e}");
                let refused = Content::Refused {
                    encrypted: false,
                    reason,
                };
                return x.note_at(at, size, mtime, fs, refused);
            }
            if f.size > x.limits.max_held || super::detect(&head).is_some() {
                return read_member(x, at, size, mtime, fs, &mut data.reader());
            }
            Content::Disk(DiskFile { data, head })
        }
    };
    x.note_at(at, size, mtime, fs, content)
}
