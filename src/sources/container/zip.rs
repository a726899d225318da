//! ZIP (and the documents that are ZIPs: OOXML, ODF, EPUB) with the `zip` crate: stored,
//! deflate, deflate64, bzip2, lzma, xz and zstd members, ZIP64. The central directory
//! lists the members; most are handed on unread (`Member`), to be inflated by the hashing
//! workers in parallel. An archive whose central directory is damaged is salvaged from its
//! local headers, read in order.

use std::io::Read;

use ::zip::ZipArchive;
use ::zip::read::read_zipfile_from_stream;

use super::{
    Content, ENTRY_FLOOR, Expander, HEAD, Meta, Src, SrcReader, Stop, Walk, civil_seconds, detect,
};
use crate::sources::location::Location;

/// A ZIP member not read yet: whoever hashes it reads it.
pub struct Member {
    archive: ZipArchive<SrcReader>,
    index: usize,
    /// Its declared size: reading stops past it.
    size: u64,
}

impl Member {
    /// The member's bytes (the CRC checked at the end).
    pub fn read(mut self) -> Result<Vec<u8>, String> {
        let f = self
            .archive
            .by_index(self.index)
            .map_err(|e| format!("member unreadable: {e}"))?;
        let mut out = Vec::with_capacity(self.size.min(1 << 30) as usize);
        f.take(self.size.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| format!("member unreadable: {e}"))?;
        if out.len() as u64 > self.size {
            return Err(format!(
                "member longer than the {} bytes its header says: not read",
                self.size
            ));
        }
        Ok(out)
    }

    /// Bytes it will take in memory.
    pub fn size(&self) -> u64 {
        self.size
    }
}

pub(super) fn walk(x: &mut Expander, loc: &Location, src: &Src, enc: &mut bool) -> (String, Walk) {
    match ZipArchive::new(src.reader()) {
        Ok(ar) => {
            let format = document_kind(&ar).unwrap_or("zip").to_string();
            (format, listed(x, loc, ar, enc))
        }
        Err(e) => ("zip".to_string(), salvage(x, loc, src, &e.to_string(), enc)),
    }
}

/// OOXML, ODF and EPUB files are ZIPs; their records say which.
fn document_kind(ar: &ZipArchive<SrcReader>) -> Option<&'static str> {
    let names: Vec<&str> = ar.file_names().collect();
    if names.contains(&"[Content_Types].xml") {
        for (dir, kind) in [("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")] {
            if names.iter().any(|n| n.starts_with(dir)) {
                return Some(kind);
            }
        }
        return Some("ooxml");
    }
    let i = ar.index_for_name("mimetype")?;
    let mut ar = ar.clone();
    let mut text = String::new();
    ar.by_index(i)
        .ok()?
        .take(100)
        .read_to_string(&mut text)
        .ok()?;
    let kind = match text.trim() {
        "application/epub+zip" => "epub",
        "application/vnd.oasis.opendocument.text" => "odt",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        "application/vnd.oasis.opendocument.presentation" => "odp",
        "application/vnd.oasis.opendocument.graphics" => "odg",
        t if t.starts_with("application/vnd.oasis.opendocument.") => "odf",
        _ => return None,
    };
    Some(kind)
}

fn mtime(t: Option<::zip::DateTime>) -> Option<f64> {
    let t = t?;
    civil_seconds(
        i64::from(t.year()),
        u32::from(t.month()),
        u32::from(t.day()),
        u32::from(t.hour()),
        u32::from(t.minute()),
        u32::from(t.second()),
    )
}

fn listed(x: &mut Expander, loc: &Location, mut ar: ZipArchive<SrcReader>, enc: &mut bool) -> Walk {
    for index in 0..ar.len() {
        let (meta, encrypted, dir, link) = match ar.by_index_raw(index) {
            Ok(f) => (
                Meta {
                    name: f.name_raw().to_vec(),
                    size: Some(f.size()),
                    stored: Some(f.compressed_size()),
                    mtime: mtime(f.last_modified()),
                },
                f.encrypted(),
                f.is_dir(),
                f.is_symlink(),
            ),
            Err(e) => return Err(Stop::Broken(format!("member {index} unreadable: {e}"))),
        };
        if dir {
            continue;
        }
        if encrypted {
            *enc = true;
            x.note(loc, meta, refused(true, "encrypted (ZIP): not decrypted"))?;
            continue;
        }
        if link {
            let why = "symbolic link inside the archive: not followed";
            x.note(loc, meta, Content::Skipped(why.into()))?;
            continue;
        }
        one(x, loc, &mut ar, index, meta)?;
    }
    Ok(())
}

fn refused(encrypted: bool, reason: &str) -> Content {
    Content::Refused {
        encrypted,
        reason: reason.to_string(),
    }
}

/// One member: refused on its declared sizes, read here when it is large or a container,
/// or handed on unread.
fn one(
    x: &mut Expander,
    loc: &Location,
    ar: &mut ZipArchive<SrcReader>,
    index: usize,
    meta: Meta,
) -> Walk {
    let (size, stored) = (meta.size.unwrap_or(0), meta.stored.unwrap_or(0));
    let r = x.limits.max_ratio;
    if r > 0 && size > ENTRY_FLOOR && size > stored.saturating_mul(r) {
        let why = format!(
            "member declares {size} bytes from {stored} stored (over {r}:1): not read, a likely decompression bomb (--max-ratio)"
        );
        return x.note(loc, meta, refused(false, &why));
    }
    let mut file = match ar.by_index(index) {
        Ok(f) => f,
        Err(e) => {
            return x.note(
                loc,
                meta,
                refused(false, &format!("member unreadable: {e}")),
            );
        }
    };
    let mut head = vec![];
    if let Err(e) = (&mut file).take(HEAD as u64).read_to_end(&mut head) {
        return x.note(
            loc,
            meta,
            refused(false, &format!("member unreadable: {e}")),
        );
    }
    if size > x.limits.max_held || detect(&head).is_some() {
        let mut rest = std::io::Cursor::new(head).chain(file);
        return x.member(loc, meta, &mut rest);
    }
    drop(file);
    if let Err(super::Refusal::Bomb(why)) = x.spend(size, size, Some(stored)) {
        return x.note(loc, meta, refused(false, &why));
    }
    let member = Member {
        archive: ar.clone(),
        index,
        size,
    };
    x.note(loc, meta, Content::Member(member))
}

/// A ZIP whose central directory cannot be read: its members from their local headers, in
/// order, until one does not parse. Always ends in an error saying so.
fn salvage(x: &mut Expander, loc: &Location, src: &Src, why: &str, enc: &mut bool) -> Walk {
    let mut r = std::io::BufReader::new(src.reader());
    let mut found = 0;
    let end = loop {
        let mut f = match read_zipfile_from_stream(&mut r) {
            Ok(Some(f)) => f,
            Ok(None) => break "the local headers end cleanly".to_string(),
            Err(e) => break format!("stopped at a damaged local header: {e}"),
        };
        found += 1;
        let meta = Meta {
            name: f.name_raw().to_vec(),
            size: Some(f.size()),
            stored: Some(f.compressed_size()),
            mtime: mtime(f.last_modified()),
        };
        if f.is_dir() {
            continue;
        }
        if f.encrypted() {
            *enc = true;
            x.note(loc, meta, refused(true, "encrypted (ZIP): not decrypted"))?;
            continue;
        }
        match x.member(loc, meta, &mut f) {
            Err(Stop::Broken(e)) => break e,
            other => other?,
        }
    };
    Err(Stop::Broken(format!(
        "central directory unreadable ({why}); {found} members salvaged from their local headers, {end}"
    )))
}
