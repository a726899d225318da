//! Exact Hamming matching on the GPU: the query hashes stay on the device, the reference set
//! streams through in chunks sized to the adapter's limits, and pairs come back through an
//! append buffer that is grown and the chunk rerun whenever it overflows, so no match is
//! ever dropped. Top-k keeps a per-query distance histogram on the device (pass 1) and
//! appends only pairs within each query's k-th distance (pass 2).

use std::sync::{Arc, Mutex};

use bytemuck::{Pod, Zeroable};

use super::buffers::{self, Slots};
use super::context::{GpuContext, GpuError};
use crate::cpu::hamming::Hit;
use crate::matching::{MatchParams, QueryHashes};

const SOURCE: &str = include_str!("../../shaders/hamming.wgsl");
const LANES: u64 = 256;
/// First size of the append buffer, in pairs; it grows on overflow.
const FIRST_CAPACITY: u32 = 1 << 16;
/// At most this many entries per chunk whatever the adapter allows (128 MiB of PDQ).
const MAX_CHUNK_ENTRIES: u64 = 1 << 22;

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, Default)]
struct Params {
    refs: u32,
    queries: u32,
    words: u32,
    max_distance: u32,
    capacity: u32,
    mode: u32,
    top_k: u32,
    groups_x: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Buf {
    Params,
    Refs,
    Queries,
    Cutoffs,
    Hist,
    Results,
    Readback,
}

/// Counters a run leaves behind, for reports and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct MatchStats {
    pub chunks: u64,
    pub bytes_streamed: u64,
    pub overflow_reruns: u64,
}

pub struct GpuMatcher {
    ctx: Arc<GpuContext>,
    scan: wgpu::ComputePipeline,
    cutoff: wgpu::ComputePipeline,
    slots: Slots<Buf>,
    capacity: Mutex<u32>,
    chunk_entries: Mutex<Option<u64>>,
    stats: Mutex<MatchStats>,
    busy: Mutex<()>,
}

