//! The 64-bit pHash of `imagehash`: grey, Lanczos to 32x32, 2-D DCT-II, median of the 8x8
//! low frequencies, bits (GPU mirror: `shaders/phash.wgsl`).

use std::sync::OnceLock;

use super::{grey, lanczos};
use crate::hash::Phash64;

/// Side of the resized image (hash size 8 times imagehash's high-frequency factor 4).
pub const SIDE: usize = 32;
/// Side of the kept low-frequency block.
pub const LOW: usize = 8;

/// `2 cos(pi k (2n + 1) / 2N)` for k < 8, n < 32: scipy's unnormalised DCT-II basis.
pub fn dct_basis() -> &'static [f64; LOW * SIDE] {
    static C: OnceLock<[f64; LOW * SIDE]> = OnceLock::new();
    C.get_or_init(|| {
        let mut c = [0.0f64; LOW * SIDE];
        for k in 0..LOW {
            for n in 0..SIDE {
                let arg = std::f64::consts::PI * (k * (2 * n + 1)) as f64 / (2 * SIDE) as f64;
                c[k * SIDE + n] = 2.0 * arg.cos();
            }
        }
        c
    })
}

/// Angles of the DCT basis fold onto 33 distinct cosines: `2 cos(pi k (2n + 1) / 64)` is
/// `sign * COSINES[j]`. For each (k, n) with k < 8: `j | (negative as u32) << 8`.
/// The GPU stage sums the samples that share a cosine before multiplying, in integers where
/// it can, so the cancellations that make a symmetric image's coefficients exactly zero in
/// scipy's FFT happen exactly there too.
pub fn angle_fold() -> [u32; LOW * SIDE] {
    let mut t = [0u32; LOW * SIDE];
    for k in 0..LOW {
        for n in 0..SIDE {
            let mut a = (k * (2 * n + 1)) % (4 * SIDE);
            if a > 2 * SIDE {
                a = 4 * SIDE - a; // cos(2 pi - x) = cos x
            }
            let negative = a > SIDE;
            if negative {
                a = 2 * SIDE - a; // cos(pi - x) = -cos x
            }
            t[k * SIDE + n] = a as u32 | (u32::from(negative) << 8);
        }
    }
    t
}

/// `2 cos(pi j / 64)` for j = 0..=32, with the right angle exactly zero.
pub fn fold_cosines() -> [f64; SIDE + 1] {
    let mut c = [0.0f64; SIDE + 1];
    for (j, v) in c.iter_mut().enumerate().take(SIDE) {
        *v = 2.0 * (std::f64::consts::PI * j as f64 / (2 * SIDE) as f64).cos();
    }
    c
}

/// The 8x8 low-frequency block of the DCT along columns, then rows.
pub fn dct_low(pixels: &[u8]) -> [f64; LOW * LOW] {
    let c = dct_basis();
    // Columns first: y[k][m] = sum_n x[n][m] c[k][n].
    let mut y = [0.0f64; LOW * SIDE];
    for k in 0..LOW {
        for m in 0..SIDE {
            y[k * SIDE + m] = (0..SIDE)
                .map(|n| f64::from(pixels[n * SIDE + m]) * c[k * SIDE + n])
                .sum();
        }
    }
    let mut z = [0.0f64; LOW * LOW];
    for k in 0..LOW {
        for l in 0..LOW {
            z[k * LOW + l] = snap((0..SIDE).map(|m| y[k * SIDE + m] * c[l * SIDE + m]).sum());
        }
    }
    z
}

/// Coefficients smaller than this are exactly zero in truth. An image symmetric along an
/// axis (constant, stripes, black video frames) has exact zeros that scipy's FFT-based DCT
/// reproduces exactly, while a direct sum leaves rounding noise of either sign, which would
/// decide bits at random. Real non-zero coefficients of an 8-bit image are far larger.
pub const ZERO_SNAP: f64 = 1.0 / 1024.0;

pub fn snap(v: f64) -> f64 {
    if v.abs() < ZERO_SNAP { 0.0 } else { v }
}

/// numpy's median of an even count: the mean of the two middle values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (v[n / 2 - 1] + v[n / 2]) / 2.0
}

pub fn bits(z: &[f64; LOW * LOW]) -> Phash64 {
    let med = median(z);
    let mut h = 0u64;
    for &v in z {
        h = (h << 1) | u64::from(v > med);
    }
    Phash64(h)
}

/// The whole CPU pHash pipeline on one RGB8 image.
pub fn phash(rgb: &[u8], width: usize, height: usize) -> Phash64 {
    let g = grey::grey(rgb);
    let small = lanczos::resize(&g, width, height, SIDE);
    bits(&dct_low(&small))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_cosines_reproduce_the_basis() {
        let (fold, cos, basis) = (angle_fold(), fold_cosines(), dct_basis());
        for i in 0..LOW * SIDE {
            let sign = if fold[i] >> 8 == 1 { -1.0 } else { 1.0 };
            let v = sign * cos[(fold[i] & 255) as usize];
            assert!((v - basis[i]).abs() < 1e-12, "{i}: {v} vs {}", basis[i]);
        }
    }
}
