// RGB8 -> f32 luma, one invocation per pixel (CPU mirror: src/cpu/luma.rs).
// Dispatch: (x, frames); each workgroup row y is one frame, x strides over its pixels.

@group(0) @binding(0) var<storage, read> frames: array<FrameInfo>;
@group(0) @binding(1) var<storage, read> rgb: array<u32>;
@group(0) @binding(2) var<storage, read_write> luma: array<f32>;

// The reference's f32 weights as exact hexadecimal floats, so that no decimal-to-float
// rounding in a shader compiler can differ from Rust's (a test checks them against
// src/cpu/luma.rs).
const LUMA_R: f32 = 0x1.322d0ep-2f;
const LUMA_G: f32 = 0x1.2c8b44p-1f;
const LUMA_B: f32 = 0x1.d2f1aap-4f;

fn channel(idx: u32) -> f32 {
    return f32(byte_of(rgb[idx >> 2u], idx));
}

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let f = frames[gid.y];
    let n = f.width * f.height;
    for (var i = gid.x; i < n; i += groups.x * 256u) {
        let b = f.rgb_offset + 3u * i;
        luma[f.pix_offset + i] = LUMA_R * channel(b) + LUMA_G * channel(b + 1u) + LUMA_B * channel(b + 2u);
    }
}
