//! Exact Hamming matching on the GPU.
//!
//! A reference set that fits the device stays resident (`resident.rs`): every call after the
//! first (each round of a scan, each batch of `match`) sends only its queries, and a set held
//! in several buffers is scanned with one dispatch each, all in one submission. A set the
//! device cannot hold streams through in chunks instead.
//!
//! Pairs come back through an append buffer. Only what was found crosses the bus: first the
//! count, then exactly that many pairs. A count past the buffer's capacity grows it and runs
//! again, and a submission too dense for the largest buffer is split, so no pair is ever
//! dropped. Top-k keeps a per-query distance histogram on the device (pass 1) and appends
//! only pairs within each query's k-th distance (pass 2).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytemuck::{Pod, Zeroable};

use super::buffers::{self, Slots};
use super::context::{GpuContext, GpuError, submit_and_read};
pub use super::resident::SetView;
use super::resident::{Resident, ResidentSets};
use crate::cpu::hamming::{self, Hit};

const SOURCE: &str = include_str!("../../shaders/hamming.wgsl");
const LANES: u64 = 256;
/// First size of the append buffer, in pairs; it grows on overflow.
const FIRST_CAPACITY: u32 = 1 << 16;
/// At most this many entries per streamed chunk whatever the adapter allows (128 MiB of PDQ).
const MAX_CHUNK_ENTRIES: u64 = 1 << 22;
/// Query hashes per pass: a result packs the query index beside a 9-bit distance in a u32.
const MAX_QUERIES: usize = (1 << 23) - 1;
/// `HASHSWEEP_GPU_RESIDENT_MAX`: bytes of reference sets kept on the device at most
/// (default: as much as the device will allocate).
const RESIDENT_MAX_ENV: &str = "HASHSWEEP_GPU_RESIDENT_MAX";

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, Default)]
struct Params {
    refs: u32,
    queries: u32,
    max_distance: u32,
    capacity: u32,
    mode: u32,
    top_k: u32,
    groups_x: u32,
    first: u32,
    base: u32,
    pad: [u32; 3],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Buf {
    Params,
    Queries,
    Cutoffs,
    Hist,
    Results,
    Readback,
    Stream,
}

/// What to find: every entry within `max_distance` of each query hash (`hash_words` u64
/// each, like the set's), or with `top_k` a superset of each one's K nearest that the
/// caller trims.
pub struct Request<'a> {
    pub queries: &'a [u64],
    pub max_distance: u32,
    pub top_k: Option<usize>,
}

/// Counters a matcher leaves behind, for reports and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MatchStats {
    /// Chunks streamed (sets that are not resident).
    pub chunks: u64,
    pub bytes_streamed: u64,
    /// Sets uploaded to stay resident, and calls served by a set already there.
    pub resident_uploads: u64,
    pub resident_reuses: u64,
    pub overflow_reruns: u64,
    /// Submissions that appended pairs (each one count read back, then the pairs).
    pub submissions: u64,
}

/// One dispatch: `count` entries from entry `first` of `buffer`, reported as `base + i`
/// (entries counted from the start of the submission).
#[derive(Clone)]
struct Segment {
    buffer: wgpu::Buffer,
    first: u32,
    count: u32,
    base: u32,
}

struct Kernel {
    scan: wgpu::ComputePipeline,
    cutoff: wgpu::ComputePipeline,
}

pub struct GpuMatcher {
    ctx: Arc<GpuContext>,
    kernels: Mutex<HashMap<(u32, u32), Arc<Kernel>>>,
    resident: ResidentSets,
    /// Scratch buffers; holding the lock is holding the matcher (one call at a time).
    scratch: Mutex<Slots<Buf>>,
    capacity: Mutex<u32>,
    chunk_entries: Mutex<Option<u64>>,
    stats: Mutex<MatchStats>,
    retired: Mutex<Option<GpuError>>,
}

