//! The reading side of a scan: one file read (type by content, digests streamed) and, for
//! an image, decoded; every outcome, a panic included, becomes that file's record.

use std::io::Read;

use super::record::{FileRecord, Status};
use super::{Digests, Examined, ScanConfig, video};
use crate::decode::sniff::{self, Detected};
use crate::decode::{self, Head};
use crate::frame::Frame;
use crate::sources::container::thumbnail::{self, Thumbnail};
use crate::sources::container::{self, Content, Entry};
use crate::sources::digest::{Digesters, Hexes};
use crate::sources::location::{Location, Step};
use crate::sources::spool::Spool;
use crate::sources::walk;

/// What reading `f` will hold at its peak, from its size and its header (an image's bytes
/// and decoding, or the streaming buffer of anything else), with the head read to learn
/// it, from which reading goes on. Special files and links are not opened (a FIFO would
/// block); a file that cannot be opened costs nothing and is reported by `examine`.
pub(super) fn cost(f: &walk::Found, cfg: &ScanConfig) -> (u64, Option<Head>) {
    const STREAM_BUFFER: u64 = 1 << 20;
    if f.kind != walk::Kind::File {
        return (0, None);
    }
    let Ok(head) = Head::open(&f.path) else {
        return (0, None);
    };
    let len = head.file.metadata().map_or(0, |m| m.len());
    let image = sniff::detect(&head.bytes).is_picture();
    let c = match (image, len <= MAX_IMAGE_BYTES) {
        (true, true) => {
            // A broken header is still read whole.
            let size = head.planned_size(&f.path, &cfg.decode);
            crate::pipeline::image_cost(len, size, cfg.decode.max_pixels)
        }
        _ => STREAM_BUFFER,
    };
    (c, Some(head))
}

/// No panic from one file reaches the run: it becomes that file's error record.
pub(super) fn examine_guarded(f: &walk::Found, head: Option<Head>, cfg: &ScanConfig) -> Examined {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| examine(f, head, cfg)))
        .unwrap_or_else(|_| caught(&Location::file(&f.path), "file"))
}

/// The record of a file whose reading panicked (a decoder bug on hostile input).
pub(super) fn caught(loc: &Location, what: &str) -> Examined {
    let mut record = FileRecord::at(loc);
    record.set(
        Status::Error,
        format!("internal error while reading this {what} (caught)"),
    );
    Examined::record(record)
}

fn examine(f: &walk::Found, head: Option<Head>, cfg: &ScanConfig) -> Examined {
    let meta = std::fs::symlink_metadata(&f.path).ok();
    let mut record = FileRecord::new(&f.path, meta.as_ref());
    let skipped = |mut record: FileRecord, why: &str| {
        record.set(Status::Skipped, why);
        Examined::record(record)
    };
    let error = |mut record: FileRecord, why: String| {
        record.set(Status::Error, why);
        Examined::record(record)
    };
    match f.kind {
        walk::Kind::Special => {
            return skipped(record, "special file (FIFO, socket or device): not read");
        }
        walk::Kind::Link => {
            return skipped(record, "symbolic link: not followed (--follow-symlinks)");
        }
        walk::Kind::File => {}
    }
    let head = match head.map_or_else(|| Head::open(&f.path), Ok) {
        Ok(h) => h,
        Err(e) => return error(record, read_error(&e)),
    };
    // A split or EWF image's later segments are read with its first.
    if let Some(first) = container::disk::first_segment_of(&f.path, &head.bytes) {
        let why = format!(
            "a later segment of the disk image {}: read with it",
            first.display()
        );
        return skipped(record, &why);
    }
    // Containers are opened by the producer, which hands their members on. With `--carve`,
    // a raw image whose content is not recognised is known by its name, and carved whole.
    let detected =
        container::detect(&head.bytes[..head.bytes.len().min(container::HEAD)]).or_else(|| {
            let raw = cfg.containers.carve && container::disk::is_raw_name(&f.path);
            raw.then_some(container::Kind::Raw)
        });
    if let Some(kind) = detected {
        record.format = Some(kind.name().to_string());
        let mut e = Examined::record(record);
        e.container = Some(kind);
        return e;
    }
    let (kind, bytes) = match read(head, cfg.digests) {
        Ok(r) => r,
        Err(e) => return error(record, read_error(&e)),
    };
    record.bytes_read = bytes.len;
    set_digests(&mut record, bytes.digests);
    if bytes.len == 0 {
        return error(record, "empty file".into());
    }
    record.format = Some(sniff::name(kind));
    if let (true, None) = (kind.is_picture(), &bytes.whole) {
        let why = format!("image file over {} bytes: not decoded", MAX_IMAGE_BYTES);
        return error(record, why);
    }
    match kind {
        Detected::Video(_) => video::examine(record, &f.path, cfg),
        _ => examine_bytes(
            &Location::file(&f.path),
            record,
            kind,
            bytes.whole.unwrap_or_default(),
            cfg,
        ),
    }
}

