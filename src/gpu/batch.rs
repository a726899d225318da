//! Packing frames of different sizes into one upload: the frame table, the Lanczos taps and
//! the RGB stream, laid out in one staging buffer that CPU threads fill in parallel, straight
//! from the decoded frames. Pure host logic, tested without a GPU.

use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;
use std::collections::HashMap;
use wgpu::WriteOnly;

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

/// What one batch may hold, from the adapter's limits (see `hasher::batch_limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Frames per batch: bounded by the workgroup count per dispatch dimension.
    pub frames: usize,
    /// Pixels per batch (a frame alone may have more): bounds the device memory of the
    /// buffer sets in flight.
    pub pixels: usize,
    /// Elements of one storage binding: every plane of a batch must fit one.
    pub elements: usize,
}

/// What one frame adds to a batch.
#[derive(Debug, Clone, Copy, Default)]
struct Footprint {
    pixels: usize,
    mid: usize,
    taps: usize,
    /// RGB bytes in words (the alternative pHash pixels included).
    rgb_words: usize,
}

impl Footprint {
    fn of(f: &Frame) -> Footprint {
        let (w, h) = (f.width() as usize, f.height() as usize);
        let copies = 1 + usize::from(f.phash_rgb().is_some());
        Footprint {
            pixels: w * h,
            mid: SIDE * h,
            taps: 4 * SIDE + SIDE * (Taps::ksize_for(w, SIDE) + Taps::ksize_for(h, SIDE)),
            rgb_words: (w * h * 3).div_ceil(4) * copies,
        }
    }

    fn add(self, o: Footprint) -> Footprint {
        Footprint {
            pixels: self.pixels + o.pixels,
            mid: self.mid + o.mid,
            taps: self.taps + o.taps,
            rgb_words: self.rgb_words + o.rgb_words,
        }
    }

    fn within(&self, l: &BatchLimits) -> bool {
        self.pixels <= l.pixels
            && self.rgb_words <= l.pixels
            && self.mid <= l.elements
            && self.taps <= l.elements
    }
}

impl BatchLimits {
    /// Whether a frame can be hashed on the GPU at all, alone in a batch: each of its planes
    /// must fit one binding. The pixel cap of a batch does not apply to a frame alone.
    pub fn fits_alone(&self, f: &Frame) -> bool {
        let fp = Footprint::of(f);
        fp.pixels.max(fp.rgb_words).max(fp.mid).max(fp.taps) <= self.elements
    }

    /// How many frames from the front of `frames` (each fitting alone) make one batch of at
    /// most `most` frames: at least one, unless `frames` is empty.
    pub fn take(&self, frames: &[&Frame], most: usize) -> usize {
        let mut sum = Footprint::default();
        for (i, f) in frames.iter().take(most.min(self.frames)).enumerate() {
            sum = sum.add(Footprint::of(f));
            if i > 0 && !sum.within(self) {
                return i;
            }
        }
        frames.len().min(most).min(self.frames)
    }
}

/// Split `frames` (indices into the caller's slice, in order) into batches within `limits`.
/// A frame too large for any batch is returned in the second list for the CPU path.
pub fn plan(frames: &[&Frame], limits: &BatchLimits) -> (Vec<Vec<usize>>, Vec<usize>) {
    let (fit, oversized): (Vec<usize>, Vec<usize>) =
        (0..frames.len()).partition(|&i| limits.fits_alone(frames[i]));
    let fitting: Vec<&Frame> = fit.iter().map(|&i| frames[i]).collect();
    let mut batches = vec![];
    let mut at = 0;
    while at < fit.len() {
        let n = limits.take(&fitting[at..], usize::MAX);
        batches.push(fit[at..at + n].to_vec());
        at += n;
    }
    (batches, oversized)
}

/// Where everything of one batch goes: the frame table, each distinct tap block (frames of
/// one size share theirs), and each frame's pixels in the RGB stream.
#[derive(Debug, Default)]
pub struct Layout {
    pub infos: Vec<FrameInfo>,
    /// The tap blocks: `(element offset, axis length)`, in offset order.
    taps: Vec<(u32, usize)>,
    pub taps_len: usize,
    /// RGB8 bytes of all frames, each run starting on a 4-byte boundary.
    pub rgb_len: usize,
    pub pixels: usize,
    pub mid: usize,
}

