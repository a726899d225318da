//! Compressed streams: gzip (`flate2`, every member of a multi-member file), bzip2
//! (`bzip2`, pure Rust), xz (`lzma-rust2`, pure Rust) and zstd (`zstd`, bundled C). A
//! stream that holds a TAR is one container (`a.tar.gz!x/y.jpg`); any other holds one
//! member, named from the gzip header or after the file without its suffix.

use std::io::{BufReader, Read};

use super::{Expander, HEAD, Kind, Meta, Src, Stop, Walk};
use crate::sources::location::{Location, Step};

pub(super) fn walk(x: &mut Expander, loc: &Location, src: &Src, kind: Kind) -> (String, Walk) {
    let mut gz_name = None;
    let raw = BufReader::with_capacity(1 << 16, src.reader());
    let reader: Result<Box<dyn Read>, String> = match kind {
        Kind::Gzip => {
            let d = flate2::bufread::MultiGzDecoder::new(raw);
            gz_name = d.header().and_then(|h| h.filename()).map(<[u8]>::to_vec);
            Ok(Box::new(d))
        }
        Kind::Bzip2 => Ok(Box::new(bzip2::bufread::MultiBzDecoder::new(raw))),
        Kind::Xz => Ok(Box::new(lzma_rust2::XzReader::new(raw, true))),
        _ => zstd::stream::read::Decoder::with_buffer(raw)
            .map(|d| Box::new(d) as Box<dyn Read>)
            .map_err(|e| e.to_string()),
    };
    let name = kind.name();
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => {
            return (
                name.into(),
                Err(Stop::Broken(format!("not a readable {name} stream: {e}"))),
            );
        }
    };
    let mut head = vec![];
    if let Err(e) = (&mut reader).take(HEAD as u64).read_to_end(&mut head) {
        return (
            name.into(),
            Err(Stop::Broken(format!("not a readable {name} stream: {e}"))),
        );
    }
    let mut whole = std::io::Cursor::new(head.clone()).chain(reader);
    let suffix = match kind {
        Kind::Gzip => "gz",
        Kind::Bzip2 => "bz2",
        Kind::Xz => "xz",
        _ => "zst",
    };
    if super::tar::is_header(&head) {
        return (format!("tar.{suffix}"), super::tar::walk(x, loc, whole));
    }
    let meta = Meta {
        name: gz_name.unwrap_or_else(|| inner_name(loc, suffix)),
        size: None,
        stored: Some(src.len()),
        mtime: None,
    };
    (name.into(), x.member(loc, meta, &mut whole))
}

/// `photo.jpg.gz` holds `photo.jpg`; a name without the suffix holds itself with `.out`.
fn inner_name(loc: &Location, suffix: &str) -> Vec<u8> {
    let last = match loc.steps.last() {
        Some(Step::Member(n)) => n.clone(),
        _ => loc
            .outer
            .file_name()
            .map(|n| n.as_encoded_bytes().to_vec())
            .unwrap_or_default(),
    };
    let name = last.rsplit(|&b| b == b'/').next().unwrap_or(&last).to_vec();
    let dotted = format!(".{suffix}");
    match name.strip_suffix(dotted.as_bytes()) {
        Some(stem) if !stem.is_empty() => stem.to_vec(),
        _ if name.ends_with(b".tgz") => [&name[..name.len() - 4], b".tar"].concat(),
        _ => [&name[..], b".out"].concat(),
    }
}
