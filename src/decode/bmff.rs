//! ISO base media file format boxes (ISO/IEC 14496-12), as far as HEIF still images
//! (ISO/IEC 23008-12, HEIC and AVIF) need them: the `ftyp` brands that tell a photo from a
//! video, and the `meta` box's items and properties, read before any decoder runs so that a
//! declared size is refused before allocation and the stored transformations are known.
//!
//! Every read is bounds-checked: a hostile file gives `None` or an error, never a panic.

use std::collections::HashMap;

/// Brands that promise a HEIF still image in a `meta` box (HEIF, MIAF, AVIF).
const STILL: [&[u8; 4]; 9] = [
    b"mif1", b"mif2", b"miaf", b"heic", b"heix", b"heim", b"heis", b"avif", b"avio",
];
/// Brands of AV1-coded HEIF.
const AV1: [&[u8; 4]; 3] = [b"avif", b"avis", b"avio"];

/// "heic" or "avif" when the `ftyp` box at the start of `head` names a HEIF still-image
/// brand; `None` for anything else, MP4 and MOV videos and image sequences without a still
/// image included.
pub fn heif_brand(head: &[u8]) -> Option<&'static str> {
    if head.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let size = u32::from_be_bytes(head.get(..4)?.try_into().ok()?) as usize;
    let end = size.clamp(8, head.len());
    let brands: Vec<&[u8]> = head
        .get(8..end)?
        .chunks_exact(4)
        .enumerate()
        .filter(|(i, _)| *i != 1) // minor_version
        .map(|(_, b)| b)
        .collect();
    if !brands.iter().any(|b| STILL.iter().any(|s| s[..] == **b)) {
        return None;
    }
    let av1 = brands.iter().any(|b| AV1.iter().any(|s| s[..] == **b));
    Some(if av1 { "avif" } else { "heic" })
}

/// One box: its type, its payload (after the header) and the whole box.
struct Bx<'a> {
    kind: [u8; 4],
    body: &'a [u8],
    whole: &'a [u8],
}

/// The boxes one after another in `data`; stops at the first that does not fit.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = Bx<'_>> {
    std::iter::from_fn(move || {
        let size = u64::from(u32::from_be_bytes(data.get(..4)?.try_into().ok()?));
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (head, size) = match size {
            0 => (8, data.len() as u64),
            1 => (16, u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)),
            s => (8, s),
        };
        if size < head || size > data.len() as u64 {
            return None;
        }
        let (whole, rest) = data.split_at(size as usize);
        data = rest;
        Some(Bx {
            kind,
            body: &whole[head as usize..],
            whole,
        })
    })
}

/// A big-endian reader over a box payload.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    /// An unsigned integer of 0, 2, 4 or 8 bytes (the sizes `iloc` declares).
    fn uint(&mut self, bytes: u8) -> Option<u64> {
        let b = self.take(usize::from(bytes))?;
        match bytes {
            0 | 2 | 4 | 8 => Some(b.iter().fold(0u64, |v, &x| v << 8 | u64::from(x))),
            _ => None,
        }
    }
    /// Version and flags of a full box.
    fn full(&mut self) -> Option<(u8, u32)> {
        let v = self.u32()?;
        Some(((v >> 24) as u8, v & 0xff_ffff))
    }
    /// An item id: 16 bits in version 0 boxes, 32 bits after.
    fn id(&mut self, wide: bool) -> Option<u32> {
        if wide {
            self.u32()
        } else {
            self.u16().map(u32::from)
        }
    }
}

/// Colour information (`colr` of type `nclx`): the matrix that turns the coded YCbCr into
/// RGB, and whether the samples use the full range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nclx {
    pub matrix: u16,
    pub full_range: bool,
}

