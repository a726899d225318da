//! 7z with `sevenz-rust2` (pure Rust: LZMA, LZMA2, PPMd, bzip2, deflate; solid blocks
//! read in order). AES is not decrypted: its members are named and recorded as encrypted,
//! and an archive whose very listing is encrypted is refused as such.

use std::collections::HashSet;

use sevenz_rust2::{ArchiveReader, Error, Password};

use super::{Content, Expander, Meta, Src, Stop, Walk};
use crate::sources::location::Location;

/// 7-Zip's method id of AES-256 with SHA-256 key derivation.
const AES: &[u8] = &[0x06, 0xf1, 0x07, 0x01];

fn is_encryption(e: &Error) -> bool {
    matches!(e, Error::PasswordRequired | Error::MaybeBadPassword(_))
        || e.to_string().to_ascii_lowercase().contains("aes")
}

pub(super) fn walk(x: &mut Expander, loc: &Location, src: &Src, enc: &mut bool) -> Walk {
    let mut reader = match ArchiveReader::new(src.reader(), Password::empty()) {
        Ok(r) => r,
        Err(e) if is_encryption(&e) => {
            *enc = true;
            return Err(Stop::Broken(
                "encrypted (7z, names hidden): not decrypted".into(),
            ));
        }
        Err(e) => return Err(Stop::Broken(format!("not a readable 7z: {e}"))),
    };
    let archive = reader.archive().clone();
    let encrypted = archive
        .blocks
        .iter()
        .any(|b| b.coders.iter().any(|c| c.encoder_method_id() == AES));
    let meta = |f: &sevenz_rust2::ArchiveEntry| Meta {
        name: f.name().as_bytes().to_vec(),
        size: Some(f.size()),
        stored: (f.compressed_size > 0).then_some(f.compressed_size),
        mtime: f.has_last_modified_date.then(|| {
            let t: std::time::SystemTime = f.last_modified_date().into();
            crate::clock::unix_seconds(t)
        }),
    };
    let mut seen = HashSet::new();
    let mut stopped = None;
    let listing = match encrypted {
        true => Ok(()),
        false => reader.for_each_entries(|f, r| {
            if f.is_directory() {
                return Ok(true);
            }
            seen.insert(f.name().to_string());
            match x.member(loc, meta(f), r) {
                Ok(()) => Ok(true),
                Err(s) => {
                    stopped = Some(s);
                    Ok(false)
                }
            }
        }),
    };
    if let Some(s) = stopped {
        return Err(s);
    }
    // What was not read (encrypted blocks, or a block that failed) is still named.
    let why = match (&listing, encrypted) {
        (_, true) => Some((true, "encrypted (7z): not decrypted".to_string())),
        (Err(e), _) if is_encryption(e) => {
            Some((true, "encrypted (7z): not decrypted".to_string()))
        }
        (Err(e), _) => Some((
            false,
            format!("not read: the archive failed before it ({e})"),
        )),
        (Ok(()), _) => None,
    };
    if let Some((encrypted, reason)) = why {
        *enc |= encrypted;
        for f in archive.files.iter().filter(|f| !f.is_directory()) {
            if seen.contains(f.name()) {
                continue;
            }
            let content = Content::Refused {
                encrypted,
                reason: reason.clone(),
            };
            x.note(loc, meta(f), content)?;
        }
    }
    match listing {
        Err(e) if !is_encryption(&e) => Err(Stop::Broken(format!("7z stopped: {e}"))),
        _ => Ok(()),
    }
}
