//! The pictures of a PDF, with `lopdf` for the objects: each image XObject a page draws,
//! directly or through form XObjects, from its own or inherited resources, in page order,
//! first appearance only, named `image-N` from 0 as `pdfimages -list` numbers them. A DCTDecode stream is the JPEG itself (hashed and digested as one); a
//! Flate (or unfiltered) image in DeviceRGB, DeviceGray, ICCBased with 1 or 3 components,
//! or Indexed over those, 8 bits a component, is inflated here (never past its own size)
//! and handed on as pixels. JPX, JBIG2, CCITT and other encodings are named in an error
//! record; an encrypted PDF is refused as such.

use std::collections::HashSet;
use std::io::Read;

use lopdf::{Dictionary, Document, Object};

use super::{Content, Expander, Meta, Src, Stop, Walk};
use crate::frame::Frame;
use crate::sources::location::Location;

pub(super) fn walk(x: &mut Expander, loc: &Location, src: &Src, enc: &mut bool) -> Walk {
    if src.len() > x.limits.max_held {
        return Err(Stop::Broken(format!(
            "PDF of {} bytes: over the {} bytes a document may hold in memory (--max-memory): not opened",
            src.len(),
            x.limits.max_held
        )));
    }
    let mut bytes = vec![];
    src.reader()
        .read_to_end(&mut bytes)
        .map_err(|e| Stop::Broken(format!("read failed: {e}")))?;
    let doc = match std::panic::catch_unwind(|| Document::load_mem(&bytes)) {
        Ok(Ok(d)) => d,
        Ok(Err(e))
            if e.to_string().to_ascii_lowercase().contains("decrypt")
                || e.to_string().to_ascii_lowercase().contains("password") =>
        {
            *enc = true;
            return Err(Stop::Broken(format!("encrypted PDF: not decrypted ({e})")));
        }
        Ok(Err(e)) => return Err(Stop::Broken(format!("not a readable PDF: {e}"))),
        Err(_) => {
            return Err(Stop::Broken(
                "not a readable PDF (the reader failed)".into(),
            ));
        }
    };
    if doc.is_encrypted() {
        *enc = true;
        return Err(Stop::Broken("encrypted PDF: images not decrypted".into()));
    }
    let mut seen = HashSet::new();
    let mut n = 0;
    for (_, page) in doc.get_pages() {
        let mut images = vec![];
        let (own, inherited) = doc.get_page_resources(page).unwrap_or_default();
        let dicts = own.into_iter().chain(
            inherited
                .iter()
                .filter_map(|id| doc.get_dictionary(*id).ok()),
        );
        let mut forms = HashSet::new();
        for resources in dicts {
            xobject_images(&doc, resources, 0, &mut forms, &mut images);
        }
        for (id, stream) in images {
            if !seen.insert(id) {
                continue;
            }
            let meta = Meta {
                name: format!("image-{n}").into_bytes(),
                size: Some(stream.content.len() as u64),
                stored: Some(stream.content.len() as u64),
                mtime: None,
            };
            n += 1;
            let content = image(&doc, &stream.dict, &stream.content, x.limits.max_held);
            x.note(loc, meta, content)?;
        }
    }
    Ok(())
}

/// Form XObjects nested deeper are not followed (a loop ends there too).
const MAX_FORM_DEPTH: usize = 8;

/// The image XObjects of a resource dictionary, in its order, and those of the form
/// XObjects it holds (forms drawn by forms included), each form once.
fn xobject_images<'d>(
    doc: &'d Document,
    resources: &'d Dictionary,
    depth: usize,
    forms: &mut HashSet<lopdf::ObjectId>,
    out: &mut Vec<(lopdf::ObjectId, &'d lopdf::Stream)>,
) {
    let Ok(xobjects) = resources
        .get(b"XObject")
        .map(|o| deref(doc, o))
        .and_then(Object::as_dict)
    else {
        return;
    };
    for (_, o) in xobjects.iter() {
        let Ok(id) = o.as_reference() else { continue };
        let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        match stream.dict.get(b"Subtype").and_then(Object::as_name) {
            Ok(b"Image") => out.push((id, stream)),
            Ok(b"Form") if depth < MAX_FORM_DEPTH && forms.insert(id) => {
                if let Ok(r) = stream
                    .dict
                    .get(b"Resources")
                    .map(|o| deref(doc, o))
                    .and_then(Object::as_dict)
                {
                    xobject_images(doc, r, depth + 1, forms, out);
                }
            }
            _ => {}
        }
    }
}

fn names(o: Option<&Object>) -> Vec<Vec<u8>> {
    match o {
        Some(Object::Name(n)) => vec![n.clone()],
        Some(Object::Array(a)) => a
            .iter()
            .filter_map(|o| o.as_name().ok().map(<[u8]>::to_vec))
            .collect(),
        _ => vec![],
    }
}

