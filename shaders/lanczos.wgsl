// Pillow's fixed-point LANCZOS resize to 32x32: `horizontal` (grey -> mid, 32 x height) then
// `vertical` (mid -> small, 32x32) (CPU mirror: src/cpu/lanczos.rs). The taps come from the
// CPU, computed once per size, so both backends use the same integers.

@group(0) @binding(0) var<storage, read> frames: array<FrameInfo>;
@group(0) @binding(1) var<storage, read> taps: array<i32>;
@group(0) @binding(2) var<storage, read> grey: array<u32>;
@group(0) @binding(3) var<storage, read_write> mid: array<u32>;
@group(0) @binding(4) var<storage, read_write> small: array<u32>;

const PRECISION_BITS: u32 = 22u;
const ROUND_HALF: i32 = 1i << (PRECISION_BITS - 1u);

fn clip8(acc: i32) -> u32 {
    return u32(clamp(acc >> PRECISION_BITS, 0i, 255i));
}

@compute @workgroup_size(256)
fn horizontal(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let f = frames[gid.y];
    let n = 32u * f.height;
    for (var i = gid.x; i < n; i += groups.x * 256u) {
        let y = i / 32u;
        let xx = i % 32u;
        let first = u32(taps[f.taps_h + 2u * xx]);
        let count = u32(taps[f.taps_h + 2u * xx + 1u]);
        let k0 = f.taps_h + 64u + xx * f.ksize_h;
        let row = f.pix_offset + y * f.width + first;
        var acc = ROUND_HALF;
        for (var x = 0u; x < count; x++) {
            acc += i32(grey[row + x]) * taps[k0 + x];
        }
        mid[f.mid_offset + i] = clip8(acc);
    }
}

@compute @workgroup_size(256)
fn vertical(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let f = frames[gid.y];
    for (var i = gid.x; i < 1024u; i += groups.x * 256u) {
        let yy = i / 32u;
        let xx = i % 32u;
        let first = u32(taps[f.taps_v + 2u * yy]);
        let count = u32(taps[f.taps_v + 2u * yy + 1u]);
        let k0 = f.taps_v + 64u + yy * f.ksize_v;
        var acc = ROUND_HALF;
        for (var y = 0u; y < count; y++) {
            acc += i32(mid[f.mid_offset + (first + y) * 32u + xx]) * taps[k0 + y];
        }
        small[gid.y * 1024u + i] = clip8(acc);
    }
}
