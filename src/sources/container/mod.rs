//! Files that hold others: archives (ZIP, TAR, 7z, RAR), compressed streams (gzip, bzip2,
//! xz, zstd), documents (OOXML, ODF and EPUB are ZIPs; PDF) and, one level down, JPEG
//! thumbnails (`thumbnail`). Each container is recognised by content, listed by the reader
//! of its format, and every member handed on as an `Entry` named by its `Location`;
//! a member that is itself a container is opened in turn, to `Limits::max_depth`.
//!
//! One `Expander` walks one container on disk on one thread (streamed formats cannot be
//! read any other way): members are read into memory within the limits, never written to
//! disk, and handed to whoever hashes them. ZIP members are the exception: the listing
//! hands on a `Member` that the hashing workers read themselves, all at once.
//!
//! Decompression bombs end in error entries: a member that grows past `ENTRY_FLOOR` and
//! past `max_ratio` times its stored size, or a container whose members together grow past
//! `max_ratio` times its own size (and `TOTAL_FLOOR`), is not read further.

pub mod disk;
mod pdf;
mod rar;
mod read;
mod sevenz;
mod src;
mod stream;
mod tar;
pub mod thumbnail;
mod time;
mod zip;

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use super::digest::{Digesters, Digests, Hexes};
use super::location::{Location, Step};
use super::spool::Spool;
use crate::decode::sniff;
use crate::frame::Frame;
use read::{Read_, Refusal, too_large};

pub use src::{Src, SrcReader};
pub use time::{civil_seconds, dos_seconds};
pub use zip::Member;

/// What a file that holds others is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    SevenZ,
    Rar,
    Pdf,
    /// An EnCase (EWF) disk image.
    Ewf,
    /// A raw disk image (or the first of its split segments).
    Raw,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::Gzip => "gzip",
            Kind::Bzip2 => "bzip2",
            Kind::Xz => "xz",
            Kind::Zstd => "zstd",
            Kind::SevenZ => "7z",
            Kind::Rar => "rar",
            Kind::Pdf => "pdf",
            Kind::Ewf => "e01",
            Kind::Raw => "raw",
        }
    }
}

/// Bytes `detect` needs to see (an ext superblock ends at 2048).
pub const HEAD: usize = disk::HEAD;

/// The container `head` (a file's first bytes) starts, by content alone.
pub fn detect(head: &[u8]) -> Option<Kind> {
    let at = |i: usize, m: &[u8]| head.get(i..i + m.len()) == Some(m);
    let kind = match () {
        // An empty ZIP is only its end record.
        _ if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") => Kind::Zip,
        _ if at(0, b"\x1f\x8b\x08") => Kind::Gzip,
        _ if at(0, b"BZh") && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d)) => Kind::Bzip2,
        _ if at(0, b"\xfd7zXZ\0") => Kind::Xz,
        _ if at(0, b"\x28\xb5\x2f\xfd") => Kind::Zstd,
        _ if at(0, b"7z\xbc\xaf\x27\x1c") => Kind::SevenZ,
        _ if at(0, b"Rar!\x1a\x07") => Kind::Rar,
        _ if at(0, b"%PDF-") => Kind::Pdf,
        _ if tar::is_header(head) => Kind::Tar,
        _ => return disk::detect(head),
    };
    Some(kind)
}

/// The container a file on disk is, by its first bytes; `None` for any other file or one
/// that cannot be read.
pub fn detect_file(path: &Path) -> Option<Kind> {
    let mut head = Vec::with_capacity(HEAD);
    let f = File::open(path).ok()?;
    f.take(HEAD as u64).read_to_end(&mut head).ok()?;
    detect(&head)
}

/// How far containers are opened.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Steps from the file on disk to the deepest member opened (`--max-depth`).
    pub max_depth: usize,
    /// Bytes out per byte in, past the floors, before reading stops (`--max-ratio`; 0: no
    /// limit).
    pub max_ratio: u64,
    /// A member larger than this is streamed for its digests, not held (nor decoded).
    pub max_held: u64,
    /// Inner containers held in memory at once, along one chain of nesting.
    pub max_nested: u64,
    /// `--carve`: pictures are carved from disk images' free space (and from disks whose
    /// filesystem is not recognised).
    pub carve: bool,
}

/// A member may grow this far whatever its ratio: honest files compress well too.
pub const ENTRY_FLOOR: u64 = 64 << 20;
/// A container's members may grow this far in all whatever the container's size.
pub const TOTAL_FLOOR: u64 = 1 << 30;
pub const DEFAULT_MAX_DEPTH: usize = 8;
pub const DEFAULT_MAX_RATIO: u64 = 250;

