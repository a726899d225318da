//! The reading side of a scan: one file read (type by content, digests streamed) and, for
//! an image, decoded; every outcome, a panic included, becomes that file's record.

use std::io::Read;
use std::path::Path;

use md5::Digest;

use super::record::{FileRecord, Status};
use super::{Digests, Examined, ScanConfig, video};
use crate::decode::sniff::{self, Detected};
use crate::decode::{self, Head};
use crate::frame::Frame;
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
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| examine(f, head, cfg))).unwrap_or_else(
        |_| {
            let mut record = FileRecord::new(&f.path, None);
            record.set(
                Status::Error,
                "internal error while reading this file (caught)",
            );
            Examined {
                record,
                frames: vec![],
                trimmed: None,
                video: None,
                hold: Default::default(),
            }
        },
    )
}

fn examine(f: &walk::Found, head: Option<Head>, cfg: &ScanConfig) -> Examined {
    let skipped = |record: &mut FileRecord, why: &str| record.set(Status::Skipped, why);
    let error = |record: &mut FileRecord, why: String| record.set(Status::Error, why);
    let meta = std::fs::symlink_metadata(&f.path).ok();
    let mut record = FileRecord::new(&f.path, meta.as_ref());
    let ex = |record: FileRecord, frame: Option<Frame>| Examined {
        record,
        frames: frame.into_iter().collect(),
        trimmed: None,
        video: None,
        hold: Default::default(),
    };
    match f.kind {
        walk::Kind::Special => {
            skipped(
                &mut record,
                "special file (FIFO, socket or device): not read",
            );
            return ex(record, None);
        }
        walk::Kind::Link => {
            skipped(
                &mut record,
                "symbolic link: not followed (--follow-symlinks)",
            );
            return ex(record, None);
        }
        walk::Kind::File => {}
    }
    let (kind, bytes) = match read(&f.path, head, cfg.digests) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            error(&mut record, "vanished during the scan".into());
            return ex(record, None);
        }
        Err(e) => {
            error(&mut record, format!("read failed: {e}"));
            return ex(record, None);
        }
    };
    record.bytes_read = bytes.len;
    for (name, hex) in bytes.digests {
        match name {
            "md5" => record.md5 = Some(hex),
            "sha1" => record.sha1 = Some(hex),
            _ => record.sha256 = Some(hex),
        }
    }
    if bytes.len == 0 {
        error(&mut record, "empty file".into());
        return ex(record, None);
    }
    record.format = Some(sniff::name(kind));
    if let (true, None) = (kind.is_picture(), &bytes.whole) {
        error(
            &mut record,
            format!("image file over {} bytes: not decoded", MAX_IMAGE_BYTES),
        );
        return ex(record, None);
    }
    let bytes = bytes.whole.unwrap_or_default();
    match kind {
        Detected::Image(_) | Detected::Heif(_) => match decode::decode_bytes(&bytes, &cfg.decode) {
            Ok(d) => {
                record.width = Some(d.width);
                record.height = Some(d.height);
                record.status = Status::Ok;
                record.warnings = d.warnings;
                let mut e = ex(record, Some(d.frame));
                if let Some((region, part)) = d.trimmed {
                    e.trimmed = Some(region);
                    e.frames.push(part);
                }
                if cfg.all_frames {
                    add_frames(&mut e, &bytes, cfg);
                }
                e
            }
            Err(e) => {
                error(&mut record, e.to_string());
                ex(record, None)
            }
        },
        Detected::Video(_) => video::examine(record, &f.path, cfg),
        Detected::Other(_) | Detected::Unknown => {
            skipped(&mut record, "not an image");
            ex(record, None)
        }
    }
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
    digests: Vec<(&'static str, String)>,
    whole: Option<Vec<u8>>,
}

fn read(p: &Path, head: Option<Head>, d: Digests) -> std::io::Result<(Detected, Contents)> {
    let Head {
        file: mut f,
        bytes: head,
    } = match head {
        Some(h) => h,
        None => Head::open(p)?,
    };
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

/// The requested digests, fed as the file streams past.
struct Digesters {
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
}

impl Digesters {
    fn new(d: Digests) -> Digesters {
        Digesters {
            md5: d.md5.then(md5::Md5::new),
            sha1: d.sha1.then(sha1::Sha1::new),
            sha256: d.sha256.then(sha2::Sha256::new),
        }
    }

    fn any(&self) -> bool {
        self.md5.is_some() || self.sha1.is_some() || self.sha256.is_some()
    }

    fn update(&mut self, b: &[u8]) {
        self.md5.iter_mut().for_each(|h| h.update(b));
        self.sha1.iter_mut().for_each(|h| h.update(b));
        self.sha256.iter_mut().for_each(|h| h.update(b));
    }

    fn finish(self) -> Vec<(&'static str, String)> {
        use crate::hash::hex;
        let mut out = vec![];
        if let Some(h) = self.md5 {
            out.push(("md5", hex(&h.finalize())));
        }
        if let Some(h) = self.sha1 {
            out.push(("sha1", hex(&h.finalize())));
        }
        if let Some(h) = self.sha256 {
            out.push(("sha256", hex(&h.finalize())));
        }
        out
    }
}