/// The properties of one item that decoding depends on.
#[derive(Debug, Clone, Default)]
pub struct Props {
    /// `ispe`: the coded size.
    pub size: Option<(u32, u32)>,
    /// `irot`: anticlockwise quarter turns.
    pub rotation: u8,
    /// `imir`: 0 = about the vertical axis (left-right), 1 = about the horizontal axis.
    pub mirror: Option<u8>,
    /// `clap`: a clean aperture is declared (the decoder crops to it).
    pub clean_aperture: Option<(u32, u32)>,
    pub nclx: Option<Nclx>,
    /// Bits per sample, from the codec configuration (`hvcC`, `av1C`), as libheif takes
    /// it; `pixi` only where there is none.
    pub bits: Option<u8>,
    pixi_bits: Option<u8>,
    /// Chroma format from the codec configuration: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma: Option<u8>,
    /// A grid's output size, from its own payload (what libheif allocates).
    pub grid_size: Option<(u32, u32)>,
}

/// Where an item's bytes are (`iloc`): in the file (method 0) or in `idat` (method 1).
#[derive(Debug, Clone, Default)]
pub struct Location {
    pub method: u8,
    pub extents: Vec<(u64, u64)>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: u32,
    pub kind: [u8; 4],
    pub hidden: bool,
    pub props: Props,
    /// Which of `Meta::properties` belong to this item (0-based), for tools that rewrite
    /// files.
    pub property_indices: Vec<usize>,
    pub location: Location,
}

/// A HEIF file's image items, as its `meta` box describes them.
#[derive(Debug, Clone)]
pub struct Meta {
    pub primary: u32,
    pub items: Vec<Item>,
    /// `iref` references: (type, from, to).
    pub refs: Vec<([u8; 4], u32, Vec<u32>)>,
    /// The property boxes (`ipco`) as stored, header included.
    pub properties: Vec<Vec<u8>>,
    /// Item id -> position in `items`.
    index: HashMap<u32, usize>,
}

/// An item's bytes, when they are all in `file` (method 0) or `idat` (method 1).
fn payload<'a>(file: &'a [u8], idat: &'a [u8], at: &Location) -> Option<Vec<u8>> {
    let source = match at.method {
        0 => file,
        1 => idat,
        _ => return None,
    };
    let mut out = vec![];
    for &(offset, len) in &at.extents {
        // A grid's payload is 8 or 12 bytes; nothing longer is needed from anything.
        let len = len.min(64 - out.len() as u64);
        let end = offset.checked_add(len)?;
        out.extend_from_slice(
            source.get(usize::try_from(offset).ok()?..usize::try_from(end).ok()?)?,
        );
    }
    Some(out)
}

/// A grid payload's output width and height (16 or 32 bits by its flags).
fn grid_size(data: Vec<u8>) -> Option<(u32, u32)> {
    let mut r = Rd(&data);
    let (_version, flags) = (r.u8()?, r.u8()?);
    r.take(2)?; // rows and columns
    if flags & 1 == 1 {
        Some((r.u32()?, r.u32()?))
    } else {
        Some((u32::from(r.u16()?), u32::from(r.u16()?)))
    }
}

/// libheif refuses files with more items than this; so does this reader, which keeps its
/// work linear in the file's size below it.
pub const MAX_ITEMS: usize = 20_000;
/// libheif's limit on the extents of one item.
const MAX_EXTENTS: u16 = 32;

/// The item types libheif 1.15 takes for images.
const IMAGE_KINDS: [&[u8; 4]; 6] = [b"hvc1", b"av01", b"grid", b"iden", b"iovl", b"vvc1"];

impl Meta {
    pub fn item(&self, id: u32) -> Option<&Item> {
        self.index.get(&id).map(|&i| &self.items[i])
    }

