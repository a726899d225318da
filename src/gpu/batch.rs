//! Packing frames of different sizes into one upload: the frame table, the RGB stream, the
//! Lanczos taps, and the offsets of each frame's planes. Pure host logic, tested without a GPU.

use bytemuck::{Pod, Zeroable};

use crate::cpu::lanczos::Taps;
use crate::cpu::phash::SIDE;
use crate::frame::Frame;

/// One frame's place in the batch buffers; mirrors `FrameInfo` in `shaders/shared/frame.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable, PartialEq, Eq)]
pub struct FrameInfo {
    pub width: u32,
    pub height: u32,
    pub rgb_offset: u32,
    pub pix_offset: u32,
    pub mid_offset: u32,
    pub taps_h: u32,
    pub taps_v: u32,
    pub ksize_h: u32,
    pub ksize_v: u32,
    pub phash_rgb_offset: u32,
    pub pad: [u32; 6],
}

/// What one batch may hold, from the adapter's limits (see `Limits::batch_limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Frames per batch: bounded by the workgroup count per dispatch dimension.
    pub frames: usize,
    /// Pixels per batch: each f32 plane must fit in one storage binding.
    pub pixels: usize,
    /// Elements of the `mid` and `taps` planes, likewise.
    pub elements: usize,
}

impl BatchLimits {
    /// Whether a frame can be hashed on the GPU at all, alone in a batch.
    pub fn fits_alone(&self, f: &Frame) -> bool {
        let (pix, mid, taps) = footprint(f);
        pix <= self.pixels
            && f.pixels() * 3 <= self.pixels * 4
            && mid <= self.elements
            && taps <= self.elements
    }
}

/// Pixels, `mid` elements and tap elements one frame needs.
fn footprint(f: &Frame) -> (usize, usize, usize) {
    let (w, h) = (f.width() as usize, f.height() as usize);
    let taps = 4 * SIDE + SIDE * (ksize(w) + ksize(h));
    (w * h, SIDE * h, taps)
}

fn ksize(n: usize) -> usize {
    Taps::new(n, SIDE).ksize
}

/// Split `frames` (indices into the caller's slice, in order) into batches within `limits`.
/// A frame too large for any batch is returned in the second list for the CPU path.
pub fn plan(frames: &[&Frame], limits: &BatchLimits) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut batches = vec![];
    let mut oversized = vec![];
    let mut cur: Vec<usize> = vec![];
    let (mut pix, mut mid, mut taps, mut bytes) = (0, 0, 0, 0);
    for (i, f) in frames.iter().enumerate() {
        if !limits.fits_alone(f) {
            oversized.push(i);
            continue;
        }
        let (p, m, t) = footprint(f);
        let b = (f.pixels() * 3).div_ceil(4) * (1 + usize::from(f.phash_rgb().is_some()));
        let full = cur.len() == limits.frames
            || pix + p > limits.pixels
            || mid + m > limits.elements
            || taps + t > limits.elements
            || bytes + b > limits.pixels;
        if full && !cur.is_empty() {
            batches.push(std::mem::take(&mut cur));
            (pix, mid, taps, bytes) = (0, 0, 0, 0);
        }
        cur.push(i);
        pix += p;
        mid += m;
        taps += t;
        bytes += b;
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    (batches, oversized)
}

/// The host side of one batch, ready to upload.
#[derive(Debug, Default)]
pub struct Packed {
    pub infos: Vec<FrameInfo>,
    /// RGB8 bytes of all frames, each frame starting on a 4-byte boundary.
    pub rgb: Vec<u8>,
    pub taps: Vec<i32>,
    pub pixels: usize,
    pub mid: usize,
}

