// Sample the blurred luma at 64x64 cell centres (CPU mirror: src/cpu/decimate.rs).
// Dispatch: (64, frames) workgroups of 64: workgroup x is the output row, lane the column.
// The reference computes (i + 0.5) * n / 64 in f64 and truncates; for any n below 2^24 / 127
// that equals the integer (2i + 1) * n / 128, which is what runs here.

@group(0) @binding(0) var<storage, read> frames: array<FrameInfo>;
@group(0) @binding(1) var<storage, read> luma: array<f32>;
@group(0) @binding(2) var<storage, read_write> down: array<f32>;

fn source_index(out: u32, n: u32) -> u32 {
    return ((2u * out + 1u) * n) / 128u;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let f = frames[wid.y];
    let i = wid.x;
    let j = lid.x;
    let src = f.pix_offset + source_index(i, f.height) * f.width + source_index(j, f.width);
    down[wid.y * 4096u + i * 64u + j] = luma[src];
}