impl Limits {
    /// The defaults within a memory budget of `max_memory` bytes.
    pub fn within(max_memory: u64) -> Limits {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_ratio: DEFAULT_MAX_RATIO,
            max_held: (max_memory / 4).clamp(1 << 20, 1 << 30),
            max_nested: (max_memory / 2).max(1 << 20),
            carve: false,
        }
    }
}

/// One member of a container, or a container finished.
pub struct Entry {
    pub location: Location,
    /// The member's own size, when known.
    pub size: Option<u64>,
    pub mtime: Option<f64>,
    pub content: Content,
    /// Where a file in a disk image's filesystem lies, and its times as stored there.
    pub fs: Option<Box<disk::FsFacts>>,
}

pub enum Content {
    /// The member's bytes.
    Bytes(Vec<u8>),
    /// A ZIP member, read by whoever takes it (in parallel with others).
    Member(Member),
    /// A picture stored as pixels (a PDF's Flate image): its stored bytes, for digests,
    /// and the pixels, or why they could not be had.
    Pixels {
        stored: Vec<u8>,
        frame: Result<Frame, String>,
    },
    /// Too large to hold: streamed for its digests only. `format` is what its first bytes
    /// say, `reason` why it was not opened or decoded.
    Streamed {
        len: u64,
        digests: Hexes,
        format: String,
        reason: String,
    },
    /// A video too large to hold, spooled to a private temporary file for FFmpeg (see
    /// `sources::spool`); its lister waits until the spool is dropped.
    Spooled {
        spool: Spool,
        digests: Hexes,
        format: String,
    },
    /// Not read: encrypted, damaged, or refused by the limits.
    Refused { encrypted: bool, reason: String },
    /// A file in a disk image's filesystem, read by whoever takes it.
    Disk(disk::DiskFile),
    /// A volume of a disk image, after all its files (its own record).
    Volume(disk::VolumeFacts),
    /// Nothing to read: a link or a device node inside an archive.
    Skipped(String),
    /// A container whose members were all handed on before this (its own record).
    Opened(Opened),
}

pub struct Opened {
    /// `zip`, `tar.gz`, `docx`, `pdf`, ...
    pub format: String,
    /// Why listing stopped early, if it did (members found before it were handed on).
    pub error: Option<String>,
    /// Members found encrypted.
    pub encrypted: bool,
    pub digests: Hexes,
}

/// What a reader learns of a member before reading it.
pub struct Meta {
    pub name: Vec<u8>,
    pub size: Option<u64>,
    /// Bytes the member takes in its container, when the format says.
    pub stored: Option<u64>,
    pub mtime: Option<f64>,
}

/// Walks one container on disk and everything inside it, handing each entry to `emit`.
pub struct Expander<'a> {
    pub limits: Limits,
    pub digests: Digests,
    /// Entries already recorded by an earlier run: not handed on again (nor opened, for a
    /// container whose own record exists, since its record follows all its members).
    pub done: &'a (dyn Fn(&Location) -> bool + Sync),
    /// Takes an entry; false when the taker has gone (the walk then stops).
    pub emit: &'a mut dyn FnMut(Entry) -> bool,
    /// Bytes the container's members may grow to in all, and what they have so far.
    allowance: u64,
    spent: u64,
    /// Inner containers held in memory now.
    nested: u64,
    /// The taker has gone.
    gone: bool,
}

/// Why a walk stopped inside a container.
enum Stop {
    /// The taker has gone: nothing more is wanted.
    Gone,
    /// The container could not be read further.
    Broken(String),
}

type Walk = Result<(), Stop>;

