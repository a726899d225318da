//! The small pictures a JPEG carries beside itself: the EXIF thumbnail (a JPEG in IFD1,
//! read with `kamadak-exif`) and the JFIF ones (RGB pixels in APP0, or a JPEG in a JFXX
//! extension). A camera writes its thumbnail when the photo is taken; an edit that
//! forgets to rewrite it leaves the picture as it was, which is why each gets a record.

use std::io::Cursor;

use crate::frame::Frame;

/// One thumbnail: a JPEG stream, or pixels.
pub enum Thumbnail {
    Jpeg(Vec<u8>),
    Pixels { stored: Vec<u8>, frame: Frame },
}

/// The thumbnails of a JPEG, each with the name of its step (`thumbnail` for EXIF's,
/// `jfif-thumbnail` for JFIF's).
pub fn of_jpeg(bytes: &[u8]) -> Vec<(&'static str, Thumbnail)> {
    let mut out = vec![];
    if let Some(t) = exif(bytes) {
        out.push(("thumbnail", Thumbnail::Jpeg(t)));
    }
    if let Some(t) = jfif(bytes) {
        out.push(("jfif-thumbnail", t));
    }
    out
}

fn exif(bytes: &[u8]) -> Option<Vec<u8>> {
    use exif::{In, Tag};
    let e = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let at = |t| e.get_field(t, In::THUMBNAIL)?.value.get_uint(0);
    let off = at(Tag::JPEGInterchangeFormat)? as usize;
    let len = at(Tag::JPEGInterchangeFormatLength)? as usize;
    let t = e.buf().get(off..off.checked_add(len)?)?;
    t.starts_with(&[0xff, 0xd8]).then(|| t.to_vec())
}

/// The APP0 segments before the first frame.
fn app0s(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = vec![];
    let mut i = 2;
    while i + 4 <= bytes.len() && bytes[i] == 0xff {
        let marker = bytes[i + 1];
        if marker == 0xda || (0xc0..=0xcf).contains(&marker) && marker != 0xc4 && marker != 0xcc {
            break;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let Some(seg) = bytes.get(i + 4..i + 2 + len) else {
            break;
        };
        if marker == 0xe0 {
            out.push(seg);
        }
        i += 2 + len;
    }
    out
}

fn jfif(bytes: &[u8]) -> Option<Thumbnail> {
    for seg in app0s(bytes) {
        if let Some(b) = seg.strip_prefix(b"JFIF\0") {
            let (w, h) = (*b.get(7)?, *b.get(8)?);
            let n = usize::from(w) * usize::from(h) * 3;
            if n > 0 {
                let rgb = b.get(9..9 + n)?.to_vec();
                let frame = Frame::new(w.into(), h.into(), rgb.clone()).ok()?;
                return Some(Thumbnail::Pixels { stored: rgb, frame });
            }
        }
        if let Some(b) = seg.strip_prefix(b"JFXX\0") {
            match *b.first()? {
                0x10 => return Some(Thumbnail::Jpeg(b[1..].to_vec())),
                0x13 => {
                    let (w, h) = (*b.get(1)?, *b.get(2)?);
                    let rgb = b.get(3..3 + usize::from(w) * usize::from(h) * 3)?.to_vec();
                    let frame = Frame::new(w.into(), h.into(), rgb.clone()).ok()?;
                    return Some(Thumbnail::Pixels { stored: rgb, frame });
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jfif_thumbnail_of_pixels_is_found() {
        // SOI, APP0 JFIF with a 1x1 thumbnail (red), then SOS.
        let mut j = vec![0xff, 0xd8, 0xff, 0xe0, 0, 19];
        j.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\x01\x01");
        j.extend_from_slice(&[255, 0, 0, 0xff, 0xda]);
        let t = of_jpeg(&j);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].0, "jfif-thumbnail");
        let Thumbnail::Pixels { frame, .. } = &t[0].1 else {
            panic!("pixels expected")
        };
        assert_eq!(frame.rgb(), &[255, 0, 0]);
    }
}