impl GpuMatcher {
    pub fn new(ctx: Arc<GpuContext>) -> Result<GpuMatcher, GpuError> {
        let module = ctx
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("hamming"),
                source: wgpu::ShaderSource::Wgsl(SOURCE.into()),
            });
        let pipeline = |entry: &str| {
            ctx.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
        };
        let (scan, cutoff) = (pipeline("scan"), pipeline("cutoff"));
        ctx.take_error()?;
        Ok(GpuMatcher {
            ctx,
            scan,
            cutoff,
            slots: Slots::new(),
            capacity: Mutex::new(FIRST_CAPACITY),
            chunk_entries: Mutex::new(None),
            stats: Mutex::new(MatchStats::default()),
            busy: Mutex::new(()),
        })
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    pub fn stats(&self) -> MatchStats {
        *self.stats.lock().unwrap()
    }

    /// Tests shrink chunks and the append buffer to exercise streaming and overflow.
    pub fn set_chunk_entries(&self, n: Option<u64>) {
        *self.chunk_entries.lock().unwrap() = n;
    }

    pub fn set_capacity(&self, pairs: u32) {
        *self.capacity.lock().unwrap() = pairs.max(1);
    }

    fn chunk_len(&self, words: u64) -> u64 {
        let l = &self.ctx.limits;
        let binding = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
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

    /// Every pair of (query hash, entry) within the cutoffs; with `top_k`, a superset of
    /// each query hash's k nearest that `matching::finalize` trims exactly like the CPU's.
    pub fn scan(
        &self,
        refs: &[u64],
        q: &QueryHashes,
        p: &MatchParams,
    ) -> Result<Vec<Hit>, GpuError> {
        let _one_at_a_time = self.busy.lock().unwrap();
        let words = q.algo.words() as u64;
        let n_refs = refs.len() as u64 / words;
        let nq = q.len() as u32;
        if nq >= 1 << 23 {
            return Err(GpuError::Runtime(format!(
                "{nq} query hashes: at most 8388607 per run"
            )));
        }
        let ctx = &self.ctx;
        self.slots
            .upload(ctx, Buf::Queries, bytemuck::cast_slice(&q.words));
        self.slots.upload(
            ctx,
            Buf::Cutoffs,
            bytemuck::cast_slice(&vec![p.max_distance.min(q.algo.bits() as u32); nq as usize]),
        );
        // Distances never exceed the width, so a larger cutoff is the width.
        let max_distance = p.max_distance.min(q.algo.bits() as u32);
        let hist_len = match p.top_k {
            Some(_) => u64::from(nq) * (u64::from(max_distance) + 1),
            None => 1,
        };
        self.slots
            .reserve(ctx, Buf::Hist, hist_len * 4, buffers::storage());
        self.slots.reserve(
            ctx,
            Buf::Params,
            32,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        // The device's pair counter is a u32: a chunk can never produce more pairs than it holds.
        let chunk = self
            .chunk_len(words)
            .min(u64::from(u32::MAX) / u64::from(nq.max(1)))
            .max(1);
        let mut params = Params {
            queries: nq,
            words: words as u32 * 2,
            max_distance,
            top_k: p.top_k.unwrap_or(0).min(u32::MAX as usize) as u32,
            ..Params::default()
        };
        if let Some(k) = p.top_k {
            if k == 0 {
                return Ok(vec![]);
            }
            self.slots
                .upload(ctx, Buf::Hist, &vec![0u8; hist_len as usize * 4]);
            params.mode = 1;
            for start in (0..n_refs).step_by(chunk as usize) {
                let slice = chunk_words(refs, start, chunk, n_refs, words);
                self.run_chunk(slice, &mut params)?;
            }
            params.mode = 0;
            self.run_cutoffs(&params)?;
        }
        let mut hits = vec![];
        for start in (0..n_refs).step_by(chunk as usize) {
            let slice = chunk_words(refs, start, chunk, n_refs, words);
            self.append_hits(slice, start, words, &mut params, &mut hits)?;
        }
        Ok(hits)
    }

    /// Pairs of one chunk; a chunk whose pairs would not fit the largest append buffer the
    /// adapter allows is split in halves, down to single entries.
    fn append_hits(
        &self,
        slice: &[u64],
        start: u64,
        words: u64,
        params: &mut Params,
        hits: &mut Vec<Hit>,
    ) -> Result<(), GpuError> {
        match self.run_chunk(slice, params) {
            Ok(pairs) => {
                hits.extend(pairs.chunks_exact(2).map(|it| Hit {
                    query: it[1] >> 9,
                    entry: start + u64::from(it[0]),
                    distance: it[1] & 511,
                }));
                Ok(())
            }
            Err(GpuError::TooDense) if slice.len() as u64 > words => {
                let half = (slice.len() as u64 / words / 2 * words) as usize;
                self.append_hits(&slice[..half], start, words, params, hits)?;
                self.append_hits(
                    &slice[half..],
                    start + half as u64 / words,
                    words,
                    params,
                    hits,
                )
            }
            Err(e) => Err(e),
        }
    }

    /// One chunk through `scan`; in append mode, the pairs (rerun until none was dropped).
    fn run_chunk(&self, slice: &[u64], params: &mut Params) -> Result<Vec<u32>, GpuError> {
        let ctx = &self.ctx;
        self.slots
            .upload(ctx, Buf::Refs, bytemuck::cast_slice(slice));
        params.refs = (slice.len() / (params.words as usize / 2)) as u32;
        let groups = u64::from(params.refs).div_ceil(LANES).max(1);
        let max_x = u64::from(ctx.limits.max_compute_workgroups_per_dimension);
        let (gx, gy) = (groups.min(max_x), groups.div_ceil(max_x));
        params.groups_x = gx as u32;
        {
            let mut s = self.stats.lock().unwrap();
            s.chunks += u64::from(params.mode == 0);
            s.bytes_streamed += slice.len() as u64 * 8;
        }
        loop {
            params.capacity = *self.capacity.lock().unwrap();
            let result_bytes = 16 + u64::from(params.capacity) * 8;
            self.slots
                .reserve(ctx, Buf::Results, result_bytes, buffers::storage());
            self.slots
                .reserve(ctx, Buf::Readback, result_bytes, buffers::map_read());
            ctx.queue.write_buffer(
                &self.slots.lock()[&Buf::Params].buffer,
                0,
                bytemuck::bytes_of(params),
            );
            ctx.queue
                .write_buffer(&self.slots.lock()[&Buf::Results].buffer, 0, &[0u8; 16]);
            self.dispatch(
                &self.scan,
                (gx as u32, gy as u32),
                params.mode == 0,
                result_bytes,
            );
            if params.mode == 1 {
                ctx.device
                    .poll(wgpu::PollType::wait_indefinitely())
                    .map_err(|e| GpuError::Runtime(e.to_string()))?;
                ctx.take_error()?;
                return Ok(vec![]);
            }
            let head = self.slots.read(ctx, Buf::Readback, 16)?;
            ctx.take_error()?;
            let count = head[0];
            if count <= params.capacity {
                let all = self
                    .slots
                    .read(ctx, Buf::Readback, 16 + u64::from(count) * 8)?;
                return Ok(all[4..].to_vec());
            }
            // Overflow: grow to what this chunk needs and run it again; nothing is lost. Past
            // what one binding can hold, the caller splits the chunk instead.
            let l = &ctx.limits;
            let cap = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
            let want = u64::from(count).next_power_of_two();
            if 16 + want * 8 > cap {
                *self.capacity.lock().unwrap() = ((cap - 16) / 8).min(u64::from(u32::MAX)) as u32;
                return Err(GpuError::TooDense);
            }
            *self.capacity.lock().unwrap() = want as u32;
            self.stats.lock().unwrap().overflow_reruns += 1;
        }
    }

    fn run_cutoffs(&self, params: &Params) -> Result<(), GpuError> {
        let ctx = &self.ctx;
        ctx.queue.write_buffer(
            &self.slots.lock()[&Buf::Params].buffer,
            0,
            bytemuck::bytes_of(params),
        );
        self.dispatch(&self.cutoff, (params.queries.div_ceil(64), 1), false, 0);
        ctx.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Runtime(e.to_string()))?;
        ctx.take_error()
    }

    fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        (x, y): (u32, u32),
        copy_results: bool,
        bytes: u64,
    ) {
        let ctx = &self.ctx;
        let slots = self.slots.lock();
        let layout = pipeline.get_bind_group_layout(0);
        // Only the bindings the entry point uses are in its layout.
        let used: &[(u32, Buf)] = if std::ptr::eq(pipeline, &self.cutoff) {
            &[(0, Buf::Params), (3, Buf::Cutoffs), (4, Buf::Hist)]
        } else {
            &[
                (0, Buf::Params),
                (1, Buf::Refs),
                (2, Buf::Queries),
                (3, Buf::Cutoffs),
                (4, Buf::Hist),
                (5, Buf::Results),
            ]
        };
        let entries: Vec<wgpu::BindGroupEntry> = used
            .iter()
            .map(|&(binding, b)| wgpu::BindGroupEntry {
                binding,
                resource: slots[&b].buffer.as_entire_binding(),
            })
            .collect();
        let group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("hamming"),
            layout: &layout,
            entries: &entries,
        });
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
        if copy_results {
            enc.copy_buffer_to_buffer(
                &slots[&Buf::Results].buffer,
                0,
                &slots[&Buf::Readback].buffer,
                0,
                bytes,
            );
        }
        ctx.queue.submit([enc.finish()]);
    }
}

fn chunk_words(refs: &[u64], start: u64, chunk: u64, n: u64, words: u64) -> &[u64] {
    let end = (start + chunk).min(n);
    &refs[(start * words) as usize..(end * words) as usize]
}
