//! Raw YCbCr pictures in the YUV4MPEG2 (`.y4m`) form `heif-convert` writes, turned into
//! RGB with the BT.601 full-range matrix and chroma taken from the co-sited sample (nearest,
//! as libheif 1.15 upsamples 4:2:0).
//!
//! Why not let the decoder write PNG: compressing a 12-megapixel PNG costs it about six
//! times the decoding itself, and the raw planes cost nothing to write or read.
//!
//! Why BT.601 full range whatever the file declares: libheif writes Y4M in its default
//! output profile. Measured with libheif 1.15: files coded BT.709 limited range and
//! BT.2020 full range both came out as BT.601 full-range planes (luma within 0.2-0.6 of
//! pillow-heif's, 9.3 off when read as the declared range). `heif` sends only files that
//! declare BT.601 full range, or nothing, this way, so the planes mean the same whether a
//! libheif version converts them or passes them through.

/// One 8-bit YCbCr picture.
pub struct Planes {
    pub width: u32,
    pub height: u32,
    /// Chroma subsampling: (1, 1) for 4:4:4, (2, 1) for 4:2:2, (2, 2) for 4:2:0; `None` for
    /// a monochrome picture.
    pub sub: Option<(u32, u32)>,
    pub data: Vec<u8>,
}

/// The first frame of a Y4M stream, 8-bit samples only.
pub fn read_y4m(bytes: &[u8]) -> Result<Planes, String> {
    let line_end = |from: usize| {
        bytes[from..]
            .iter()
            .take(256)
            .position(|&b| b == b'\n')
            .map(|i| from + i)
    };
    let header_end = line_end(0).ok_or("Y4M header missing")?;
    let header = std::str::from_utf8(&bytes[..header_end]).map_err(|_| "Y4M header not text")?;
    let mut tokens = header.split(' ');
    if tokens.next() != Some("YUV4MPEG2") {
        return Err("not a Y4M stream".into());
    }
    let (mut width, mut height, mut colour) = (0u32, 0u32, "420");
    for t in tokens {
        let (tag, value) = t.split_at_checked(1).unwrap_or(("", ""));
        match tag {
            "W" => width = value.parse().map_err(|_| "bad Y4M width")?,
            "H" => height = value.parse().map_err(|_| "bad Y4M height")?,
            "C" => colour = value,
            _ => {}
        }
    }
    let sub = match colour {
        "420" | "420jpeg" | "420paldv" | "420mpeg2" => Some((2, 2)),
        "422" => Some((2, 1)),
        "444" => Some((1, 1)),
        "mono" => None,
        other => return Err(format!("Y4M colour space {other} not supported")),
    };
    if width == 0 || height == 0 {
        return Err("Y4M picture without a size".into());
    }
    let frame = header_end + 1;
    if bytes.get(frame..frame + 5) != Some(b"FRAME") {
        return Err("Y4M frame missing".into());
    }
    let start = line_end(frame).ok_or("Y4M frame header cut off")? + 1;
    let p = Planes {
        width,
        height,
        sub,
        data: vec![],
    };
    let want = p.len().ok_or("Y4M picture too large")?;
    let data = bytes
        .get(start..)
        .and_then(|d| d.get(..want))
        .ok_or("Y4M picture cut off")?;
    Ok(Planes {
        data: data.to_vec(),
        ..p
    })
}

impl Planes {
    fn chroma_size(&self) -> Option<(usize, usize)> {
        self.sub.map(|(sx, sy)| {
            (
                self.width.div_ceil(sx) as usize,
                self.height.div_ceil(sy) as usize,
            )
        })
    }

    /// Bytes of all three planes.
    fn len(&self) -> Option<usize> {
        let luma = (self.width as usize).checked_mul(self.height as usize)?;
        let (cw, ch) = self.chroma_size().unwrap_or((0, 0));
        luma.checked_add(cw.checked_mul(ch)?.checked_mul(2)?)
    }

