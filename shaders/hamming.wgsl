// Exact Hamming scan of a chunk of the reference set against all query hashes
// (CPU mirror: src/cpu/hamming.rs). One invocation per reference entry; query hashes pass
// through workgroup memory in tiles. `scan` runs in two modes:
//   mode 0: append every pair within the query's cutoff to `results` (an append buffer;
//           when it fills, the count keeps growing so the host can grow it and rerun);
//   mode 1: count distances per query (top-k pass 1), then `cutoffs` turns the counts into
//           each query's cutoff: the smallest distance with at least k entries at or below.

struct Params {
    // Entries in this chunk.
    refs: u32,
    // Query hashes.
    queries: u32,
    // u32 words per hash: 8 (PDQ) or 2 (pHash).
    words: u32,
    max_distance: u32,
    capacity: u32,
    mode: u32,
    top_k: u32,
    // Workgroups along x, to rebuild the entry index of a 2-D grid.
    groups_x: u32,
}

struct Results {
    count: atomic<u32>,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    // (entry in chunk, query << 9 | distance)
    items: array<vec2<u32>>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> refs: array<u32>;
@group(0) @binding(2) var<storage, read> queries: array<u32>;
@group(0) @binding(3) var<storage, read_write> cutoffs: array<u32>;
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> results: Results;

const TILE: u32 = 64u;
const LANES: u32 = 256u;

var<workgroup> tile: array<u32, 512>;

fn record(entry: u32, q: u32, d: u32) {
    if params.mode == 1u {
        atomicAdd(&hist[q * (params.max_distance + 1u) + d], 1u);
        return;
    }
    let slot = atomicAdd(&results.count, 1u);
    if slot < params.capacity {
        results.items[slot] = vec2(entry, (q << 9u) | d);
    }
}

@compute @workgroup_size(256)
fn scan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let entry = (wid.y * params.groups_x + wid.x) * LANES + lane;
    let live = entry < params.refs;
    let words = params.words;
    var r: array<u32, 8>;
    if live {
        for (var w = 0u; w < words; w++) {
            r[w] = refs[entry * words + w];
        }
    }
    for (var q0 = 0u; q0 < params.queries; q0 += TILE) {
        let n = min(TILE, params.queries - q0);
        workgroupBarrier();
        for (var i = lane; i < n * words; i += LANES) {
            tile[i] = queries[q0 * words + i];
        }
        workgroupBarrier();
        if live {
            for (var t = 0u; t < n; t++) {
                var d = 0u;
                for (var w = 0u; w < words; w++) {
                    d += countOneBits(r[w] ^ tile[t * words + w]);
                }
                if d <= cutoffs[q0 + t] {
                    record(entry, q0 + t, d);
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
