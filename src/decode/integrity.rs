//! What the container says about a file the decoder accepted: cut short (a carved or
//! half-copied file, hashed from what decodes, with the rest filled in), or followed by
//! bytes that are not part of the image (a second image, a video, hidden data). Decoders
//! recover from both silently; an examiner has to know.
//!
//! Each finding is one `code: explanation` string; the code is what summaries count.

/// The findings for `bytes` (empty for a whole file, and for formats not checked here).
pub fn check(bytes: &[u8]) -> Vec<String> {
    let end = match bytes {
        [0xff, 0xd8, ..] => jpeg_end(bytes),
        [0x89, b'P', b'N', b'G', ..] => png_end(bytes),
        [b'G', b'I', b'F', b'8', ..] => gif_end(bytes),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => riff_end(bytes),
        _ => return vec![],
    };
    match end {
        End::Missing(what) => vec![format!(
            "truncated: the file ends before {what}; the hash is of what decoded"
        )],
        End::At(e) if e < bytes.len() => vec![format!(
            "trailing_data: {} bytes after the end of the image ({})",
            bytes.len() - e,
            what_trails(&bytes[e..])
        )],
        End::At(_) | End::Unknown => vec![],
    }
}

/// A guess at appended data from its well-known forms, for the examiner reading the record.
fn what_trails(t: &[u8]) -> &'static str {
    if t.ends_with(b"SEFT") {
        "a Samsung SEF trailer: camera metadata, or an embedded video"
    } else if t.starts_with(&[0xff, 0xd8]) {
        "another JPEG: a second picture (MPF) or a preview"
    } else if t.get(4..8) == Some(b"ftyp") {
        "an MP4/MOV video, as motion photos append"
    } else {
        "unknown: another file, or hidden data"
    }
}

/// The code of a finding: what summaries count.
pub fn code(finding: &str) -> &str {
    finding.split(':').next().unwrap_or(finding)
}

enum End {
    /// The image ends at this offset.
    At(usize),
    /// The file stops before this part.
    Missing(&'static str),
    /// The structure is not one this check understands; the decoder judged it.
    Unknown,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

/// Segments up to the first scan, then the end-of-image marker. Inside entropy-coded data
/// every 0xFF is followed by 0x00 or a restart marker, so FF D9 there is the real end.
fn jpeg_end(b: &[u8]) -> End {
    let mut i = 2;
    loop {
        match (b.get(i), b.get(i + 1)) {
            (Some(0xff), Some(0xff)) => i += 1, // fill byte
            (Some(0xff), Some(0xd0..=0xd8 | 0x01)) => i += 2,
            (Some(0xff), Some(0xda)) => {
                let Some(len) = be16(b, i + 2) else {
                    return End::Missing("its first scan");
                };
                i += 2 + len;
                break;
            }
            (Some(0xff), Some(_)) => match be16(b, i + 2) {
                Some(len) => i += 2 + len,
                None => return End::Missing("its first scan"),
            },
            (Some(_), Some(_)) => return End::Unknown,
            _ => return End::Missing("its first scan"),
        }
    }
    let rest = b.get(i..).unwrap_or(&[]);
    match rest.windows(2).position(|w| w == [0xff, 0xd9]) {
        Some(p) => End::At(i + p + 2),
        None => End::Missing("its end-of-image marker"),
    }
}

/// Chunks (length, type, data, CRC) up to and including IEND.
fn png_end(b: &[u8]) -> End {
    let mut i = 8;
    loop {
        let Some(len) = b
            .get(i..i + 4)
            .map(|l| u32::from_be_bytes(l.try_into().unwrap()))
        else {
            return End::Missing("its IEND chunk");
        };
        let next = i + 12 + len as usize;
        if next > b.len() {
            return End::Missing(if b.get(i + 4..i + 8) == Some(b"IEND") {
                "the end of its IEND chunk"
            } else {
                "its IEND chunk"
            });
        }
        if &b[i + 4..i + 8] == b"IEND" {
            return End::At(next);
        }
        i = next;
    }
}

/// Header, colour table, then extension and image blocks (each a chain of sub-blocks) until
/// the trailer byte.
fn gif_end(b: &[u8]) -> End {
    const MISSING: End = End::Missing("its trailer");
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        }
    };
    let Some(&flags) = b.get(10) else {
        return MISSING;
    };
    let mut i = 13 + table(flags);
    let sub_blocks = |mut i: usize| -> Option<usize> {
        loop {
            let n = usize::from(*b.get(i)?);
            i += 1 + n;
            if n == 0 {
                return Some(i);
            }
        }
    };
    loop {
        i = match b.get(i) {
            Some(0x3b) => return End::At(i + 1),
            Some(0x21) => match sub_blocks(i + 2) {
                Some(next) => next,
                None => return MISSING,
            },
            Some(0x2c) => {
                let Some(&f) = b.get(i + 9) else {
                    return MISSING;
                };
                // descriptor (10), local colour table, LZW code size (1), data
                match sub_blocks(i + 10 + table(f) + 1) {
                    Some(next) => next,
                    None => return MISSING,
                }
            }
            Some(_) => return End::Unknown,
            None => return MISSING,
        };
    }
}

/// RIFF's own length field.
fn riff_end(b: &[u8]) -> End {
    let len = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
    // Chunks are padded to even sizes; writers differ on counting the pad.
    let end = 8 + len + (len & 1);
    if 8 + len > b.len() {
        End::Missing("the length its RIFF header gives")
    } else {
        End::At(end.min(b.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(format: image::ImageFormat) -> Vec<u8> {
        let img = image::RgbImage::from_fn(400, 300, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 7) as u8, ((x * y) % 251) as u8])
        });
        let mut out = std::io::Cursor::new(vec![]);
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn whole_files_pass_and_cut_or_padded_ones_are_named() {
        use image::ImageFormat::*;
        for format in [Jpeg, Png, Gif, WebP] {
            let whole = encode(format);
            assert_eq!(check(&whole), Vec::<String>::new(), "{format:?}");
            let cut = &whole[..whole.len() - 3];
            assert_eq!(check(cut).len(), 1, "{format:?}");
            assert_eq!(code(&check(cut)[0]), "truncated", "{format:?}");
            let mut padded = whole.clone();
            padded.extend_from_slice(b"appended!!");
            let found = check(&padded);
            assert_eq!(found.len(), 1, "{format:?}");
            assert_eq!(code(&found[0]), "trailing_data", "{format:?}");
            assert!(found[0].contains("10 bytes"), "{format:?}: {}", found[0]);
        }
    }

    #[test]
    fn a_jpeg_cut_in_its_scan_is_truncated() {
        let whole = encode(image::ImageFormat::Jpeg);
        let half = &whole[..whole.len() * 6 / 10];
        let found = check(half);
        assert!(
            found[0].starts_with("truncated: the file ends before its end-of-image"),
            "{found:?}"
        );
    }
}
