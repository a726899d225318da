// PDQ from the 64x64 image: quality, D A D^T, the median of each dihedral variant, bits
// (CPU mirror: src/cpu/pdq.rs). One workgroup of 256 per frame; lane k owns coefficient k.
//
// The CPU follows the reference's Torben selection; here every lane counts how many values
// lie below and at or below its own, and the lane whose value holds rank 128 (1-based) is the
// median. Both select the same element of the same multiset, so the bits agree whenever the
// coefficients do.

@group(0) @binding(0) var<storage, read> down: array<f32>;
@group(0) @binding(1) var<storage, read> consts: PdqConsts;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

struct PdqConsts {
    // 16x64 DCT matrix, row-major (src/cpu/pdq.rs: dct_matrix).
    dct: array<f32, 1024>,
    // Per variant and source coefficient: target index, bit 8 set when negated.
    dihedral: array<u32, 2048>,
}

// Output record per frame: quality, 8 hashes x 8 words, 2 pHash words.
const OUT_STRIDE: u32 = 67u;
const MEDIAN_RANK: u32 = 127u;

var<workgroup> t: array<f32, 1024>;
var<workgroup> coeffs: array<f32, 256>;
var<workgroup> variant: array<f32, 256>;
var<workgroup> gradient: atomic<u32>;
var<workgroup> median: f32;
var<workgroup> bits: array<atomic<u32>, 8>;

fn gradient_step(u: f32, v: f32) -> u32 {
    let d = ((u - v) * 100.0) / 255.0;
    return u32(abs(i32(d)));
}

fn quality_part(a0: u32, lane: u32) -> u32 {
    var s = 0u;
    for (var p = lane; p < 4032u; p += 256u) {
        let i = p / 64u;
        let j = p % 64u;
        s += gradient_step(down[a0 + i * 64u + j], down[a0 + (i + 1u) * 64u + j]);
    }
    for (var p = lane; p < 4032u; p += 256u) {
        let i = p / 63u;
        let j = p % 63u;
        s += gradient_step(down[a0 + i * 64u + j], down[a0 + i * 64u + j + 1u]);
    }
    return s;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let a0 = wid.x * 4096u;
    let base = wid.x * OUT_STRIDE;
    if lane == 0u {
        atomicStore(&gradient, 0u);
    }
    workgroupBarrier();
    atomicAdd(&gradient, quality_part(a0, lane));

    for (var e = lane; e < 1024u; e += 256u) {
        let i = e / 64u;
        let j = e % 64u;
        var sum = 0.0;
        for (var k = 0u; k < 64u; k++) {
            sum += consts.dct[i * 64u + k] * down[a0 + k * 64u + j];
        }
        t[e] = sum;
    }
    workgroupBarrier();
    {
        let i = lane / 16u;
        let j = lane % 16u;
        var sum = 0.0;
        for (var k = 0u; k < 64u; k++) {
            sum += t[i * 64u + k] * consts.dct[j * 64u + k];
        }
        coeffs[lane] = sum;
    }
    workgroupBarrier();
    if lane == 0u {
        out[base] = min(atomicLoad(&gradient) / 90u, 100u);
    }

    for (var d = 0u; d < 8u; d++) {
        let e = consts.dihedral[d * 256u + lane];
        let pos = e & 255u;
        let value = select(coeffs[lane], -coeffs[lane], (e >> 8u) != 0u);
        variant[pos] = value;
        if lane < 8u {
            atomicStore(&bits[lane], 0u);
        }
        workgroupBarrier();
        var less = 0u;
        var at_most = 0u;
        for (var k = 0u; k < 256u; k++) {
            let u = variant[k];
            less += select(0u, 1u, u < value);
            at_most += select(0u, 1u, u <= value);
        }
        if less <= MEDIAN_RANK && MEDIAN_RANK < at_most {
            median = value;
        }
        workgroupBarrier();
        if value > median {
            atomicOr(&bits[pos / 32u], 1u << (pos % 32u));
        }
        workgroupBarrier();
        if lane < 8u {
            out[base + 1u + d * 8u + lane] = atomicLoad(&bits[lane]);
        }
        workgroupBarrier();
    }
}
