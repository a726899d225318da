//! A decoded image as every backend receives it.

use thiserror::Error;

#[derive(Debug, Error)]
#[error(
    "frame buffer holds {got} bytes, {width}x{height} RGB8 needs {expected} (and at least one pixel)"
)]
pub struct FrameSizeError {
    pub width: u32,
    pub height: u32,
    pub expected: usize,
    pub got: usize,
}

/// Row-major RGB8 pixels. Grey and alpha images are widened to RGB before they get here, the
/// way Pillow's `convert("RGB")` does, because that is the form the reference hashes were
/// computed from.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    /// What `imagehash` sees when it differs from `rgb`: Pillow's `convert("L")` clips
    /// 16-bit grey samples to 255 where PDQ's reference scales them to 8 bits.
    phash_rgb: Option<Vec<u8>>,
}

impl Frame {
    pub fn new(width: u32, height: u32, rgb: Vec<u8>) -> Result<Frame, FrameSizeError> {
        let expected = width as usize * height as usize * 3;
        if rgb.len() != expected || expected == 0 {
            return Err(FrameSizeError {
                width,
                height,
                expected,
                got: rgb.len(),
            });
        }
        Ok(Frame {
            width,
            height,
            rgb,
            phash_rgb: None,
        })
    }

    /// Give the pHash stages their own pixels (same size as `rgb`).
    pub fn with_phash_rgb(mut self, alt: Vec<u8>) -> Result<Frame, FrameSizeError> {
        if alt.len() != self.rgb.len() {
            return Err(FrameSizeError {
                width: self.width,
                height: self.height,
                expected: self.rgb.len(),
                got: alt.len(),
            });
        }
        self.phash_rgb = Some(alt);
        Ok(self)
    }

    pub fn phash_rgb(&self) -> Option<&[u8]> {
        self.phash_rgb.as_deref()
    }

    /// The pixels pHash is computed from.
    pub fn phash_source(&self) -> &[u8] {
        self.phash_rgb().unwrap_or(&self.rgb)
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Memory the frame's pixels take.
    pub fn bytes(&self) -> usize {
        self.rgb.len() + self.phash_rgb.as_ref().map_or(0, Vec::len)
    }

    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }
}

impl Frame {
    /// A deterministic textured frame (gradients plus noise, so PDQ quality is high): the
    /// benches' and the GPU calibration's input, and the tests' generated images.
    pub fn synthetic(w: u32, h: u32, seed: u64) -> Frame {
        let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for y in 0..h {
            for x in 0..w {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let n = (s & 63) as u32;
                let base = ((x * 255 / w.max(1)) + (y * 255 / h.max(1))) / 2;
                rgb.extend([
                    (base + n).min(255) as u8,
                    ((x ^ y) & 255) as u8,
                    (255 - base + n / 2).min(255) as u8,
                ]);
            }
        }
        Frame::new(w, h, rgb).expect("sized above")
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({}x{})", self.width, self.height)
    }
}