fn refused(reason: String) -> Content {
    Content::Refused {
        encrypted: false,
        reason,
    }
}

/// One image XObject as an entry's content.
fn image(doc: &Document, dict: &Dictionary, data: &[u8], max: u64) -> Content {
    let filters = names(dict.get(b"Filter").ok());
    let filter_names: Vec<String> = filters
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    if filters.last().is_some_and(|f| f == b"DCTDecode") && filters.len() == 1 {
        return Content::Bytes(data.to_vec());
    }
    if dict
        .get(b"ImageMask")
        .and_then(Object::as_bool)
        .unwrap_or(false)
    {
        return Content::Skipped("PDF stencil mask: no colours of its own".into());
    }
    let other: Vec<&String> = filter_names
        .iter()
        .filter(|f| *f != "FlateDecode" && *f != "ASCII85Decode")
        .collect();
    if !other.is_empty() {
        let list: Vec<&str> = other.iter().map(|s| s.as_str()).collect();
        return refused(format!("PDF image in {}: not decoded", list.join(", ")));
    }
    let frame = pixels(doc, dict, data, &filters, max);
    Content::Pixels {
        stored: data.to_vec(),
        frame,
    }
}

/// An image's colour space: components and, when indexed, its palette as RGB.
fn colours(doc: &Document, cs: &Object) -> Result<(usize, Option<Vec<u8>>), String> {
    let cs = deref(doc, cs);
    match cs {
        Object::Name(n) if n == b"DeviceRGB" || n == b"CalRGB" => Ok((3, None)),
        Object::Name(n) if n == b"DeviceGray" || n == b"CalGray" => Ok((1, None)),
        Object::Array(a) if a.first().and_then(|o| o.as_name().ok()) == Some(b"ICCBased") => {
            let n = a
                .get(1)
                .map(|o| deref(doc, o))
                .and_then(|o| o.as_stream().ok())
                .and_then(|s| s.dict.get(b"N").and_then(Object::as_i64).ok());
            match n {
                Some(3) => Ok((3, None)),
                Some(1) => Ok((1, None)),
                n => Err(format!(
                    "PDF image in an ICC colour space of {n:?} components: not decoded"
                )),
            }
        }
        Object::Array(a) if a.first().and_then(|o| o.as_name().ok()) == Some(b"Indexed") => {
            let (base, _) = colours(doc, a.get(1).ok_or("Indexed without a base")?)?;
            let table = match a.get(3).map(|o| deref(doc, o)) {
                Some(Object::String(s, _)) => s.clone(),
                Some(Object::Stream(s)) => s.decompressed_content().map_err(|e| e.to_string())?,
                _ => return Err("PDF Indexed image without its palette: not decoded".into()),
            };
            let rgb = match base {
                3 => table,
                _ => table.iter().flat_map(|&g| [g, g, g]).collect(),
            };
            Ok((1, Some(rgb)))
        }
        other => Err(format!(
            "PDF image in colour space {}: not decoded",
            describe(other)
        )),
    }
}

fn describe(o: &Object) -> String {
    match o {
        Object::Name(n) => String::from_utf8_lossy(n).into_owned(),
        Object::Array(a) => a.first().map_or("[]".into(), describe),
        _ => "?".into(),
    }
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    match o {
        Object::Reference(id) => doc.get_object(*id).unwrap_or(o),
        _ => o,
    }
}

fn pixels(
    doc: &Document,
    dict: &Dictionary,
    data: &[u8],
    filters: &[Vec<u8>],
    max: u64,
) -> Result<Frame, String> {
    let int = |k: &[u8]| {
        dict.get(k)
            .map(|o| deref(doc, o))
            .and_then(Object::as_i64)
            .ok()
    };
    let (w, h) = (int(b"Width").unwrap_or(0), int(b"Height").unwrap_or(0));
    let bpc = int(b"BitsPerComponent").unwrap_or(8);
    if bpc != 8 {
        return Err(format!("PDF image of {bpc} bits a component: not decoded"));
    }
    let cs = dict
        .get(b"ColorSpace")
        .map_err(|_| "PDF image without a colour space: not decoded")?;
    let (comps, palette) = colours(doc, cs)?;
    let (w, h) = (
        u32::try_from(w).map_err(|_| "bad width")?,
        u32::try_from(h).map_err(|_| "bad height")?,
    );
    let row = w as usize * comps;
    let want = row as u64 * u64::from(h);
    if w == 0 || h == 0 || want.saturating_mul(3) > max {
        return Err(format!(
            "PDF image of {w}x{h}: empty or over the memory a member may hold"
        ));
    }
    let parms = dict
        .get(b"DecodeParms")
        .map(|o| deref(doc, o))
        .and_then(Object::as_dict)
        .ok();
    let predictor = parms
        .and_then(|p| p.get(b"Predictor").and_then(Object::as_i64).ok())
        .unwrap_or(1);
    let mut raw = data.to_vec();
    for f in filters {
        raw = match &f[..] {
            b"ASCII85Decode" => ascii85(&raw)?,
            _ => inflate(&raw, (row as u64 + 1) * u64::from(h))?,
        };
    }
    let samples = match predictor {
        1 => raw,
        10..=15 => unpredict(&raw, row, comps)?,
        p => return Err(format!("PDF image with predictor {p}: not decoded")),
    };
    if (samples.len() as u64) < want {
        return Err(format!(
            "PDF image data ends after {} of {want} bytes",
            samples.len()
        ));
    }
    let samples = &samples[..want as usize];
    let rgb: Vec<u8> = match (comps, palette) {
        (_, Some(p)) => samples
            .iter()
            .flat_map(|&i| {
                let at = usize::from(i) * 3;
                p.get(at..at + 3).map_or([0, 0, 0], |c| [c[0], c[1], c[2]])
            })
            .collect(),
        (3, None) => samples.to_vec(),
        _ => samples.iter().flat_map(|&g| [g, g, g]).collect(),
    };
    Frame::new(w, h, rgb).map_err(|e| e.to_string())
}

