//! PDQ from the 64x64 decimated luma: quality, the 16x16 DCT, Torben's median, bits and the
//! eight dihedral variants (GPU mirror: `shaders/pdq.wgsl`). Also the whole CPU pipeline
//! from RGB8, which chains the stages of this module's siblings.

use std::sync::OnceLock;

use super::{decimate, jarosz, luma};
use crate::hash::{Dihedral, Pdq256, PdqHashes, Quality};

/// Images with a side below this hash to all zeros with quality 0.
pub const MIN_HASHABLE_DIM: usize = 5;

/// Gradient-sum quality heuristic of the reference.
pub fn quality(a: &[f32; 4096]) -> Quality {
    let step = |u: f32, v: f32| -> u32 {
        let d = ((u - v) * 100.0) / 255.0;
        (d as i32).unsigned_abs()
    };
    let mut sum = 0u32;
    for i in 0..63 {
        for j in 0..64 {
            sum += step(a[i * 64 + j], a[(i + 1) * 64 + j]);
        }
    }
    for i in 0..64 {
        for j in 0..63 {
            sum += step(a[i * 64 + j], a[i * 64 + j + 1]);
        }
    }
    Quality((sum / 90).min(100) as u8)
}

/// The 16x64 DCT matrix, row-major; rows are frequencies 1..16 (the DC row is left out).
/// The GPU receives these same f32 values, so both backends multiply by identical numbers.
pub fn dct_matrix() -> &'static [f32; 1024] {
    static D: OnceLock<[f32; 1024]> = OnceLock::new();
    D.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut d = [0.0f32; 1024];
        for i in 0..16 {
            for j in 0..64 {
                let arg = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                d[i * 64 + j] = (f64::from(scale) * arg.cos()) as f32;
            }
        }
        d
    })
}

/// `B = D A D^T`, every dot product summed in f32 in index order.
pub fn dct64_to_16(a: &[f32; 4096]) -> [f32; 256] {
    let d = dct_matrix();
    let mut t = [0.0f32; 1024];
    for i in 0..16 {
        let mut sums = [0.0f32; 64];
        // Row-at-a-time over A keeps each T[i][j]'s k order while reading A contiguously.
        for k in 0..64 {
            let dk = d[i * 64 + k];
            let arow = &a[k * 64..(k + 1) * 64];
            sums.iter_mut().zip(arow).for_each(|(s, &x)| *s += dk * x);
        }
        t[i * 64..(i + 1) * 64].copy_from_slice(&sums);
    }
    let mut b = [0.0f32; 256];
    for i in 0..16 {
        for j in 0..16 {
            let mut s = 0.0f32;
            for k in 0..64 {
                s += t[i * 64 + k] * d[j * 64 + k];
            }
            b[i * 16 + j] = s;
        }
    }
    b
}

/// Torben Mogensen's median selection, f32 throughout, exactly as the reference runs it.
pub fn torben(m: &[f32]) -> f32 {
    let h = m.len().div_ceil(2);
    let (mut min, mut max) = m
        .iter()
        .fold((m[0], m[0]), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    loop {
        let guess = (min + max) / 2.0;
        let (mut less, mut greater, mut equal) = (0, 0, 0);
        let (mut maxlt, mut mingt) = (min, max);
        for &v in m {
            if v < guess {
                less += 1;
                if v > maxlt {
                    maxlt = v;
                }
            } else if v > guess {
                greater += 1;
                if v < mingt {
                    mingt = v;
                }
            } else {
                equal += 1;
            }
        }
        if less <= h && greater <= h {
            return if less >= h {
                maxlt
            } else if less + equal >= h {
                guess
            } else {
                mingt
            };
        }
        if less > greater {
            max = maxlt;
        } else {
            min = mingt;
        }
    }
}

/// Where coefficient (i, j) of the original goes in variant `d`, and whether it is negated.
/// This table is the whole of the dihedral logic; the GPU reads it from a uniform array
/// built by [`dihedral_table`].
pub fn dihedral_target(d: Dihedral, i: usize, j: usize) -> (usize, bool) {
    let odd = |x: usize| x & 1 == 1;
    let (transpose, negate) = match d {
        Dihedral::Original => (false, false),
        Dihedral::Rotate90 => (true, !odd(j)),
        Dihedral::Rotate180 => (false, odd(i + j)),
        Dihedral::Rotate270 => (true, !odd(i)),
        Dihedral::FlipX => (false, !odd(i)),
        Dihedral::FlipY => (false, !odd(j)),
        Dihedral::FlipPlus1 => (true, false),
        Dihedral::FlipMinus1 => (true, odd(i + j)),
    };
    let pos = if transpose { j * 16 + i } else { i * 16 + j };
    (pos, negate)
}

/// For each variant and source coefficient: target index, with bit 8 set when negated.
pub fn dihedral_table() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    for (v, d) in Dihedral::ALL.iter().enumerate() {
        for (k, slot) in t[v].iter_mut().enumerate() {
            let (pos, neg) = dihedral_target(*d, k / 16, k % 16);
            *slot = pos as u32 | (u32::from(neg) << 8);
        }
    }
    t
}

pub fn dihedral(b: &[f32; 256], d: Dihedral) -> [f32; 256] {
    let mut out = [0.0f32; 256];
    for (k, &v) in b.iter().enumerate() {
        let (pos, neg) = dihedral_target(d, k / 16, k % 16);
        out[pos] = if neg { -v } else { v };
    }
    out
}

/// Bit `k` is set when coefficient `k` is strictly above the median.
pub fn bits(b: &[f32; 256]) -> Pdq256 {
    let median = torben(b);
    let mut h = Pdq256::default();
    for (k, &v) in b.iter().enumerate() {
        if v > median {
            h.set_bit(k);
        }
    }
    h
}

/// Quality and all eight hashes from the 64x64 image.
pub fn pdq_from_64(a: &[f32; 4096]) -> PdqHashes {
    let b = dct64_to_16(a);
    let mut hashes = [Pdq256::default(); 8];
    for (h, d) in hashes.iter_mut().zip(Dihedral::ALL) {
        *h = bits(&dihedral(&b, d));
    }
    PdqHashes {
        quality: quality(a),
        hashes,
    }
}

/// The 64x64 image the hash is taken from, or `None` when the image is too small to hash.
pub fn downsample(rgb: &[u8], rows: usize, cols: usize) -> Option<[f32; 4096]> {
    if rows < MIN_HASHABLE_DIM || cols < MIN_HASHABLE_DIM {
        return None;
    }
    let mut buf1 = vec![0.0f32; rows * cols];
    luma::luma(rgb, &mut buf1);
    // A 64x64 input is filtered too (window 1, whose running sum still rounds), as the
    // reference's dihedral entry point does; only its single-hash entry point skips it.
    let mut buf2 = vec![0.0f32; rows * cols];
    jarosz::jarosz(&mut buf1, &mut buf2, rows, cols);
    Some(decimate::decimate(&buf1, rows, cols))
}

/// The whole CPU PDQ pipeline on one RGB8 image.
pub fn pdq(rgb: &[u8], rows: usize, cols: usize) -> PdqHashes {
    match downsample(rgb, rows, cols) {
        Some(a) => pdq_from_64(&a),
        None => PdqHashes::default(),
    }
}
