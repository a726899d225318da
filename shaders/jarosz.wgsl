// Jarosz filter: running-sum box blurs, one invocation per row (`rows`: luma -> tmp) or per
// column (`cols`: tmp -> luma); the host dispatches rows, cols, rows, cols
// (CPU mirror: src/cpu/jarosz.rs). Each output keeps the reference's f32 operation order.

@group(0) @binding(0) var<storage, read> frames: array<FrameInfo>;
@group(0) @binding(1) var<storage, read_write> luma: array<f32>;
@group(0) @binding(2) var<storage, read_write> tmp: array<f32>;

fn window_size(old: u32) -> u32 {
    return (old + 127u) / 128u;
}

// Frames under 5 pixels a side are not hashed (the host reports them as all zeros).
fn skip(f: FrameInfo) -> bool {
    return f.width < 5u || f.height < 5u;
}

fn load(rows_pass: bool, i: u32) -> f32 {
    if rows_pass {
        return luma[i];
    }
    return tmp[i];
}

fn store(rows_pass: bool, i: u32, v: f32) {
    if rows_pass {
        tmp[i] = v;
    } else {
        luma[i] = v;
    }
}

// The four phases of the reference's box blur over n samples starting at `base`.
fn box_1d(rows_pass: bool, base: u32, stride: u32, n: u32, w: u32) {
    let half = (w + 2u) / 2u;
    var sum = 0.0;
    var count = 0u;
    var right = base;
    var left = base;
    var out = base;
    for (var k = 0u; k < half - 1u; k++) {
        sum += load(rows_pass, right);
        count += 1u;
        right += stride;
    }
    for (var k = 0u; k < w - half + 1u; k++) {
        sum += load(rows_pass, right);
        count += 1u;
        store(rows_pass, out, sum / f32(count));
        right += stride;
        out += stride;
    }
    for (var k = 0u; k < n - w; k++) {
        sum += load(rows_pass, right);
        sum -= load(rows_pass, left);
        store(rows_pass, out, sum / f32(count));
        left += stride;
        right += stride;
        out += stride;
    }
    for (var k = 0u; k < half - 1u; k++) {
        sum -= load(rows_pass, left);
        count -= 1u;
        store(rows_pass, out, sum / f32(count));
        left += stride;
        out += stride;
    }
}

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let f = frames[gid.y];
    if skip(f) {
        return;
    }
    for (var r = gid.x; r < f.height; r += groups.x * 64u) {
        box_1d(true, f.pix_offset + r * f.width, 1u, f.width, window_size(f.width));
    }
}

@compute @workgroup_size(64)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let f = frames[gid.y];
    if skip(f) {
        return;
    }
    for (var c = gid.x; c < f.width; c += groups.x * 64u) {
        box_1d(false, f.pix_offset + c, f.width, f.height, window_size(f.height));
    }
}