    /// RGB8, row-major.
    pub fn to_rgb(&self) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (luma, chroma) = self.data.split_at(w * h);
        let mut out = vec![0u8; w * h * 3];
        let Some((cw, ch)) = self.chroma_size() else {
            for (px, &y) in out.chunks_exact_mut(3).zip(luma) {
                px.fill(y);
            }
            return out;
        };
        let (sx, sy) = self.sub.unwrap_or((1, 1));
        let (cb, cr) = chroma.split_at(cw * ch);
        // The chroma terms of one chroma row, computed once for the luma rows sharing it.
        let mut terms = vec![[0f32; 3]; cw];
        for (row, (ys, px)) in luma
            .chunks_exact(w)
            .zip(out.chunks_exact_mut(w * 3))
            .enumerate()
        {
            if row % sy as usize == 0 {
                let c = row / sy as usize * cw;
                for (t, (&b, &r)) in terms
                    .iter_mut()
                    .zip(cb[c..c + cw].iter().zip(&cr[c..c + cw]))
                {
                    *t = bt601_terms(b, r);
                }
            }
            for (x, (&y, p)) in ys.iter().zip(px.chunks_exact_mut(3)).enumerate() {
                let t = terms[x / sx as usize];
                let y = f32::from(y);
                p.copy_from_slice(&[to_u8(y + t[0]), to_u8(y + t[1]), to_u8(y + t[2])]);
            }
        }
        out
    }
}

/// What BT.601 full range (Kr = 0.299, Kb = 0.114) adds to luma for red, green and blue, in
/// floating point as libheif computes it.
fn bt601_terms(cb: u8, cr: u8) -> [f32; 3] {
    let (cb, cr) = (f32::from(cb) - 128.0, f32::from(cr) - 128.0);
    [1.402 * cr, -0.344_136 * cb - 0.714_136 * cr, 1.772 * cb]
}

fn to_u8(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y4m(header: &str, planes: &[u8]) -> Vec<u8> {
        let mut v = format!("{header}\nFRAME\n").into_bytes();
        v.extend_from_slice(planes);
        v
    }

    #[test]
    fn reads_420_with_odd_sizes_and_converts_bt601_full_range() {
        // 3x1: luma 3 bytes, chroma 2x1 each.
        let bytes = y4m("YUV4MPEG2 W3 H1 F30:1", &[0, 128, 255, 128, 128, 128, 255]);
        let p = read_y4m(&bytes).unwrap();
        assert_eq!((p.width, p.height, p.sub), (3, 1, Some((2, 2))));
        let rgb = p.to_rgb();
        assert_eq!(&rgb[..6], [0, 0, 0, 128, 128, 128], "no chroma: grey");
        // Cr = +127 on the third pixel: red up by 1.402 * 127, clipped.
        assert_eq!(rgb[6..], [255, 164, 255]);
    }

    #[test]
    fn cut_off_or_foreign_streams_are_errors() {
        assert!(read_y4m(&y4m("YUV4MPEG2 W4 H4", &[0; 10])).is_err());
        assert!(read_y4m(b"YUV4MPEG2 W4 H4 C420\n").is_err());
        assert!(read_y4m(&y4m("YUV4MPEG2 W4 H4 C411", &[0; 24])).is_err());
        assert!(read_y4m(&y4m("YUV4MPEG2 W4294967295 H4294967295", &[])).is_err());
        assert!(read_y4m(b"P6 1 1 255\n").is_err());
        assert!(read_y4m(&y4m("YUV4MPEG2 W0 H4", &[])).is_err());
        assert!(read_y4m(&y4m("YUV4MPEG2 \u{e9}x W1 H1 Cmono", &[0])).is_ok());
        let mono = read_y4m(&y4m("YUV4MPEG2 W2 H1 Cmono", &[10, 20])).unwrap();
        assert_eq!(mono.to_rgb(), [10, 10, 10, 20, 20, 20]);
    }
}
