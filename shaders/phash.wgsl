// pHash from the 32x32 grey image: the 8x8 low-frequency DCT-II, the median of the 64
// values, bits (CPU mirror: src/cpu/phash.rs). One workgroup of 64 per frame.
//
// The CPU sums in f64 as scipy does; WGSL has no f64. To keep the exact zeros of symmetric
// images (constant frames, stripes), which decide bits when the median is zero, samples that
// meet the same cosine are summed first (in integers for the first pass), then multiplied:
// a cancellation that is exact in the mathematics is exact here. What remains is f32
// rounding on large coefficients, stated and bounded in tests/gpu.rs.

@group(0) @binding(0) var<storage, read> small: array<u32>;
@group(0) @binding(1) var<storage, read> consts: PhashConsts;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

struct PhashConsts {
    // src/cpu/phash.rs: angle_fold, then fold_cosines as f32.
    fold: array<u32, 256>,
    cosines: array<f32, 36>,
}

const OUT_STRIDE: u32 = 67u;
const PHASH_WORDS: u32 = 65u;
// src/cpu/phash.rs: ZERO_SNAP.
const ZERO_SNAP: f32 = 0x1p-10f;

var<workgroup> cols: array<f32, 256>;
var<workgroup> low: array<f32, 64>;
var<workgroup> lower_mid: f32;
var<workgroup> upper_mid: f32;
var<workgroup> words: array<atomic<u32>, 2>;

fn sign_of(e: u32) -> i32 {
    return 1i - 2i * i32(e >> 8u);
}

// y[k][m] = sum_n x[n][m] c[k][n], folded by cosine in exact integers.
fn column_dct(s0: u32, k: u32, m: u32) -> f32 {
    var acc: array<i32, 33>;
    for (var n = 0u; n < 32u; n++) {
        let e = consts.fold[k * 32u + n];
        acc[e & 255u] += sign_of(e) * i32(small[s0 + n * 32u + m]);
    }
    var y = 0.0;
    for (var j = 0u; j < 33u; j++) {
        y += f32(acc[j]) * consts.cosines[j];
    }
    return y;
}

// z[k][l] = sum_m y[k][m] c[l][m], folded by cosine.
fn row_dct(k: u32, l: u32) -> f32 {
    var acc: array<f32, 33>;
    for (var m = 0u; m < 32u; m++) {
        let e = consts.fold[l * 32u + m];
        acc[e & 255u] += f32(sign_of(e)) * cols[k * 32u + m];
    }
    var z = 0.0;
    for (var j = 0u; j < 33u; j++) {
        z += acc[j] * consts.cosines[j];
    }
    return select(z, 0.0, abs(z) < ZERO_SNAP);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let s0 = wid.x * 1024u;
    if lane < 2u {
        atomicStore(&words[lane], 0u);
    }
    for (var e = lane; e < 256u; e += 64u) {
        cols[e] = column_dct(s0, e / 32u, e % 32u);
    }
    workgroupBarrier();
    let z = row_dct(lane / 8u, lane % 8u);
    low[lane] = z;
    workgroupBarrier();
    var less = 0u;
    var at_most = 0u;
    for (var i = 0u; i < 64u; i++) {
        less += select(0u, 1u, low[i] < z);
        at_most += select(0u, 1u, low[i] <= z);
    }
    if less <= 31u && 31u < at_most {
        lower_mid = z;
    }
    if less <= 32u && 32u < at_most {
        upper_mid = z;
    }
    workgroupBarrier();
    // z > (lower + upper) / 2 without rounding: above the upper middle value, or equal to it
    // when the two middle values differ.
    let lo = lower_mid;
    let up = upper_mid;
    if z > up || (z == up && lo < up) {
        // Bit (k, l) is bit 63 - lane of the hash: word 0 holds the high half.
        let b = 63u - lane;
        atomicOr(&words[1u - b / 32u], 1u << (b % 32u));
    }
    workgroupBarrier();
    if lane < 2u {
        out[wid.x * OUT_STRIDE + PHASH_WORDS + lane] = atomicLoad(&words[lane]);
    }
}