    /// The images a viewer shows, as libheif lists them (and `heif-convert` writes them):
    /// image items that are not hidden and are not a thumbnail or auxiliary image (alpha,
    /// depth, gain map) of another, in ascending item id.
    pub fn top_level(&self) -> Vec<&Item> {
        let secondary: std::collections::HashSet<u32> = self
            .refs
            .iter()
            .filter(|(t, _, _)| t == b"thmb" || t == b"auxl")
            .map(|(_, from, _)| *from)
            .collect();
        let mut top: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| IMAGE_KINDS.contains(&&i.kind) && !i.hidden && !secondary.contains(&i.id))
            .collect();
        top.sort_by_key(|i| i.id);
        top.dedup_by_key(|i| i.id);
        top
    }

    /// The items a derived image is made of (the tiles of a grid).
    pub fn parts(&self, id: u32) -> Vec<&Item> {
        self.refs
            .iter()
            .filter(|(t, from, _)| t == b"dimg" && *from == id)
            .flat_map(|(_, _, to)| to.iter().filter_map(|&t| self.item(t)))
            .collect()
    }

    /// A property of `item`, or failing that of its first part (a grid's tiles carry the
    /// codec configuration and often the colour).
    pub fn inherited<T>(&self, item: &Item, get: impl Fn(&Props) -> Option<T>) -> Option<T> {
        get(&item.props).or_else(|| self.parts(item.id).first().and_then(|p| get(&p.props)))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum MetaError {
    NoMeta,
    NoPrimary,
    Malformed(&'static str),
}

impl std::fmt::Display for MetaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaError::NoMeta => write!(f, "no HEIF meta box (truncated or not a still image)"),
            MetaError::NoPrimary => write!(f, "HEIF file names no primary image"),
            MetaError::Malformed(what) => write!(f, "malformed HEIF {what} box"),
        }
    }
}

/// The `meta` box of a whole HEIF file.
pub fn meta(file: &[u8]) -> Result<Meta, MetaError> {
    let body = boxes(file)
        .find(|b| &b.kind == b"meta")
        .ok_or(MetaError::NoMeta)?
        .body;
    let children = body.get(4..).ok_or(MetaError::Malformed("meta"))?;
    let mut primary = None;
    let mut items = vec![];
    let mut refs = vec![];
    let mut props = (vec![], vec![]);
    let mut locations = HashMap::new();
    let mut idat: &[u8] = &[];
    for b in boxes(children) {
        let bad = MetaError::Malformed;
        match &b.kind {
            b"pitm" => primary = Some(pitm(b.body).ok_or(bad("pitm"))?),
            b"iinf" => items = iinf(b.body).ok_or(bad("iinf"))?,
            b"iref" => refs = iref(b.body).ok_or(bad("iref"))?,
            b"iprp" => props = iprp(b.body).ok_or(bad("iprp"))?,
            b"iloc" => locations = iloc(b.body).ok_or(bad("iloc"))?,
            b"idat" => idat = b.body,
            _ => {}
        }
    }
    if items.len() > MAX_ITEMS || refs.len() > MAX_ITEMS {
        return Err(MetaError::Malformed("iinf"));
    }
    let (ipco, ipma) = props;
    let mut links: HashMap<u32, Vec<usize>> = HashMap::new();
    for (id, ix) in ipma {
        links.entry(id).or_default().extend(ix);
    }
    for item in &mut items {
        for index in links.remove(&item.id).unwrap_or_default() {
            if let Some((kind, body, _)) = index.checked_sub(1).and_then(|i| ipco.get(i)) {
                read_property(&mut item.props, kind, body);
                item.property_indices.push(index - 1);
            }
        }
        item.props.bits = item.props.bits.or(item.props.pixi_bits);
        item.location = locations.remove(&item.id).unwrap_or_default();
        if &item.kind == b"grid" {
            item.props.grid_size = payload(file, idat, &item.location).and_then(grid_size);
        }
    }
    let primary = primary.ok_or(MetaError::NoPrimary)?;
    // The first of items sharing an id wins, as in libheif.
    let index = items
        .iter()
        .enumerate()
        .rev()
        .map(|(i, item)| (item.id, i))
        .collect();
    Ok(Meta {
        primary,
        items,
        refs,
        properties: ipco.iter().map(|(_, _, whole)| whole.to_vec()).collect(),
        index,
    })
}

fn pitm(body: &[u8]) -> Option<u32> {
    let mut r = Rd(body);
    let (v, _) = r.full()?;
    r.id(v > 0)
}

fn iinf(body: &[u8]) -> Option<Vec<Item>> {
    let mut r = Rd(body);
    let (v, _) = r.full()?;
    r.id(v > 0)?; // entry count: the boxes that follow are counted instead
    Some(
        boxes(r.0)
            .filter(|b| &b.kind == b"infe")
            .filter_map(|b| infe(b.body))
            .collect(),
    )
}

