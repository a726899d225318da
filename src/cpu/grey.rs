//! RGB8 -> 8-bit grey with Pillow's `convert("L")` integer weights, the first pHash stage
//! (GPU mirror: `shaders/grey.wgsl`).

#[inline(always)]
pub fn grey_of(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

pub fn grey(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| grey_of(p[0], p[1], p[2]))
        .collect()
}
