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

/// The three products of [`luma_of`] for every byte value. A product depends only on its
/// operands, so looking it up gives the same f32 bits and leaves only the two sums per pixel.
struct Products([[f32; 256]; 3]);

impl Products {
    fn get() -> &'static Products {
        static P: std::sync::OnceLock<Products> = std::sync::OnceLock::new();
        P.get_or_init(|| {
            let row = |w: f32| std::array::from_fn(|v| w * v as f32);
            Products([row(LUMA_R), row(LUMA_G), row(LUMA_B)])
        })
    }
}

pub fn luma(rgb: &[u8], out: &mut [f32]) {
    let [r, g, b] = &Products::get().0;
    for (px, y) in rgb.chunks_exact(3).zip(out.iter_mut()) {
        *y = r[usize::from(px[0])] + g[usize::from(px[1])] + b[usize::from(px[2])];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_luma_equals_direct_luma_for_every_channel_value() {
        let rgb: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 3]).collect();
        let mut out = vec![0.0; 256];
        luma(&rgb, &mut out);
        for (p, y) in rgb.chunks(3).zip(&out) {
            assert_eq!(y.to_bits(), luma_of(p[0], p[1], p[2]).to_bits());
        }
    }
}
