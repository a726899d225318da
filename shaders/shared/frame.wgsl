// Shared by every stage: where one frame of a batch lives in the packed buffers.
// Mirrors `FrameInfo` in src/gpu/batch.rs (same field order, 16 x u32).
struct FrameInfo {
    width: u32,
    height: u32,
    // Byte offset of the frame's RGB8 pixels in `rgb` (4-byte aligned).
    rgb_offset: u32,
    // Element offset of the frame's width x height planes in `luma` and `tmp`.
    pix_offset: u32,
    // Element offset of the frame's 32 x height plane in `mid` (pHash resample).
    mid_offset: u32,
    // Offsets of the horizontal and vertical Lanczos tap blocks in `taps`:
    // 32 (first, count) pairs, then 32 x ksize fixed-point coefficients.
    taps_h: u32,
    taps_v: u32,
    ksize_h: u32,
    ksize_v: u32,
    // Byte offset of the RGB8 pixels the pHash stages read: the same as `rgb_offset` except
    // for 16-bit grey images, which Pillow clips where PDQ scales (src/frame.rs).
    phash_rgb_offset: u32,
    pad1: u32,
    pad2: u32,
    pad3: u32,
    pad4: u32,
    pad5: u32,
    pad6: u32,
}

// Byte `idx` of the packed RGB stream, given the u32 word that holds it.
fn byte_of(word: u32, idx: u32) -> u32 {
    return (word >> ((idx & 3u) * 8u)) & 0xffu;
}