impl<'a> Expander<'a> {
    pub fn new(
        limits: Limits,
        digests: Digests,
        done: &'a (dyn Fn(&Location) -> bool + Sync),
        emit: &'a mut dyn FnMut(Entry) -> bool,
    ) -> Expander<'a> {
        Expander {
            limits,
            digests,
            done,
            emit,
            allowance: 0,
            spent: 0,
            nested: 0,
            gone: false,
        }
    }

    /// Open the container `path` (of kind `kind`) and hand on all it holds, then its own
    /// entry (`Content::Opened`). False when the taker went away before the end.
    pub fn file(&mut self, path: &Path, kind: Kind) -> bool {
        let loc = Location::file(path);
        let meta = std::fs::metadata(path).ok();
        let opened =
            File::open(path).map(|f| Src::File(Arc::new(f), meta.as_ref().map_or(0, |m| m.len())));
        let src = match opened {
            Ok(s) => s,
            Err(e) => {
                return self.send(Entry {
                    location: loc,
                    size: None,
                    mtime: None,
                    content: Content::Refused {
                        encrypted: false,
                        reason: format!("read failed: {e}"),
                    },
                    fs: None,
                });
            }
        };
        let ratio = self.limits.max_ratio;
        self.allowance = match ratio {
            0 => u64::MAX,
            r => src.len().saturating_mul(r).max(TOTAL_FLOOR),
        };
        self.spent = 0;
        let mtime = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .map(crate::clock::unix_seconds);
        let (format, result, encrypted) = self.open(&loc, &src, kind);
        if self.gone {
            return false;
        }
        // A disk image's own digests would cost a second read of the whole disk:
        // `--verify-image` checks what the image stores instead.
        let whole = !matches!(kind, Kind::Ewf | Kind::Raw);
        let digests = match whole && (self.digests.md5 || self.digests.sha1 || self.digests.sha256)
        {
            true => digest_src(&src, self.digests),
            false => Ok(vec![]),
        };
        let (digests, error) = match (digests, result) {
            (Ok(d), r) => (d, r.err()),
            (Err(e), r) => (vec![], Some(r.err().unwrap_or(format!("read failed: {e}")))),
        };
        self.send(Entry {
            location: loc,
            size: Some(src.len()),
            mtime,
            content: Content::Opened(Opened {
                format,
                error,
                encrypted,
                digests,
            }),
            fs: None,
        })
    }

    fn send(&mut self, e: Entry) -> bool {
        if !self.gone && !(self.emit)(e) {
            self.gone = true;
        }
        !self.gone
    }

    /// List one container: its format's name, why listing stopped early (if it did), and
    /// whether encrypted members were found.
    fn open(
        &mut self,
        loc: &Location,
        src: &Src,
        kind: Kind,
    ) -> (String, Result<(), String>, bool) {
        let mut enc = false;
        let (format, walk) = match kind {
            Kind::Zip => zip::walk(self, loc, src, &mut enc),
            Kind::Tar => ("tar".to_string(), tar::walk(self, loc, src.reader())),
            Kind::Gzip | Kind::Bzip2 | Kind::Xz | Kind::Zstd => stream::walk(self, loc, src, kind),
            Kind::SevenZ => ("7z".to_string(), sevenz::walk(self, loc, src, &mut enc)),
            Kind::Rar => ("rar".to_string(), rar::walk(self, loc, src, &mut enc)),
            Kind::Pdf => ("pdf".to_string(), pdf::walk(self, loc, src, &mut enc)),
            Kind::Ewf | Kind::Raw => disk::walk(self, loc, src, kind),
        };
        let result = match walk {
            Ok(()) => Ok(()),
            Err(Stop::Gone) => {
                self.gone = true;
                Ok(())
            }
            Err(Stop::Broken(why)) => Err(why),
        };
        (format, result, enc)
    }

    /// Hand on one member read from `r`: held whole within the limits (an inner container
    /// opened in turn), or streamed for its digests when larger.
    fn member(&mut self, parent: &Location, meta: Meta, r: &mut dyn Read) -> Walk {
        let location = parent.join(Step::Member(meta.name.clone()));
        self.member_at(location, meta, None, r)
    }

    /// `member` for an entry at `location` (a file in a disk image's volume, say).
    fn member_at(
        &mut self,
        location: Location,
        meta: Meta,
        fs: Option<Box<disk::FsFacts>>,
        r: &mut dyn Read,
    ) -> Walk {
        if (self.done)(&location) {
            return Ok(());
        }
        let entry = |content| Entry {
            location: location.clone(),
            size: meta.size,
            mtime: meta.mtime,
            content,
            fs: fs.clone(),
        };
        let bytes = match self.read_member(r, meta.stored) {
            Ok(Read_::Whole(b)) => b,
            Ok(Read_::Spooled {
                spool,
                wait,
                digests,
                head,
            }) => {
                let format = sniff::name(sniff::detect(&head));
                self.sent(entry(Content::Spooled {
                    spool,
                    digests,
                    format,
                }))?;
                // One large spool on disk at a time: the next waits until this one is
                // decoded (the taker never waits on the lister while holding it).
                let _ = wait.recv();
                return Ok(());
            }
            Ok(Read_::Streamed {
                len,
                digests,
                head,
                failed,
            }) => {
                let (format, mut reason) = too_large(&head, len, self.limits.max_held);
                if let Some(why) = failed {
                    reason = format!(
                        "{format} of {len} bytes inside a container: could not be spooled to a temporary file ({why}): not decoded"
                    );
                }
                return self.sent(entry(Content::Streamed {
                    len,
                    digests,
                    format,
                    reason,
                }));
            }
            Err(Refusal::Bomb(why)) => {
                return self.sent(entry(Content::Refused {
                    encrypted: false,
                    reason: why,
                }));
            }
            Err(Refusal::Io(e)) => {
                self.sent(entry(Content::Refused {
                    encrypted: false,
                    reason: format!("member unreadable: {e}"),
                }))?;
                // A stream that failed mid-member cannot be read past it.
                return Err(Stop::Broken(format!("stopped at a damaged member: {e}")));
            }
        };
        self.bytes(location, meta.size, meta.mtime, fs, bytes)
    }

    /// Hand on a member held in memory, opening it when it is a container.
    fn bytes(
        &mut self,
        location: Location,
        size: Option<u64>,
        mtime: Option<f64>,
        fs: Option<Box<disk::FsFacts>>,
        bytes: Vec<u8>,
    ) -> Walk {
        let own = size.unwrap_or(bytes.len() as u64);
        let entry = |location, content| Entry {
            location,
            size: Some(own),
            mtime,
            content,
            fs: fs.clone(),
        };
        let Some(kind) = detect(&bytes[..bytes.len().min(HEAD)]) else {
            let e = entry(location, Content::Bytes(bytes));
            return self.sent(e);
        };
        let depth = location.steps.len();
        let len = bytes.len() as u64;
        let refuse = if depth >= self.limits.max_depth {
            Some(format!(
                "{} nested {depth} deep, past --max-depth {}: not opened",
                kind.name(),
                self.limits.max_depth
            ))
        } else if self.nested + len > self.limits.max_nested {
            Some(format!(
                "inner {} of {len} bytes: over the memory left for inner containers (--max-memory): not opened",
                kind.name()
            ))
        } else {
            None
        };
        if let Some(reason) = refuse {
            let digests = Digesters::of(self.digests, &bytes);
            let format = kind.name().to_string();
            return self.sent(entry(
                location,
                Content::Streamed {
                    len,
                    digests,
                    format,
                    reason,
                },
            ));
        }
        let digests = Digesters::of(self.digests, &bytes);
        let src = Src::Bytes(Arc::new(bytes));
        self.nested += len;
        let (format, result, encrypted) = self.open(&location, &src, kind);
        self.nested -= len;
        if self.gone {
            return Err(Stop::Gone);
        }
        self.sent(Entry {
            location,
            size: Some(size.unwrap_or(len)),
            mtime,
            content: Content::Opened(Opened {
                format,
                error: result.err(),
                encrypted,
                digests,
            }),
            fs,
        })
    }

    fn sent(&mut self, e: Entry) -> Walk {
        match self.send(e) {
            true => Ok(()),
            false => Err(Stop::Gone),
        }
    }

    /// Hand on an entry that is not read (encrypted, refused, a link).
    fn note(&mut self, parent: &Location, meta: Meta, content: Content) -> Walk {
        let location = parent.join(Step::Member(meta.name));
        self.note_at(location, meta.size, meta.mtime, None, content)
    }

    /// `note` for an entry at `location`.
    fn note_at(
        &mut self,
        location: Location,
        size: Option<u64>,
        mtime: Option<f64>,
        fs: Option<Box<disk::FsFacts>>,
        content: Content,
    ) -> Walk {
        if (self.done)(&location) {
            return Ok(());
        }
        self.sent(Entry {
            location,
            size,
            mtime,
            content,
            fs,
        })
    }
}

/// The digests of a whole container on disk (or in memory).
fn digest_src(src: &Src, d: Digests) -> std::io::Result<Hexes> {
    let mut h = Digesters::new(d);
    let mut r = src.reader();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_known_by_their_first_bytes() {
        assert_eq!(detect(b"PK\x03\x04rest"), Some(Kind::Zip));
        assert_eq!(detect(b"\x1f\x8b\x08\0"), Some(Kind::Gzip));
        assert_eq!(detect(b"BZh91AY&SY"), Some(Kind::Bzip2));
        assert_eq!(detect(b"\xfd7zXZ\0\0"), Some(Kind::Xz));
        assert_eq!(detect(b"\x28\xb5\x2f\xfd\x24"), Some(Kind::Zstd));
        assert_eq!(detect(b"7z\xbc\xaf\x27\x1c\0\x04"), Some(Kind::SevenZ));
        assert_eq!(detect(b"Rar!\x1a\x07\x01\0"), Some(Kind::Rar));
        assert_eq!(detect(b"%PDF-1.4"), Some(Kind::Pdf));
        assert_eq!(detect(b"\xff\xd8\xff\xe0"), None);
        assert_eq!(detect(b"BZh0"), None);
    }
}