fn read_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "vanished during the scan".into(),
        _ => format!("read failed: {e}"),
    }
}

fn set_digests(record: &mut FileRecord, digests: Hexes) {
    for (name, hex) in digests {
        match name {
            "md5" => record.md5 = Some(hex),
            "sha1" => record.sha1 = Some(hex),
            _ => record.sha256 = Some(hex),
        }
    }
}

/// A file's or member's bytes, read: a picture decoded (with its thumbnails), anything
/// else skipped.
fn examine_bytes(
    loc: &Location,
    mut record: FileRecord,
    kind: Detected,
    bytes: Vec<u8>,
    cfg: &ScanConfig,
) -> Examined {
    if !kind.is_picture() {
        record.set(Status::Skipped, "not an image");
        return Examined::record(record);
    }
    let d = match decode::decode_bytes(&bytes, &cfg.decode) {
        Ok(d) => d,
        Err(e) => {
            record.set(Status::Error, e.to_string());
            // A damaged photo's thumbnail may still show what it was.
            let mut e = Examined::record(record);
            e.extra = thumbnails(loc, kind, &bytes, cfg);
            return e;
        }
    };
    record.width = Some(d.width);
    record.height = Some(d.height);
    record.status = Status::Ok;
    record.warnings = d.warnings;
    let mut e = Examined::record(record);
    e.frames.push(d.frame);
    if let Some((region, part)) = d.trimmed {
        e.trimmed = Some(region);
        e.frames.push(part);
    }
    if cfg.all_frames {
        add_frames(&mut e, &bytes, cfg);
    }
    // Thumbnails are decoded by `examine_thumbnail`, never here: no thumbnail of one.
    e.extra = thumbnails(loc, kind, &bytes, cfg);
    e
}

/// The records of a JPEG's thumbnails.
fn thumbnails(loc: &Location, kind: Detected, bytes: &[u8], cfg: &ScanConfig) -> Vec<Examined> {
    if kind != Detected::Image(image::ImageFormat::Jpeg) {
        return vec![];
    }
    thumbnail::of_jpeg(bytes)
        .into_iter()
        .map(|(name, t)| examine_thumbnail(loc.join(Step::Member(name.into())), t, cfg))
        .collect()
}

/// A thumbnail's record: hashed as found and inside any borders it added (the sink
/// compares both with its picture).
fn examine_thumbnail(loc: Location, t: Thumbnail, cfg: &ScanConfig) -> Examined {
    let mut record = FileRecord::at(&loc);
    record.thumbnail = true;
    let (stored, frame) = match t {
        Thumbnail::Jpeg(b) => {
            record.format = Some("jpg".into());
            let opts = decode::DecodeOptions {
                trim_borders: false,
                ..cfg.decode
            };
            let frame = decode::decode_bytes(&b, &opts).map(|d| d.frame);
            (b, frame.map_err(|e| e.to_string()))
        }
        Thumbnail::Pixels { stored, frame } => {
            record.format = Some("rgb".into());
            (stored, Ok(frame))
        }
    };
    record.size = Some(stored.len() as u64);
    record.bytes_read = stored.len() as u64;
    set_digests(&mut record, Digesters::of(cfg.digests, &stored));
    with_frame(record, frame, true)
}

/// A record with its decoded frame (and, when `trim`, the part inside added borders), or
/// the error that stood in its way.
fn with_frame(mut record: FileRecord, frame: Result<Frame, String>, trim: bool) -> Examined {
    match frame {
        Ok(f) => {
            record.width = Some(f.width());
            record.height = Some(f.height());
            record.status = Status::Ok;
            let cut = trim.then(|| decode::trim::cut(&f)).flatten();
            let mut e = Examined::record(record);
            e.frames.push(f);
            if let Some((region, part)) = cut {
                e.trimmed = Some(region);
                e.frames.push(part);
            }
            e
        }
        Err(why) => {
            record.set(Status::Error, why);
            Examined::record(record)
        }
    }
}