pub fn pack(frames: &[&Frame], want_phash: bool) -> Packed {
    let mut p = Packed::default();
    for f in frames {
        let (w, h) = (f.width() as usize, f.height() as usize);
        let mut info = FrameInfo {
            width: f.width(),
            height: f.height(),
            rgb_offset: p.rgb.len() as u32,
            pix_offset: p.pixels as u32,
            mid_offset: p.mid as u32,
            ..FrameInfo::default()
        };
        push_aligned(&mut p.rgb, f.rgb());
        info.phash_rgb_offset = info.rgb_offset;
        if let (true, Some(alt)) = (want_phash, f.phash_rgb()) {
            info.phash_rgb_offset = p.rgb.len() as u32;
            push_aligned(&mut p.rgb, alt);
        }
        p.pixels += w * h;
        if want_phash {
            (info.taps_h, info.ksize_h) = push_taps(&mut p.taps, w);
            (info.taps_v, info.ksize_v) = push_taps(&mut p.taps, h);
            p.mid += SIDE * h;
        }
        p.infos.push(info);
    }
    p
}

fn push_aligned(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Append one axis's taps block: (first, count) pairs, then the coefficients.
fn push_taps(out: &mut Vec<i32>, n: usize) -> (u32, u32) {
    let t = Taps::new(n, SIDE);
    let at = out.len() as u32;
    for &(first, count) in &t.bounds {
        out.extend([first as i32, count as i32]);
    }
    out.extend_from_slice(&t.coeffs);
    (at, t.ksize as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32) -> Frame {
        Frame::new(w, h, vec![0; (w * h * 3) as usize]).unwrap()
    }

    #[test]
    fn frame_info_matches_the_wgsl_struct_size() {
        assert_eq!(std::mem::size_of::<FrameInfo>(), 64);
        let src = include_str!("../../shaders/shared/frame.wgsl");
        let fields = src
            .lines()
            .skip_while(|l| !l.starts_with("struct FrameInfo"))
            .take_while(|l| !l.starts_with('}'))
            .filter(|l| l.trim_end().ends_with(": u32,"))
            .count();
        assert_eq!(fields, 16);
    }

    #[test]
    fn planning_splits_at_every_limit_and_keeps_order() {
        let frames: Vec<Frame> = (0..10).map(|i| frame(10 + i, 10)).collect();
        let refs: Vec<&Frame> = frames.iter().collect();
        let limits = BatchLimits {
            frames: 3,
            pixels: 1 << 20,
            elements: 1 << 20,
        };
        let (batches, big) = plan(&refs, &limits);
        assert!(big.is_empty());
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [3, 3, 3, 1]
        );
        let flat: Vec<usize> = batches.concat();
        assert_eq!(flat, (0..10).collect::<Vec<_>>());

        let limits = BatchLimits {
            frames: 100,
            pixels: 250,
            elements: 1 << 20,
        };
        let (batches, big) = plan(&refs, &limits);
        assert!(big.is_empty());
        for b in &batches {
            let pix: usize = b.iter().map(|&i| frames[i].pixels()).sum();
            assert!(pix <= 250, "{b:?} holds {pix} pixels");
        }
    }

    #[test]
    fn a_frame_too_big_for_any_batch_goes_to_the_cpu_list() {
        let frames = [frame(8, 8), frame(100, 100), frame(8, 8)];
        let refs: Vec<&Frame> = frames.iter().collect();
        let limits = BatchLimits {
            frames: 16,
            pixels: 1000,
            elements: 1 << 20,
        };
        let (batches, big) = plan(&refs, &limits);
        assert_eq!(big, [1]);
        assert_eq!(batches, [vec![0, 2]]);
    }

    #[test]
    fn packing_aligns_frames_and_records_offsets() {
        let frames = [frame(5, 5), frame(7, 3)];
        let refs: Vec<&Frame> = frames.iter().collect();
        let p = pack(&refs, true);
        assert_eq!(p.infos[0].rgb_offset, 0);
        assert_eq!(p.infos[1].rgb_offset, 76); // 75 bytes rounded up to 4
        assert_eq!(p.infos[1].pix_offset, 25);
        assert_eq!(p.infos[1].mid_offset, 32 * 5);
        assert_eq!(p.pixels, 46);
        let t = Taps::new(5, 32);
        assert_eq!(p.infos[0].ksize_h as usize, t.ksize);
        assert_eq!(p.taps[p.infos[0].taps_h as usize + 64], t.coeffs[0]);
    }
}