/// Sections of the staging buffer, each aligned for a buffer copy.
const SECTION_ALIGN: usize = 256;

impl Layout {
    pub fn of(frames: &[&Frame], want_phash: bool) -> Layout {
        let mut l = Layout::default();
        let mut blocks: HashMap<usize, (u32, u32)> = HashMap::new();
        for f in frames {
            let (w, h) = (f.width() as usize, f.height() as usize);
            let mut info = FrameInfo {
                width: f.width(),
                height: f.height(),
                rgb_offset: l.rgb_len as u32,
                pix_offset: l.pixels as u32,
                mid_offset: l.mid as u32,
                ..FrameInfo::default()
            };
            l.rgb_len += (w * h * 3).next_multiple_of(4);
            info.phash_rgb_offset = info.rgb_offset;
            if let (true, Some(alt)) = (want_phash, f.phash_rgb()) {
                info.phash_rgb_offset = l.rgb_len as u32;
                l.rgb_len += alt.len().next_multiple_of(4);
            }
            l.pixels += w * h;
            if want_phash {
                (info.taps_h, info.ksize_h) = l.tap_block(&mut blocks, w);
                (info.taps_v, info.ksize_v) = l.tap_block(&mut blocks, h);
                l.mid += SIDE * h;
            }
            l.infos.push(info);
        }
        l
    }

    /// The block for one axis length, added the first time a frame of the batch needs it.
    fn tap_block(&mut self, blocks: &mut HashMap<usize, (u32, u32)>, n: usize) -> (u32, u32) {
        *blocks.entry(n).or_insert_with(|| {
            let at = self.taps_len as u32;
            let ksize = Taps::ksize_for(n, SIDE);
            self.taps.push((at, n));
            self.taps_len += 2 * SIDE + SIDE * ksize;
            (at, ksize as u32)
        })
    }

    /// `(offset, bytes)` of the frame table, the taps and the RGB stream in staging memory.
    pub fn sections(&self) -> [(u64, u64); 3] {
        let infos = std::mem::size_of_val(self.infos.as_slice());
        let taps = self.taps_len * 4;
        let at_taps = infos.next_multiple_of(SECTION_ALIGN);
        let at_rgb = (at_taps + taps).next_multiple_of(SECTION_ALIGN);
        [
            (0, infos as u64),
            (at_taps as u64, taps as u64),
            (at_rgb as u64, self.rgb_len as u64),
        ]
    }

    pub fn staging_bytes(&self) -> u64 {
        let [.., (at, len)] = self.sections();
        (at + len).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT)
    }

    /// Write the batch into `staging` (at least [`Layout::staging_bytes`] long). Pixels go
    /// on all cores, in pieces small enough that one large frame spreads over them.
    pub fn fill(&self, frames: &[&Frame], want_phash: bool, staging: WriteOnly<'_, [u8]>) {
        let [(_, infos), (at_taps, taps), (at_rgb, _)] = self.sections();
        let (mut head, rgb) = staging.split_at(at_rgb as usize);
        head.slice(..infos as usize)
            .copy_from_slice(bytemuck::cast_slice(&self.infos));
        let mut block = Vec::with_capacity(self.taps_len);
        for &(_, n) in &self.taps {
            let t = Taps::cached(n, SIDE);
            block.extend(t.bounds.iter().flat_map(|&(a, b)| [a as i32, b as i32]));
            block.extend_from_slice(&t.coeffs);
        }
        head.slice(at_taps as usize..(at_taps + taps) as usize)
            .copy_from_slice(bytemuck::cast_slice(&block));
        let mut sources: Vec<&[u8]> = vec![];
        for f in frames {
            sources.push(f.rgb());
            if let (true, Some(alt)) = (want_phash, f.phash_rgb()) {
                sources.push(alt);
            }
        }
        let mut pieces = vec![];
        let mut rest = rgb;
        for src in sources {
            let (mut mine, tail) = rest.split_at(src.len().next_multiple_of(4));
            rest = tail;
            mine.slice(src.len()..).fill(0);
            let mut mine = mine.into_slice(..src.len());
            for part in src.chunks(PACK_PIECE) {
                let (head, tail) = mine.split_at(part.len());
                pieces.push((Piece(head), part));
                mine = tail;
            }
        }
        pieces
            .into_par_iter()
            .for_each(|(mut dst, src)| dst.0.copy_from_slice(src));
    }
}

