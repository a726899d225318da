//! Pillow's LANCZOS resize of an 8-bit image to 32x32, in its fixed-point form: a horizontal
//! pass then a vertical pass, each rounded back to 8 bits (GPU mirror: `shaders/lanczos.wgsl`).
//!
//! The filter taps depend only on the input and output sizes. They are computed here, in f64
//! as Pillow does, and the GPU receives the same integers, so both backends resample exactly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Taps by (input size, output size).
type TapsBySize = HashMap<(usize, usize), Arc<Taps>>;

/// Size pairs whose taps are kept at most.
const TAPS_CACHED: usize = 4096;

/// Fractional bits of Pillow's 8-bit fixed-point coefficients.
pub const PRECISION_BITS: u32 = 32 - 8 - 2;
/// Lanczos-3 support in output pixels.
const SUPPORT: f64 = 3.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

fn lanczos(x: f64) -> f64 {
    if (-SUPPORT..SUPPORT).contains(&x) {
        sinc(x) * sinc(x / SUPPORT)
    } else {
        0.0
    }
}

/// Fixed-point taps for resampling one axis of `in_size` samples to `out_size`: for each
/// output sample the first input index, the tap count, and `ksize` coefficients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taps {
    pub out_size: usize,
    pub ksize: usize,
    /// `(first input index, number of taps)` per output sample.
    pub bounds: Vec<(u32, u32)>,
    /// `out_size * ksize` coefficients, zero past each sample's tap count.
    pub coeffs: Vec<i32>,
}

impl Taps {
    /// Coefficients per output sample, without building the taps: batch planning needs it
    /// for every frame.
    pub fn ksize_for(in_size: usize, out_size: usize) -> usize {
        let filterscale = (in_size as f64 / out_size as f64).max(1.0);
        (SUPPORT * filterscale).ceil() as usize * 2 + 1
    }

    /// The taps for this size pair, built once per process: frames of a sweep come in few
    /// sizes, and building costs a sine per tap.
    pub fn cached(in_size: usize, out_size: usize) -> Arc<Taps> {
        static CACHE: OnceLock<Mutex<TapsBySize>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(t) = cache.lock().unwrap().get(&(in_size, out_size)) {
            return t.clone();
        }
        let t = Arc::new(Taps::new(in_size, out_size));
        let mut map = cache.lock().unwrap();
        // Bounded: a folder of every size from 1 to 100,000 must not grow it without end.
        if map.len() >= TAPS_CACHED {
            map.clear();
        }
        map.insert((in_size, out_size), t.clone());
        t
    }

    pub fn new(in_size: usize, out_size: usize) -> Taps {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = SUPPORT * filterscale;
        let ksize = Taps::ksize_for(in_size, out_size);
        let mut bounds = Vec::with_capacity(out_size);
        let mut coeffs = vec![0i32; out_size * ksize];
        let mut w = vec![0.0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
            let mut ww = 0.0;
            for (x, wx) in w.iter_mut().enumerate().take(xmax) {
                *wx = lanczos((x as f64 + xmin as f64 - center + 0.5) * ss);
                ww += *wx;
            }
            let k = &mut coeffs[xx * ksize..(xx + 1) * ksize];
            for (c, &wx) in k.iter_mut().zip(&w).take(xmax) {
                let norm = if ww != 0.0 { wx / ww } else { wx };
                *c = to_fixed(norm);
            }
            bounds.push((xmin as u32, xmax as u32));
        }
        Taps {
            out_size,
            ksize,
            bounds,
            coeffs,
        }
    }
}

/// Round half away from zero into fixed point, as Pillow's `normalize_coeffs_8bpc`.
fn to_fixed(k: f64) -> i32 {
    let scaled = k * f64::from(1u32 << PRECISION_BITS);
    if k < 0.0 {
        (scaled - 0.5) as i32
    } else {
        (scaled + 0.5) as i32
    }
}

/// Pillow's `clip8`: drop the fraction (with the half added up front) and clamp to 0..255.
#[inline(always)]
pub fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Start value of every accumulator: one half, so that the shift rounds.
pub const ROUND_HALF: i32 = 1 << (PRECISION_BITS - 1);

/// One output sample: the taps times the samples they cover, in Pillow's order.
#[inline(always)]
pub fn tap_sum(k: &[i32], samples: impl Iterator<Item = u8>) -> u8 {
    let acc = k
        .iter()
        .zip(samples)
        .fold(ROUND_HALF, |acc, (&c, s)| acc + i32::from(s) * c);
    clip8(acc)
}

/// Resize a `width x height` grey image to `side x side`, horizontal pass first.
pub fn resize(grey: &[u8], width: usize, height: usize, side: usize) -> Vec<u8> {
    let h = Taps::cached(width, side);
    let v = Taps::cached(height, side);
    let mut mid = vec![0u8; side * height];
    for y in 0..height {
        let row = &grey[y * width..(y + 1) * width];
        for xx in 0..side {
            let (first, n) = (h.bounds[xx].0 as usize, h.bounds[xx].1 as usize);
            let k = &h.coeffs[xx * h.ksize..xx * h.ksize + n];
            mid[y * side + xx] = tap_sum(k, row[first..first + n].iter().copied());
        }
    }
    let mut out = vec![0u8; side * side];
    for yy in 0..side {
        let (first, n) = (v.bounds[yy].0 as usize, v.bounds[yy].1 as usize);
        let k = &v.coeffs[yy * v.ksize..yy * v.ksize + n];
        for xx in 0..side {
            let column = mid[first * side + xx..].iter().step_by(side).copied();
            out[yy * side + xx] = tap_sum(k, column);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksize_without_building_and_the_cache_agree_with_fresh_taps() {
        for n in [1, 2, 31, 32, 33, 64, 100, 511, 512, 513, 4032, 12000] {
            let fresh = Taps::new(n, 32);
            assert_eq!(Taps::ksize_for(n, 32), fresh.ksize, "{n}");
            assert_eq!(*Taps::cached(n, 32), fresh, "{n}");
            assert!(Arc::ptr_eq(&Taps::cached(n, 32), &Taps::cached(n, 32)));
        }
    }
}
