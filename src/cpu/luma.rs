//! RGB8 -> f32 luma, the first PDQ stage (GPU mirror: `shaders/luma.wgsl`).

/// Rec. 601 weights as the reference declares them (f32 constants).
pub const LUMA_R: f32 = 0.299;
pub const LUMA_G: f32 = 0.587;
pub const LUMA_B: f32 = 0.114;

/// One pixel, summed left to right in f32 as the reference does; a fused multiply-add would
/// round differently, so the operations stay separate.
#[inline(always)]
pub fn luma_of(r: u8, g: u8, b: u8) -> f32 {
    LUMA_R * f32::from(r) + LUMA_G * f32::from(g) + LUMA_B * f32::from(b)
}

pub fn luma(rgb: &[u8], out: &mut [f32]) {
    for (px, y) in rgb.chunks_exact(3).zip(out.iter_mut()) {
        *y = luma_of(px[0], px[1], px[2]);
    }
}
