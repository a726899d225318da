//! Sample the blurred luma at 64x64 cell centres (GPU mirror: `shaders/decimate.wgsl`).

use super::jarosz::DOWNSAMPLE;

/// Source index of output cell `out` when `len` samples shrink to 64, computed in f64 and
/// truncated as the reference does.
#[inline]
pub fn source_index(out: usize, len: usize) -> usize {
    (((out as f64 + 0.5) * len as f64) / DOWNSAMPLE as f64) as usize
}

pub fn decimate(blurred: &[f32], rows: usize, cols: usize) -> [f32; 4096] {
    let mut out = [0.0f32; 4096];
    for i in 0..DOWNSAMPLE {
        let r = source_index(i, rows);
        for j in 0..DOWNSAMPLE {
            out[i * DOWNSAMPLE + j] = blurred[r * cols + source_index(j, cols)];
        }
    }
    out
}
