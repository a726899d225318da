// RGB8 -> 8-bit grey with Pillow's integer weights, one invocation per pixel
// (CPU mirror: src/cpu/grey.rs). Written as u32 into the `tmp` plane.

@group(0) @binding(0) var<storage, read> frames: array<FrameInfo>;
@group(0) @binding(1) var<storage, read> rgb: array<u32>;
@group(0) @binding(2) var<storage, read_write> grey: array<u32>;

fn channel(idx: u32) -> u32 {
    return byte_of(rgb[idx >> 2u], idx);
}

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let f = frames[gid.y];
    let n = f.width * f.height;
    for (var i = gid.x; i < n; i += groups.x * 256u) {
        let b = f.phash_rgb_offset + 3u * i;
        let l = channel(b) * 19595u + channel(b + 1u) * 38470u + channel(b + 2u) * 7471u + 0x8000u;
        grey[f.pix_offset + i] = l >> 16u;
    }
}
