//! TAR with the `tar` crate (ustar, pax and GNU long names, sparse members), read as a
//! stream: plain, or from inside a compressed stream (`stream`).

use std::io::Read;

use super::{Content, Expander, Meta, Stop, Walk};
use crate::sources::location::Location;

/// Whether `head` starts with a TAR header: the ustar magic, or (old V7 archives) a header
/// whose checksum adds up.
pub(super) fn is_header(head: &[u8]) -> bool {
    let Some(h) = head.get(..512) else {
        return false;
    };
    if &h[257..262] == b"ustar" {
        return true;
    }
    let field = std::str::from_utf8(&h[148..156]).unwrap_or("");
    let Ok(said) = u32::from_str_radix(field.trim_matches(|c: char| c == ' ' || c == '\0'), 8)
    else {
        return false;
    };
    let sum: u32 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    h[0] != 0 && sum == said
}

pub(super) fn walk(x: &mut Expander, loc: &Location, r: impl Read) -> Walk {
    let mut ar = tar::Archive::new(r);
    let entries = ar
        .entries()
        .map_err(|e| Stop::Broken(format!("not a readable TAR: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| Stop::Broken(format!("stopped at a damaged header: {e}")))?;
        let h = entry.header();
        let t = h.entry_type();
        let meta = Meta {
            name: entry.path_bytes().into_owned(),
            size: Some(entry.size()),
            stored: None,
            mtime: h.mtime().ok().map(|s| s as f64),
        };
        if t.is_dir()
            || t.is_pax_global_extensions()
            || t.is_pax_local_extensions()
            || t.is_gnu_longname()
            || t.is_gnu_longlink()
        {
            continue;
        }
        if t.is_symlink() || t.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            let why = format!("link inside the archive (to {target}): not followed");
            x.note(loc, meta, Content::Skipped(why))?;
            continue;
        }
        if !(t.is_file() || t.is_contiguous() || t.is_gnu_sparse()) {
            let why = "special file inside the archive (device or FIFO): nothing to read";
            x.note(loc, meta, Content::Skipped(why.into()))?;
            continue;
        }
        x.member(loc, meta, &mut entry)?;
    }
    Ok(())
}