fn infe(body: &[u8]) -> Option<Item> {
    let mut r = Rd(body);
    let (v, flags) = r.full()?;
    if v < 2 {
        return None; // versions 0 and 1 describe files, not images
    }
    let id = r.id(v > 2)?;
    r.u16()?; // protection index
    Some(Item {
        id,
        kind: r.take(4)?.try_into().ok()?,
        hidden: flags & 1 == 1,
        props: Props::default(),
        property_indices: vec![],
        location: Location::default(),
    })
}

type Reference = ([u8; 4], u32, Vec<u32>);

fn iref(body: &[u8]) -> Option<Vec<Reference>> {
    let mut r = Rd(body);
    let (v, _) = r.full()?;
    let mut out = vec![];
    for b in boxes(r.0) {
        let mut r = Rd(b.body);
        let from = r.id(v > 0)?;
        let n = r.u16()?;
        let to = (0..n).map(|_| r.id(v > 0)).collect::<Option<Vec<_>>>()?;
        out.push((b.kind, from, to));
    }
    Some(out)
}

type Properties<'a> = (Vec<([u8; 4], &'a [u8], &'a [u8])>, Vec<(u32, Vec<usize>)>);

/// The property boxes (`ipco`, 1-based) and which belong to which item (`ipma`).
fn iprp(body: &[u8]) -> Option<Properties<'_>> {
    let mut ipco = vec![];
    let mut ipma = vec![];
    for b in boxes(body) {
        match &b.kind {
            b"ipco" => ipco.extend(boxes(b.body).map(|p| (p.kind, p.body, p.whole))),
            b"ipma" => {
                let mut r = Rd(b.body);
                let (v, flags) = r.full()?;
                for _ in 0..r.u32()? {
                    let id = r.id(v > 0)?;
                    let n = r.u8()?;
                    let ix = (0..n)
                        .map(|_| match flags & 1 {
                            1 => r.u16().map(|x| usize::from(x & 0x7fff)),
                            _ => r.u8().map(|x| usize::from(x & 0x7f)),
                        })
                        .collect::<Option<Vec<_>>>()?;
                    ipma.push((id, ix));
                }
            }
            _ => {}
        }
    }
    Some((ipco, ipma))
}

fn read_property(p: &mut Props, kind: &[u8; 4], body: &[u8]) {
    let mut r = Rd(body);
    match kind {
        b"ispe" => {
            p.size = r.full().and_then(|_| Some((r.u32()?, r.u32()?)));
        }
        b"irot" => p.rotation = r.u8().map_or(0, |a| a & 3),
        b"imir" => p.mirror = r.u8().map(|a| a & 1),
        b"clap" => {
            // Rounded to the nearest pixel, as libheif does; a zero denominator is ignored.
            let frac = |r: &mut Rd| {
                let (n, d) = (r.u32()?, r.u32()?);
                (d != 0).then(|| ((u64::from(n) + u64::from(d) / 2) / u64::from(d)) as u32)
            };
            if let (Some(w), Some(h)) = (frac(&mut r), frac(&mut r)) {
                p.clean_aperture = Some((w, h));
            }
        }
        b"colr" if r.take(4) == Some(b"nclx") => {
            let _primaries = r.u16();
            let _transfer = r.u16();
            if let (Some(matrix), Some(range)) = (r.u16(), r.u8()) {
                p.nclx = Some(Nclx {
                    matrix,
                    full_range: range & 0x80 != 0,
                });
            }
        }
        b"pixi" => {
            p.pixi_bits = r.full().and_then(|_| r.u8()).and_then(|_| r.u8());
        }
        // hvcC byte 16: chromaFormat in its low 2 bits; 17: bitDepthLumaMinus8 in 3.
        b"hvcC" => {
            p.chroma = body.get(16).map(|b| b & 3);
            p.bits = body.get(17).map(|b| 8 + (b & 7));
        }
        // av1C byte 2: high_bitdepth (bit 6), twelve_bit (5), monochrome (4),
        // chroma_subsampling_x (3) and _y (2).
        b"av1C" => {
            let Some(&b) = body.get(2) else { return };
            p.bits = Some(match (b & 0x40 != 0, b & 0x20 != 0) {
                (true, true) => 12,
                (true, false) => 10,
                _ => 8,
            });
            p.chroma = Some(match (b & 0x10 != 0, b & 0x08 != 0, b & 0x04 != 0) {
                (true, _, _) => 0,
                (false, true, true) => 1,
                (false, true, false) => 2,
                _ => 3,
            });
        }
        _ => {}
    }
}