/// A zlib stream, never inflated past `limit` bytes (a bomb ends at its image's size).
fn inflate(data: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = vec![];
    let r = flate2::read::ZlibDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out);
    match r {
        Ok(_) => Ok(out),
        // A stream cut short still gives its rows; a check below says if too few came.
        Err(_) if !out.is_empty() => Ok(out),
        Err(e) => Err(format!("PDF image stream does not inflate: {e}")),
    }
}

/// ASCII base-85 (`<~ ... ~>`, `z` for four zero bytes), as PDF's ASCII85Decode.
fn ascii85(text: &[u8]) -> Result<Vec<u8>, String> {
    let body = text.strip_prefix(b"<~").unwrap_or(text);
    let mut out = Vec::with_capacity(body.len() * 4 / 5);
    let mut group = [0u32; 5];
    let mut n = 0;
    for &c in body {
        match c {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = u32::from(c - b'!');
                n += 1;
                if n == 5 {
                    out.extend_from_slice(&base85_word(&group)?);
                    n = 0;
                }
            }
            c if c.is_ascii_whitespace() => {}
            c => {
                return Err(format!(
                    "PDF ASCII85 stream holds byte {c:#04x}: not decoded"
                ));
            }
        }
    }
    if n > 1 {
        // A last group of n characters stands for n - 1 bytes, padded with 'u'.
        group[n..].fill(84);
        out.extend_from_slice(&base85_word(&group)?[..n - 1]);
    }
    Ok(out)
}

fn base85_word(g: &[u32; 5]) -> Result<[u8; 4], String> {
    let v = g.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(85).and_then(|a| a.checked_add(d))
    });
    v.map(u32::to_be_bytes)
        .ok_or_else(|| "PDF ASCII85 group over 32 bits: not decoded".to_string())
}

/// Undo PNG row predictors (each row starts with its filter byte).
fn unpredict(raw: &[u8], row: usize, bpp: usize) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut prev = vec![0u8; row];
    for chunk in raw.chunks(row + 1) {
        if chunk.len() < row + 1 {
            break;
        }
        let (f, src) = (chunk[0], &chunk[1..]);
        let mut cur = vec![0u8; row];
        for i in 0..row {
            let a = if i >= bpp { cur[i - bpp] } else { 0 };
            let b = prev[i];
            let c = if i >= bpp { prev[i - bpp] } else { 0 };
            let p = match f {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => paeth(a, b, c),
                f => return Err(format!("PDF image row filter {f}: not decoded")),
            };
            cur[i] = src[i].wrapping_add(p);
        }
        out.extend_from_slice(&cur);
        prev = cur;
    }
    Ok(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_predictors_are_undone_row_by_row() {
        // Two rows of two grey pixels: row 1 "Sub" (each adds the one before), row 2 "Up".
        let raw = [1, 10, 5, 2, 1, 1];
        assert_eq!(unpredict(&raw, 2, 1).unwrap(), vec![10, 15, 11, 16]);
        assert_eq!(paeth(10, 20, 10), 20);
    }

    #[test]
    fn ascii85_groups_and_their_short_tail_decode() {
        assert_eq!(ascii85(b"<~87cURD]i,\"Ebo80~>").unwrap(), b"Hello World!");
        assert_eq!(ascii85(b"87cURDZ~>").unwrap(), b"Hello");
        assert_eq!(ascii85(b"z~>").unwrap(), vec![0; 4]);
        assert!(ascii85(b"{").is_err());
    }
}