/// A piece of staging memory for one packing task.
struct Piece<'a>(WriteOnly<'a, [u8]>);

// SAFETY: a `WriteOnly<[u8]>` is an exclusive, write-only reference to bytes, like
// `&mut [u8]`, which is `Send`; wgpu only leaves it unmarked because its impl asks `T: Sized`.
// The pieces come from `split_at`, so no two overlap.
unsafe impl Send for Piece<'_> {}

/// Bytes one packing task copies: large enough to amortise the task, small enough that a
/// 24-megapixel frame spreads over every core.
const PACK_PIECE: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32) -> Frame {
        let rgb = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        Frame::new(w, h, rgb).unwrap()
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
        assert_eq!(limits.take(&refs, 2), 2, "the caller's own cap");

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
            pixels: 100,
            elements: 5000,
        };
        let (batches, big) = plan(&refs, &limits);
        assert_eq!(big, [1], "100x100 is over one binding");
        // 8x8 frames: 64 pixels each, so a batch of 100 pixels holds one.
        assert_eq!(batches, [vec![0], vec![2]]);
        let one = [frame(20, 20)];
        let (batches, big) = plan(&one.iter().collect::<Vec<_>>(), &limits);
        assert!(
            big.is_empty(),
            "a frame alone may exceed the batch pixel cap"
        );
        assert_eq!(batches, [vec![0]]);
    }

    #[test]
    fn staging_holds_the_table_shared_taps_and_every_frame_aligned() {
        let frames = [frame(5, 5), frame(7, 3), frame(5, 5)];
        let refs: Vec<&Frame> = frames.iter().collect();
        let l = Layout::of(&refs, true);
        assert_eq!(l.infos[1].rgb_offset, 76); // 75 bytes rounded up to 4
        assert_eq!(l.infos[1].pix_offset, 25);
        assert_eq!(l.infos[1].mid_offset, 32 * 5);
        assert_eq!(l.pixels, 25 + 21 + 25);
        // Axis lengths 5, 7 and 3: three blocks, shared by the two 5x5 frames.
        assert_eq!(l.infos[0].taps_h, l.infos[2].taps_h);
        assert_eq!(l.infos[0].taps_h, l.infos[0].taps_v);
        let t5 = Taps::new(5, 32);
        assert_eq!(l.infos[0].ksize_h as usize, t5.ksize);

        let mut staging = vec![0xaau8; l.staging_bytes() as usize];
        l.fill(&refs, true, WriteOnly::from_mut(staging.as_mut_slice()));
        let [(_, infos), (at_taps, _), (at_rgb, rgb_len)] = l.sections();
        assert_eq!(
            &staging[..infos as usize],
            bytemuck::cast_slice::<FrameInfo, u8>(&l.infos)
        );
        let taps: &[i32] = bytemuck::cast_slice(&staging[at_taps as usize..]);
        let b = l.infos[0].taps_h as usize;
        assert_eq!(taps[b + 1] as u32, t5.bounds[0].1);
        assert_eq!(taps[b + 64], t5.coeffs[0]);
        let rgb = &staging[at_rgb as usize..(at_rgb + rgb_len) as usize];
        for (f, info) in frames.iter().zip(&l.infos) {
            let at = info.rgb_offset as usize;
            assert_eq!(&rgb[at..at + f.rgb().len()], f.rgb());
        }
        assert_eq!(&rgb[75..76], [0], "padding is zeroed");
    }
}