fn iloc(body: &[u8]) -> Option<HashMap<u32, Location>> {
    let mut r = Rd(body);
    let (v, _) = r.full()?;
    let sizes = r.u16()?;
    let nibble = |shift: u16| (sizes >> shift & 0xf) as u8;
    let (offset, length, base) = (nibble(12), nibble(8), nibble(4));
    let index = if v > 0 { nibble(0) } else { 0 };
    let count = if v < 2 { u32::from(r.u16()?) } else { r.u32()? };
    if count as usize > MAX_ITEMS {
        return None;
    }
    let mut out = HashMap::new();
    for _ in 0..count {
        let id = r.id(v >= 2)?;
        let method = if v > 0 { (r.u16()? & 0xf) as u8 } else { 0 };
        r.u16()?; // data reference index
        let base = r.uint(base)?;
        let n = r.u16()?;
        if n > MAX_EXTENTS {
            return None;
        }
        let mut extents = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            r.uint(index)?;
            let at = base.checked_add(r.uint(offset)?)?;
            extents.push((at, r.uint(length)?));
        }
        out.insert(id, Location { method, extents });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn ftyp(brands: &[&[u8; 4]]) -> Vec<u8> {
        let mut body = brands[0].to_vec();
        body.extend_from_slice(&[0; 4]);
        brands.iter().for_each(|b| body.extend_from_slice(*b));
        bx(b"ftyp", &body)
    }

    #[test]
    fn brands_tell_photos_from_videos() {
        assert_eq!(
            heif_brand(&ftyp(&[b"heic", b"mif1", b"heic"])),
            Some("heic")
        );
        assert_eq!(heif_brand(&ftyp(&[b"mif1", b"heic"])), Some("heic"));
        assert_eq!(
            heif_brand(&ftyp(&[b"avif", b"mif1", b"miaf"])),
            Some("avif")
        );
        // An animated AVIF with a still image in its meta box is a photo first.
        assert_eq!(
            heif_brand(&ftyp(&[b"avis", b"avif", b"msf1"])),
            Some("avif")
        );
        // Sequences with no still image, MP4 and QuickTime (a Live Photo's MOV) are videos.
        assert_eq!(heif_brand(&ftyp(&[b"msf1", b"hevc", b"iso8"])), None);
        assert_eq!(heif_brand(&ftyp(&[b"isom", b"iso2", b"mp41"])), None);
        assert_eq!(heif_brand(&ftyp(&[b"qt  ", b"qt  "])), None);
        // The minor version is not a brand; a cut-off box is read as far as it goes.
        let mut odd = ftyp(&[b"isom"]);
        odd[12..16].copy_from_slice(b"mif1");
        assert_eq!(heif_brand(&odd), None);
        assert_eq!(heif_brand(&ftyp(&[b"heic", b"mif1"])[..16]), Some("heic"));
        assert_eq!(heif_brand(b"\0\0"), None);
    }

    /// A meta box with a primary grid of two tiles, a thumbnail and a rotation.
    fn sample_meta() -> Vec<u8> {
        let infe = |id: u16, kind: &[u8; 4], hidden: bool| {
            let mut b = vec![2, 0, 0, u8::from(hidden)];
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(kind);
            bx(b"infe", &b)
        };
        let mut iinf = vec![0, 0, 0, 0, 0, 4];
        iinf.extend(infe(1, b"grid", false));
        iinf.extend(infe(2, b"hvc1", true));
        iinf.extend(infe(3, b"hvc1", true));
        iinf.extend(infe(4, b"hvc1", false));
        let mut iref = vec![0; 4];
        iref.extend(bx(b"dimg", &[0, 1, 0, 2, 0, 2, 0, 3]));
        iref.extend(bx(b"thmb", &[0, 4, 0, 1, 0, 1]));
        let mut ispe = vec![0; 4];
        ispe.extend_from_slice(&4032u32.to_be_bytes());
        ispe.extend_from_slice(&3024u32.to_be_bytes());
        let mut hvcc = vec![1; 16];
        hvcc.push(0xfd); // chromaFormat = 1 (4:2:0)
        hvcc.push(0xfa); // bitDepthLumaMinus8 = 2
        let mut nclx = b"nclx".to_vec();
        nclx.extend_from_slice(&[0, 1, 0, 13, 0, 1, 0x80]);
        let mut ipco = bx(b"ispe", &ispe);
        ipco.extend(bx(b"irot", &[3]));
        ipco.extend(bx(b"hvcC", &hvcc));
        ipco.extend(bx(b"colr", &nclx));
        // Item 1: ispe, irot (essential); tiles: hvcC, colr.
        let ipma = [
            0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 2, 1, 0x82, 0, 2, 2, 3, 4, 0, 3, 2, 3, 4,
        ];
        let mut iprp = bx(b"ipco", &ipco);
        iprp.extend(bx(b"ipma", &ipma));
        // iloc v1: offset 4, length 4, base 0, index 0; item 2 at 100..150 in the file.
        let iloc = [
            1, 0, 0, 0, 0x44, 0x00, 0, 1, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 100, 0, 0, 0, 50,
        ];
        let mut meta = vec![0; 4];
        meta.extend(bx(b"hdlr", &[0; 20]));
        meta.extend(bx(b"pitm", &[0, 0, 0, 0, 0, 1]));
        meta.extend(bx(b"iinf", &iinf));
        meta.extend(bx(b"iref", &iref));
        meta.extend(bx(b"iprp", &iprp));
        meta.extend(bx(b"iloc", &iloc));
        let mut file = ftyp(&[b"heic", b"mif1"]);
        file.extend(bx(b"meta", &meta));
        file
    }

    #[test]
    fn meta_gives_primary_top_level_images_and_properties() {
        let m = meta(&sample_meta()).unwrap();
        assert_eq!(m.primary, 1);
        let top: Vec<u32> = m.top_level().iter().map(|i| i.id).collect();
        assert_eq!(top, [1], "tiles are hidden and item 4 is a thumbnail");
        let grid = m.item(1).unwrap();
        assert_eq!(grid.props.size, Some((4032, 3024)));
        assert_eq!(grid.props.rotation, 3);
        assert_eq!(m.parts(1).len(), 2);
        assert_eq!(m.inherited(grid, |p| p.bits), Some(10));
        let nclx = m.inherited(grid, |p| p.nclx).unwrap();
        assert_eq!((nclx.matrix, nclx.full_range), (1, true));
        assert_eq!(m.item(2).unwrap().location.extents, [(100, 50)]);
        let tile = m.item(2).unwrap();
        assert_eq!(tile.property_indices, [2, 3]);
        assert_eq!(&m.properties[2][4..8], b"hvcC");
        assert_eq!(tile.props.chroma, Some(1));
    }

    #[test]
    fn hostile_meta_is_an_error_not_a_panic() {
        let file = sample_meta();
        // Every truncation and every single-byte corruption of the meta box.
        for cut in 0..file.len() {
            let _ = meta(&file[..cut]);
        }
        for at in 0..file.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut f = file.clone();
                f[at] = v;
                let _ = meta(&f);
            }
        }
        assert_eq!(meta(b"").unwrap_err(), MetaError::NoMeta);
    }

    #[test]
    fn zero_width_extents_cannot_multiply_into_a_huge_allocation() {
        // iloc v1 with 0-byte offsets and lengths: 65535 extents would cost no input bytes.
        let mut body = vec![1, 0, 0, 0, 0x00, 0x00, 0, 1, 0, 7, 0, 0, 0, 0, 0xff, 0xff];
        assert!(iloc(&body).is_none(), "more than libheif's 32 extents");
        body[14..16].copy_from_slice(&[0, 32]);
        assert_eq!(iloc(&body).unwrap()[&7].extents.len(), 32);
    }
}
