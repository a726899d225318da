// Exact Hamming scan of a range of reference entries against all query hashes
// (CPU mirror: src/cpu/hamming.rs). One invocation per reference entry, its hash held in
// registers; query hashes and their cutoffs pass through workgroup memory in tiles.
//
// The host prepends two constants, so each hash width gets its own unrolled kernel:
//   WORDS:  u32 words per hash (8 for PDQ, 2 for pHash);
//   PREFIX: words compared before the rest is worth it. The distance over a prefix is a
//           lower bound of the whole, so a pair past its cutoff there is skipped exactly
//           (the CPU matcher's early-out; PREFIX = WORDS turns it off).
//
// `scan` runs in two modes:
//   mode 0: append every pair within the query's cutoff to `results`, an append buffer: when
//           it fills, the count keeps growing and `overflowed` is set, so the host can grow
//           it and run again (a count that wrapped past 2^32 is caught by the flag too);
//   mode 1: count distances per query (top-k pass 1); then `cutoff` turns the counts into
//           each query's cutoff: the smallest distance with at least k entries at or below.

struct Params {
    // Entries in this dispatch.
    refs: u32,
    // Query hashes.
    queries: u32,
    max_distance: u32,
    capacity: u32,
    mode: u32,
    top_k: u32,
    // Workgroups along x, to rebuild the entry index of a 2-D grid.
    groups_x: u32,
    // First entry of this dispatch within the bound `refs` buffer.
    first: u32,
    // The number results give this dispatch's first entry (entries count from the start of
    // the host's submission, which may span several buffers).
    base: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

struct Results {
    count: atomic<u32>,
    overflowed: atomic<u32>,
    pad0: u32,
    pad1: u32,
    // (entry, query << 9 | distance)
    items: array<vec2<u32>>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> refs: array<u32>;
@group(0) @binding(2) var<storage, read> queries: array<u32>;
@group(0) @binding(3) var<storage, read_write> cutoffs: array<u32>;
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> results: Results;

const TILE: u32 = 128u;
const LANES: u32 = 256u;

var<workgroup> tile: array<u32, TILE * WORDS>;
var<workgroup> tile_cut: array<u32, TILE>;

fn record(entry: u32, q: u32, d: u32) {
    if params.mode == 1u {
        atomicAdd(&hist[q * (params.max_distance + 1u) + d], 1u);
        return;
    }
    let slot = atomicAdd(&results.count, 1u);
    if slot < params.capacity {
        results.items[slot] = vec2(params.base + entry, (q << 9u) | d);
    } else {
        atomicMax(&results.overflowed, 1u);
    }
}

@compute @workgroup_size(256)
fn scan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let entry = (wid.y * params.groups_x + wid.x) * LANES + lane;
    let live = entry < params.refs;
    var r: array<u32, WORDS>;
    if live {
        let at = (params.first + entry) * WORDS;
        for (var w = 0u; w < WORDS; w++) {
            r[w] = refs[at + w];
        }
    }
    for (var q0 = 0u; q0 < params.queries; q0 += TILE) {
        let n = min(TILE, params.queries - q0);
        workgroupBarrier();
        for (var i = lane; i < n * WORDS; i += LANES) {
            tile[i] = queries[q0 * WORDS + i];
        }
        for (var i = lane; i < n; i += LANES) {
            tile_cut[i] = cutoffs[q0 + i];
        }
        workgroupBarrier();
        if live {
            for (var t = 0u; t < n; t++) {
                let cut = tile_cut[t];
                var d = 0u;
                for (var w = 0u; w < PREFIX; w++) {
                    d += countOneBits(r[w] ^ tile[t * WORDS + w]);
                }
                if d <= cut {
                    for (var w = PREFIX; w < WORDS; w++) {
                        d += countOneBits(r[w] ^ tile[t * WORDS + w]);
                    }
                    if d <= cut {
                        record(entry, q0 + t, d);
                    }
                }
            }
        }
    }
}

@compute @workgroup_size(64)
fn cutoff(@builtin(global_invocation_id) gid: vec3<u32>) {
    let q = gid.x;
    if q >= params.queries {
        return;
    }
    var seen = 0u;
    var c = params.max_distance;
    for (var d = 0u; d <= params.max_distance; d++) {
        seen += atomicLoad(&hist[q * (params.max_distance + 1u) + d]);
        if seen >= params.top_k {
            c = d;
            break;
        }
    }
    cutoffs[q] = c;
}
