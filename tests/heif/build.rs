//! Writing HEIF files the Debian encoder cannot: a grid of tiles (as phones store photos),
//! with `irot`/`imir` on the grid, or a tile missing. Tiles are single-image HEICs made by
//! `heif-enc`; their `hvcC` property and coded bytes are copied into the grid file.

use hashsweep::decode::bmff;

pub struct Tile {
    /// The tile's `hvcC` box, header included.
    pub hvcc: Vec<u8>,
    pub data: Vec<u8>,
}

/// The primary image of a one-image HEIC as a tile.
pub fn tile_of(file: &[u8]) -> Tile {
    let meta = bmff::meta(file).unwrap();
    let item = meta.item(meta.primary).unwrap();
    let hvcc = item
        .property_indices
        .iter()
        .map(|&i| &meta.properties[i])
        .find(|p| &p[4..8] == b"hvcC")
        .expect("hvcC property")
        .clone();
    assert_eq!(item.location.method, 0, "tile data in the file");
    let data = item
        .location
        .extents
        .iter()
        .flat_map(|&(at, len)| file[at as usize..(at + len) as usize].to_vec())
        .collect();
    Tile { hvcc, data }
}

/// How the grid file is laid out.
pub struct Grid {
    pub rows: u8,
    pub cols: u8,
    pub width: u32,
    pub height: u32,
    pub tile: (u32, u32),
    /// `irot` quarter turns anticlockwise and `imir` axis on the grid item.
    pub rotation: Option<u8>,
    pub mirror: Option<u8>,
    /// `clap`: a centred clean aperture of this size.
    pub clean: Option<(u32, u32)>,
    /// The output size written in the grid's own payload, when it lies about `width` x
    /// `height` (which `ispe` declares).
    pub payload_size: Option<(u16, u16)>,
    /// The last tile is referenced but absent.
    pub drop_last: bool,
}

fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(body);
    v
}

fn full(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = (u32::from(version) << 24 | flags).to_be_bytes().to_vec();
    b.extend_from_slice(body);
    bx(kind, &b)
}

fn ispe(w: u32, h: u32) -> Vec<u8> {
    let mut b = w.to_be_bytes().to_vec();
    b.extend_from_slice(&h.to_be_bytes());
    full(b"ispe", 0, 0, &b)
}

/// A HEIC whose primary image is a grid of `tiles` (row-major).
pub fn grid(tiles: &[Tile], g: &Grid) -> Vec<u8> {
    let n = tiles.len() as u16;
    let kept = if g.drop_last { n - 1 } else { n };
    let mut ftyp = b"heic\0\0\0\0mif1heicmiaf".to_vec();
    ftyp = bx(b"ftyp", &std::mem::take(&mut ftyp));
    let meta_with = |mdat_at: u32| {
        let mut iinf = kept.wrapping_add(1).to_be_bytes().to_vec();
        let infe = |id: u16, kind: &[u8; 4], hidden: bool| {
            let mut b = id.to_be_bytes().to_vec();
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(kind);
            full(b"infe", 2, u32::from(hidden), &b)
        };
        iinf.extend(infe(1, b"grid", false));
        for t in 0..kept {
            iinf.extend(infe(t + 2, b"hvc1", true));
        }
        // The grid refers to every tile, the dropped one too.
        let mut dimg = 1u16.to_be_bytes().to_vec();
        dimg.extend_from_slice(&n.to_be_bytes());
        (0..n).for_each(|t| dimg.extend_from_slice(&(t + 2).to_be_bytes()));
        let iref = full(b"iref", 0, 0, &bx(b"dimg", &dimg));
        // Properties: 1 grid ispe, 2 tile ispe, 3.. hvcC per tile, then irot, imir.
        let mut ipco = ispe(g.width, g.height);
        ipco.extend(ispe(g.tile.0, g.tile.1));
        tiles.iter().for_each(|t| ipco.extend_from_slice(&t.hvcc));
        let mut grid_props = vec![1u8];
        let mut next = 3 + n as u8;
        // Transformations in the order they apply: clap, irot, imir.
        if let Some((w, h)) = g.clean {
            let clap: Vec<u8> = [w, 1, h, 1, 0, 1, 0, 1]
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect();
            ipco.extend(bx(b"clap", &clap));
            grid_props.push(0x80 | next);
            next += 1;
        }
        if let Some(r) = g.rotation {
            ipco.extend(bx(b"irot", &[r]));
            grid_props.push(0x80 | next);
            next += 1;
        }
        if let Some(m) = g.mirror {
            ipco.extend(bx(b"imir", &[m]));
            grid_props.push(0x80 | next);
        }
        let mut ipma = u32::from(kept + 1).to_be_bytes().to_vec();
        ipma.extend_from_slice(&[0, 1, grid_props.len() as u8]);
        ipma.extend_from_slice(&grid_props);
        for t in 0..kept {
            ipma.extend_from_slice(&(t + 2).to_be_bytes());
            ipma.extend_from_slice(&[2, 2, 0x80 | (3 + t as u8)]);
        }
        let mut iprp = bx(b"ipco", &ipco);
        iprp.extend(full(b"ipma", 0, 0, &ipma));
        // iloc v1, 4-byte offsets and lengths: the grid's 8 bytes in idat, tiles in mdat.
        let mut iloc = vec![0x44, 0x00];
        iloc.extend_from_slice(&(kept + 1).to_be_bytes());
        iloc.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 8]);
        let mut at = mdat_at;
        for (t, tile) in tiles.iter().take(kept as usize).enumerate() {
            iloc.extend_from_slice(&(t as u16 + 2).to_be_bytes());
            iloc.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
            iloc.extend_from_slice(&at.to_be_bytes());
            iloc.extend_from_slice(&(tile.data.len() as u32).to_be_bytes());
            at += tile.data.len() as u32;
        }
        let (pw, ph) = g.payload_size.unwrap_or((g.width as u16, g.height as u16));
        let mut grid_data = vec![0, 0, g.rows - 1, g.cols - 1];
        grid_data.extend_from_slice(&pw.to_be_bytes());
        grid_data.extend_from_slice(&ph.to_be_bytes());
        let mut hdlr = vec![0; 4];
        hdlr.extend_from_slice(b"pict");
        hdlr.extend_from_slice(&[0; 13]);
        let mut meta = full(b"hdlr", 0, 0, &hdlr);
        meta.extend(full(b"pitm", 0, 0, &[0, 1]));
        meta.extend(full(b"iinf", 0, 0, &iinf));
        meta.extend(iref);
        meta.extend(bx(b"iprp", &iprp));
        meta.extend(full(b"iloc", 1, 0, &iloc));
        meta.extend(bx(b"idat", &grid_data));
        full(b"meta", 0, 0, &meta)
    };
    let probe = meta_with(0);
    let mdat_at = (ftyp.len() + probe.len() + 8) as u32;
    let mut file = ftyp;
    file.extend(meta_with(mdat_at));
    let data: Vec<u8> = tiles
        .iter()
        .take(kept as usize)
        .flat_map(|t| t.data.clone())
        .collect();
    file.extend(bx(b"mdat", &data));
    file
}