/// A member of a container: read (a ZIP member), digested and examined as a file is; or
/// the record the container's reader made of it (refused, skipped, opened).
pub(super) fn examine_entry(entry: Entry, cfg: &ScanConfig) -> Examined {
    let loc = entry.location.clone();
    // What the filesystem doubts of its bytes goes beside what decoding finds.
    let doubt = entry.fs.as_deref().and_then(|f| f.warning.clone());
    let mut e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| entry_inner(entry, cfg)))
        .unwrap_or_else(|_| caught(&loc, "member"));
    e.record.warnings.extend(doubt);
    e
}

fn entry_inner(entry: Entry, cfg: &ScanConfig) -> Examined {
    let mut record = FileRecord::at(&entry.location);
    record.size = entry.size;
    record.mtime = entry.mtime;
    record.fs = entry.fs.as_deref().map(Into::into);
    record.deleted = entry.fs.as_deref().is_some_and(|f| f.deleted);
    let set = |mut record: FileRecord, status, why: String| {
        record.set(status, why);
        Examined::record(record)
    };
    match entry.content {
        Content::Bytes(b) => member_bytes(&entry.location, record, b, cfg),
        Content::Member(m) => match m.read() {
            Ok(b) => member_bytes(&entry.location, record, b, cfg),
            Err(why) => set(record, Status::Error, why),
        },
        Content::Pixels { stored, frame } => {
            record.format = Some("pdf-image".into());
            record.bytes_read = stored.len() as u64;
            set_digests(&mut record, Digesters::of(cfg.digests, &stored));
            with_frame(record, frame, false)
        }
        Content::Streamed {
            len,
            digests,
            format,
            reason,
        } => {
            record.bytes_read = len;
            record.size = Some(len);
            record.format = Some(format);
            set_digests(&mut record, digests);
            let status = match reason.as_str() {
                "not an image" => Status::Skipped,
                _ => Status::Error,
            };
            set(record, status, reason)
        }
        Content::Spooled {
            spool,
            digests,
            format,
        } => {
            record.bytes_read = spool.len();
            record.size = Some(spool.len());
            record.format = Some(format);
            set_digests(&mut record, digests);
            video::examine_spooled(record, spool, cfg)
        }
        Content::Disk(d) => match d.read() {
            Ok((b, damage)) => {
                let mut e = member_bytes(&entry.location, record, b, cfg);
                e.record.warnings.extend(damage);
                e
            }
            Err(why) => set(record, Status::Error, why),
        },
        Content::Volume(v) => {
            record.format = Some(v.format);
            record.volume = Some(super::record::VolumeRecord {
                offset: v.offset,
                length: v.len,
                table: v.table,
            });
            match v.error {
                Some(why) => set(record, Status::Error, why),
                None => {
                    record.status = Status::Opened;
                    Examined::record(record)
                }
            }
        }
        Content::Refused { reason, .. } => set(record, Status::Error, reason),
        Content::Skipped(why) => set(record, Status::Skipped, why),
        Content::Opened(o) => {
            record.format = Some(o.format);
            set_digests(&mut record, o.digests);
            // The sink fills in what its members became.
            record.contents = Some(Default::default());
            match o.error {
                Some(why) => set(record, Status::Error, why),
                None => {
                    record.status = Status::Opened;
                    Examined::record(record)
                }
            }
        }
    }
}

/// A member held in memory: digested, then examined as a file's bytes.
fn member_bytes(
    loc: &Location,
    mut record: FileRecord,
    bytes: Vec<u8>,
    cfg: &ScanConfig,
) -> Examined {
    record.bytes_read = bytes.len() as u64;
    record.size = Some(bytes.len() as u64);
    set_digests(&mut record, Digesters::of(cfg.digests, &bytes));
    if bytes.is_empty() {
        record.set(Status::Error, "empty file");
        return Examined::record(record);
    }
    let kind = sniff::detect(&bytes[..bytes.len().min(sniff::HEAD)]);
    record.format = Some(sniff::name(kind));
    if let Detected::Video(_) = kind {
        // FFmpeg reads files: the video goes to a private temporary one, never named.
        let spooled = Spool::new().and_then(|mut s| s.write(&bytes).map(|()| s));
        return match spooled {
            Ok(s) => video::examine_spooled(record, s, cfg),
            Err(e) => {
                record.set(
                    Status::Error,
                    format!("video inside a container: could not be spooled to a temporary file ({e}): not decoded"),
                );
                Examined::record(record)
            }
        };
    }
    examine_bytes(loc, record, kind, bytes, cfg)
}