impl GpuMatcher {
    pub fn new(ctx: Arc<GpuContext>) -> Result<GpuMatcher, GpuError> {
        let budget = std::env::var(RESIDENT_MAX_ENV)
            .ok()
            .and_then(|v| v.parse().ok());
        let m = GpuMatcher {
            ctx,
            kernels: Mutex::new(HashMap::new()),
            resident: ResidentSets::new(budget),
            scratch: Mutex::new(Slots::new()),
            capacity: Mutex::new(FIRST_CAPACITY),
            chunk_entries: Mutex::new(None),
            stats: Mutex::new(MatchStats::default()),
            retired: Mutex::new(None),
        };
        // Both widths compile now, so a shader error shows at open, not mid-run.
        for words in [2, 8] {
            m.kernel(words, words)?;
        }
        Ok(m)
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    pub fn stats(&self) -> MatchStats {
        let (resident_uploads, resident_reuses) = self.resident.uses();
        MatchStats {
            resident_uploads,
            resident_reuses,
            ..*self.stats.lock().unwrap()
        }
    }

    /// Tests shrink chunks and the append buffer to exercise streaming and overflow.
    pub fn set_chunk_entries(&self, n: Option<u64>) {
        *self.chunk_entries.lock().unwrap() = n;
    }

    pub fn set_capacity(&self, pairs: u32) {
        *self.capacity.lock().unwrap() = pairs.max(1);
    }

    /// Bytes of sets kept resident at most (`Some(0)`: always stream).
    pub fn set_resident_budget(&self, bytes: Option<u64>) {
        self.resident.set_budget(bytes);
    }

    /// Bytes per resident buffer at most (below the binding limit), so that tests split a
    /// small set over several bindings as a large one is on a real device.
    pub fn set_part_bytes(&self, bytes: Option<u64>) {
        self.resident.set_part_bytes(bytes);
    }

    /// Forget a resident set, freeing its device memory.
    pub fn release(&self, key: u64) {
        self.resident.release(key);
    }

    /// How many device buffers hold a resident set (`None`: not resident).
    pub fn resident_parts(&self, key: u64) -> Option<usize> {
        self.resident.parts(key)
    }

    /// Bytes of reference sets now resident.
    pub fn resident_bytes(&self) -> u64 {
        self.resident.bytes()
    }

    /// Every pair of (query hash, entry) within the cutoff; with `top_k`, a superset of
    /// each query hash's k nearest that `matching::finalize` trims exactly like the CPU's.
    ///
    /// On an error the scratch buffers are dropped (one may be left mapped or half made).
    /// Out of memory is worth another call; after a lost or hung device every later call
    /// fails at once with the same error, so callers move to the CPU without waiting again.
    pub fn scan(&self, set: &SetView, req: &Request) -> Result<Vec<Hit>, GpuError> {
        if let Some(e) = self.retired.lock().unwrap().clone() {
            return Err(e);
        }
        let mut scratch = self.scratch.lock().unwrap();
        let found = self.ctx.scoped(|| self.scan_with(&mut scratch, set, req));
        found.inspect_err(|e| {
            *scratch = Slots::new();
            if !e.is_recoverable() {
                self.resident.clear();
                *self.retired.lock().unwrap() = Some(e.clone());
            }
        })
    }

    fn scan_with(
        &self,
        scratch: &mut Slots<Buf>,
        set: &SetView,
        req: &Request,
    ) -> Result<Vec<Hit>, GpuError> {
        let w = set.hash_words;
        if set.words.is_empty() || req.queries.is_empty() || req.top_k == Some(0) {
            return Ok(vec![]);
        }
        // Distances never exceed the width, so a larger cutoff is the width.
        let max_d = req.max_distance.min((w * 64) as u32);
        let prefix = 2 * hamming::prefix_words(w, max_d) as u32;
        let kernel = self.kernel(2 * w as u32, prefix)?;
        let resident = self.resident.get_or_upload(&self.ctx, set);
        let group = self.query_group(w, max_d, req.top_k.is_some());
        let mut hits = vec![];
        for (g, qs) in req.queries.chunks(group * w).enumerate() {
            let pass = Pass {
                kernel: &kernel,
                set,
                resident: resident.as_deref(),
                max_distance: max_d,
                top_k: req.top_k,
            };
            let start = hits.len();
            self.scan_queries(scratch, &pass, qs, &mut hits)?;
            for h in &mut hits[start..] {
                h.query += (g * group) as u32;
            }
        }
        Ok(hits)
    }

    /// Query hashes per pass: the index limit, and the queries (and top-k histogram) must
    /// each fit one storage binding.
    fn query_group(&self, w: usize, max_d: u32, top_k: bool) -> usize {
        let binding = buffers::limit(&self.ctx, buffers::storage());
        let mut n = MAX_QUERIES.min((binding / (w as u64 * 8)) as usize);
        if top_k {
            n = n.min((binding / 4 / (u64::from(max_d) + 1)) as usize);
            // The cutoff pass runs one invocation per query hash, 64 to a workgroup, on one
            // dispatch dimension.
            let max_x = self.ctx.limits.max_compute_workgroups_per_dimension as usize;
            n = n.min(max_x * 64);
        }
        n.max(1)
    }

    fn scan_queries(
        &self,
        scratch: &mut Slots<Buf>,
        pass: &Pass,
        qs: &[u64],
        hits: &mut Vec<Hit>,
    ) -> Result<(), GpuError> {
        let ctx = &self.ctx;
        let nq = qs.len() / pass.set.hash_words;
        let storage = buffers::storage();
        let queries =
            scratch.reserve(ctx, Buf::Queries, "queries", qs.len() as u64 * 8, storage)?;
        ctx.queue.write_buffer(queries, 0, bytemuck::cast_slice(qs));
        let cutoffs = scratch.reserve(ctx, Buf::Cutoffs, "cutoffs", nq as u64 * 4, storage)?;
        ctx.queue.write_buffer(
            cutoffs,
            0,
            bytemuck::cast_slice(&vec![pass.max_distance; nq]),
        );
        ctx.count(|c| c.queries_bytes_uploaded += qs.len() as u64 * 8 + nq as u64 * 4);
        let hist_len = match pass.top_k {
            Some(_) => nq as u64 * (u64::from(pass.max_distance) + 1),
            None => 1,
        };
        let hist = scratch.reserve(ctx, Buf::Hist, "histogram", hist_len * 4, storage)?;
        let mut params = Params {
            queries: nq as u32,
            max_distance: pass.max_distance,
            top_k: pass.top_k.unwrap_or(0).min(u32::MAX as usize) as u32,
            ..Params::default()
        };
        if pass.top_k.is_some() {
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            enc.clear_buffer(hist, 0, None);
            ctx.queue.submit([enc.finish()]);
            params.mode = 1;
            self.sweep(scratch, pass, &mut params, hits)?;
            self.run_cutoffs(scratch, pass.kernel, &params)?;
            params.mode = 0;
        }
        self.sweep(scratch, pass, &mut params, hits)
    }

    /// One mode over the whole set: the resident parts in one submission, or each streamed
    /// chunk in its own.
    fn sweep(
        &self,
        scratch: &mut Slots<Buf>,
        pass: &Pass,
        params: &mut Params,
        hits: &mut Vec<Hit>,
    ) -> Result<(), GpuError> {
        if let Some(r) = pass.resident {
            let segs: Vec<Segment> = r
                .parts
                .iter()
                .map(|p| Segment {
                    buffer: p.buffer.clone(),
                    first: 0,
                    count: p.entries as u32,
                    base: p.start as u32,
                })
                .collect();
            return self.run(scratch, pass.kernel, &segs, 0, params, hits);
        }
        let w = pass.set.hash_words;
        let n = (pass.set.words.len() / w) as u64;
        let chunk = self.chunk_len(w as u64);
        for start in (0..n).step_by(chunk as usize) {
            let end = (start + chunk).min(n);
            let slice = &pass.set.words[start as usize * w..end as usize * w];
            let bytes = slice.len() as u64 * 8;
            let stream = scratch
                .reserve(
                    &self.ctx,
                    Buf::Stream,
                    "streamed chunk",
                    bytes,
                    buffers::storage(),
                )?
                .clone();
            self.ctx
                .queue
                .write_buffer(&stream, 0, bytemuck::cast_slice(slice));
            self.ctx.count(|c| c.refs_bytes_uploaded += bytes);
            {
                let mut s = self.stats.lock().unwrap();
                s.chunks += 1;
                s.bytes_streamed += bytes;
            }
            let seg = Segment {
                buffer: stream,
                first: 0,
                count: (end - start) as u32,
                base: 0,
            };
            self.run(scratch, pass.kernel, &[seg], start, params, hits)?;
        }
        Ok(())
    }

    /// Run `segs` (entries numbered from `offset` in the whole set); a submission too dense
    /// for the largest append buffer is split in halves, down to single entries.
    fn run(
        &self,
        scratch: &mut Slots<Buf>,
        kernel: &Kernel,
        segs: &[Segment],
        offset: u64,
        params: &mut Params,
        hits: &mut Vec<Hit>,
    ) -> Result<(), GpuError> {
        match self.run_once(scratch, kernel, segs, params) {
            Ok(pairs) => {
                hits.extend(pairs.chunks_exact(2).map(|it| Hit {
                    query: it[1] >> 9,
                    entry: offset + u64::from(it[0]),
                    distance: it[1] & 511,
                }));
                Ok(())
            }
            Err(GpuError::TooDense) => {
                let halves = split(segs).ok_or(GpuError::TooDense)?;
                for half in halves {
                    self.run(scratch, kernel, &half, offset, params, hits)?;
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One submission of `segs`; in append mode, the pairs (run again with a larger buffer
    /// until none was dropped).
    fn run_once(
        &self,
        scratch: &mut Slots<Buf>,
        kernel: &Kernel,
        segs: &[Segment],
        params: &mut Params,
    ) -> Result<Vec<u32>, GpuError> {
        let ctx = &self.ctx;
        loop {
            params.capacity = *self.capacity.lock().unwrap();
            let result_bytes = 16 + u64::from(params.capacity) * 8;
            let results = scratch
                .reserve(
                    ctx,
                    Buf::Results,
                    "match results",
                    result_bytes,
                    buffers::storage(),
                )?
                .clone();
            ctx.queue.write_buffer(&results, 0, &[0u8; 16]);
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            self.encode_segments(scratch, &mut enc, &kernel.scan, segs, params)?;
            if params.mode == 1 {
                let index = ctx.submit(vec![enc.finish()]);
                return ctx.wait(index).map(|_| vec![]);
            }
            let readback = scratch
                .reserve(ctx, Buf::Readback, "read-back", 16, buffers::map_read())?
                .clone();
            enc.copy_buffer_to_buffer(&results, 0, &readback, 0, 16);
            let head = submit_and_read(ctx, enc.finish(), &readback, 16)?;
            let head: &[u32] = bytemuck::cast_slice(&head);
            self.stats.lock().unwrap().submissions += 1;
            ctx.count(|c| c.match_submissions += 1);
            let (count, overflowed) = (head[0], head[1] != 0);
            if !overflowed {
                return self.read_pairs(scratch, &results, count);
            }
            if count <= params.capacity {
                // The counter wrapped past 2^32: far too dense for one submission.
                return Err(GpuError::TooDense);
            }
            // Overflow: grow to what this submission needs and run it again; nothing is
            // lost. Past what one binding can hold, the caller splits it instead.
            let most =
                ((buffers::limit(ctx, buffers::storage()) - 16) / 8).min(u64::from(u32::MAX));
            if u64::from(count) > most {
                *self.capacity.lock().unwrap() = most as u32;
                return Err(GpuError::TooDense);
            }
            *self.capacity.lock().unwrap() = u64::from(count).next_power_of_two().min(most) as u32;
            self.stats.lock().unwrap().overflow_reruns += 1;
        }
    }

    /// Exactly `count` pairs from the front of the append buffer.
    fn read_pairs(
        &self,
        scratch: &mut Slots<Buf>,
        results: &wgpu::Buffer,
        count: u32,
    ) -> Result<Vec<u32>, GpuError> {
        if count == 0 {
            return Ok(vec![]);
        }
        let ctx = &self.ctx;
        let bytes = u64::from(count) * 8;
        let readback = scratch
            .reserve(ctx, Buf::Readback, "read-back", bytes, buffers::map_read())?
            .clone();
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(results, 16, &readback, 0, bytes);
        let pairs = submit_and_read(ctx, enc.finish(), &readback, bytes)?;
        Ok(bytemuck::cast_slice(&pairs).to_vec())
    }

    /// One dispatch per segment, each with its own slice of the uniform buffer.
    fn encode_segments(
        &self,
        scratch: &mut Slots<Buf>,
        enc: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        segs: &[Segment],
        params: &Params,
    ) -> Result<(), GpuError> {
        let ctx = &self.ctx;
        let align = u64::from(ctx.limits.min_uniform_buffer_offset_alignment).max(64);
        let uniforms = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let uniform = scratch
            .reserve(
                ctx,
                Buf::Params,
                "match parameters",
                segs.len() as u64 * align,
                uniforms,
            )?
            .clone();
        let max_x = u64::from(ctx.limits.max_compute_workgroups_per_dimension);
        let layout = pipeline.get_bind_group_layout(0);
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(pipeline);
        for (i, s) in segs.iter().enumerate() {
            let groups = u64::from(s.count).div_ceil(LANES).max(1);
            let (gx, gy) = (groups.min(max_x), groups.div_ceil(max_x));
            let p = Params {
                refs: s.count,
                first: s.first,
                base: s.base,
                groups_x: gx as u32,
                ..*params
            };
            let at = i as u64 * align;
            ctx.queue.write_buffer(&uniform, at, bytemuck::bytes_of(&p));
            let group = self.bind(scratch, &layout, &uniform, at, Some(&s.buffer));
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(gx as u32, gy as u32, 1);
        }
        Ok(())
    }

    /// The bind group of one dispatch; `refs` is `None` for the cutoff entry point, whose
    /// layout holds only the bindings it uses.
    fn bind(
        &self,
        scratch: &Slots<Buf>,
        layout: &wgpu::BindGroupLayout,
        uniform: &wgpu::Buffer,
        at: u64,
        refs: Option<&wgpu::Buffer>,
    ) -> wgpu::BindGroup {
        let params = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: uniform,
            offset: at,
            size: wgpu::BufferSize::new(std::mem::size_of::<Params>() as u64),
        });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: params,
        }];
        let whole = |binding, b: Buf| wgpu::BindGroupEntry {
            binding,
            resource: scratch.get(b).as_entire_binding(),
        };
        match refs {
            Some(r) => entries.extend([
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: r.as_entire_binding(),
                },
                whole(2, Buf::Queries),
                whole(3, Buf::Cutoffs),
                whole(4, Buf::Hist),
                whole(5, Buf::Results),
            ]),
            None => entries.extend([whole(3, Buf::Cutoffs), whole(4, Buf::Hist)]),
        }
        self.ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("hamming"),
                layout,
                entries: &entries,
            })
    }

    fn run_cutoffs(
        &self,
        scratch: &mut Slots<Buf>,
        kernel: &Kernel,
        params: &Params,
    ) -> Result<(), GpuError> {
        let ctx = &self.ctx;
        let uniforms = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let uniform = scratch
            .reserve(ctx, Buf::Params, "match parameters", 256, uniforms)?
            .clone();
        ctx.queue
            .write_buffer(&uniform, 0, bytemuck::bytes_of(params));
        let layout = kernel.cutoff.get_bind_group_layout(0);
        let group = self.bind(scratch, &layout, &uniform, 0, None);
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&kernel.cutoff);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(params.queries.div_ceil(64), 1, 1);
        }
        let index = ctx.submit(vec![enc.finish()]);
        ctx.wait(index)
    }

    fn chunk_len(&self, words: u64) -> u64 {
        let l = &self.ctx.limits;
        let binding = buffers::limit(&self.ctx, buffers::storage());
        let by_groups = u64::from(l.max_compute_workgroups_per_dimension).pow(2) * LANES;
        let fits = (binding / (words * 8))
            .min(by_groups)
            .min(MAX_CHUNK_ENTRIES);
        self.chunk_entries
            .lock()
            .unwrap()
            .map_or(fits, |n| n.min(fits))
            .max(1)
    }

    /// The kernel for this width and prefix, compiled on first use.
    fn kernel(&self, words: u32, prefix: u32) -> Result<Arc<Kernel>, GpuError> {
        let mut kernels = self.kernels.lock().unwrap();
        if let Some(k) = kernels.get(&(words, prefix)) {
            return Ok(k.clone());
        }
        let source =
            format!("const WORDS: u32 = {words}u;\nconst PREFIX: u32 = {prefix}u;\n{SOURCE}");
        let device = &self.ctx.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("hamming"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let k = self.ctx.scoped(|| {
            Ok(Arc::new(Kernel {
                scan: pipeline("scan"),
                cutoff: pipeline("cutoff"),
            }))
        })?;
        kernels.insert((words, prefix), k.clone());
        Ok(k)
    }
}

/// What one pass over the set needs.
struct Pass<'a> {
    kernel: &'a Kernel,
    set: &'a SetView<'a>,
    resident: Option<&'a Resident>,
    max_distance: u32,
    top_k: Option<usize>,
}

/// Two halves of a submission: its segments, or a single segment's entries; `None` for a
/// single entry, which cannot be split.
fn split(segs: &[Segment]) -> Option<[Vec<Segment>; 2]> {
    if segs.len() > 1 {
        let (a, b) = segs.split_at(segs.len() / 2);
        return Some([a.to_vec(), b.to_vec()]);
    }
    let s = segs.first()?;
    if s.count < 2 {
        return None;
    }
    let half = s.count / 2;
    let a = Segment {
        count: half,
        ..s.clone()
    };
    let b = Segment {
        first: s.first + half,
        count: s.count - half,
        base: s.base + half,
        ..s.clone()
    };
    Some([vec![a], vec![b]])
}