/// With `--all-frames`: every frame of an animation after the image itself. A broken
/// later frame keeps the first frame's result and says what happened.
fn add_frames(e: &mut Examined, bytes: &[u8], cfg: &ScanConfig) {
    match decode::decode_animation(bytes, &cfg.decode) {
        Ok((frames, truncated)) => {
            if truncated {
                e.record.frames_truncated = Some(format!(
                    "frames past {} pixels in all were not hashed",
                    cfg.decode.max_pixels
                ));
            }
            if !frames.is_empty() {
                e.record.frame_count = Some(frames.len());
                e.frames.extend(frames);
            }
        }
        Err(err) => e.record.frames_error = Some(err.to_string()),
    }
}

/// Image files larger than this are refused rather than read whole into memory.
pub const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// What reading a file gave: its length, its digests, and its bytes when it is an image
/// small enough to decode. Other files are streamed (for digests) and never held whole.
struct Contents {
    len: u64,
    digests: Hexes,
    whole: Option<Vec<u8>>,
}

fn read(head: Head, d: Digests) -> std::io::Result<(Detected, Contents)> {
    let Head {
        file: mut f,
        bytes: head,
    } = head;
    let kind = sniff::detect(&head[..head.len().min(sniff::HEAD)]);
    let size = f.metadata().map_or(0, |m| m.len());
    let mut digests = Digesters::new(d);
    digests.update(&head);
    let mut len = head.len() as u64;
    let mut whole = None;
    if kind.is_picture() && size <= MAX_IMAGE_BYTES {
        let mut all = head;
        (&mut f).take(MAX_IMAGE_BYTES).read_to_end(&mut all)?;
        digests.update(&all[len as usize..]);
        len = all.len() as u64;
        whole = Some(all);
    } else if digests.any() {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            digests.update(&buf[..n]);
            len += n as u64;
        }
    } else {
        len = size.max(len);
    }
    Ok((
        kind,
        Contents {
            len,
            digests: digests.finish(),
            whole,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::examine_guarded;

    fn cfg() -> ScanConfig {
        ScanConfig {
            inputs: vec![],
            out: PathBuf::from("unused"),
            refs: vec![],
            algos: Algorithms::ALL,
            digests: Digests {
                md5: true,
                sha1: true,
                sha256: true,
            },
            resume: false,
            force: false,
            shard: Shard::WHOLE,
            decode: DecodeOptions::default(),
            follow_symlinks: false,
            dihedral: false,
            min_quality: 50,
            max_distance: None,
            command: vec![],
            case: CaseInfo::default(),
            progress: Progress::off(),
            stop: None,
            format: record::Format::Jsonl,
            all_frames: false,
            video: Default::default(),
            vpdq_dir: PathBuf::from("unused.vpdq"),
            query_match_pct: 80.0,
            compared_match_pct: 0.0,
            round_pixels: pipeline::ROUND_PIXELS,
            max_memory: 1 << 30,
            containers: crate::sources::container::Limits::within(1 << 30),
            verify_images: false,
            index: Default::default(),
        }
    }

    #[test]
    fn a_file_that_vanished_after_the_walk_is_an_error_record() {
        let f = walk::Found {
            path: std::env::temp_dir().join("hashsweep-gone-never-existed.png"),
            kind: walk::Kind::File,
        };
        let e = examine_guarded(&f, None, &cfg());
        assert_eq!(e.record.status, record::Status::Error);
        assert_eq!(e.record.reason.as_deref(), Some("vanished during the scan"));
        assert!(e.frames.is_empty());
    }

    #[test]
    fn digests_of_a_streamed_file_are_the_known_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let e = examine_guarded(
            &walk::Found {
                path: p.clone(),
                kind: walk::Kind::File,
            },
            None,
            &cfg(),
        );
        let r = &e.record;
        assert_eq!(r.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(
            r.sha1.as_deref(),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            r.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(r.status, record::Status::Skipped);
    }
}
