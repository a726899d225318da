//! The batched GPU hasher: pipelines and buffers created once, reused for every batch;
//! one submission per batch; only the hashes come back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::batch::{self, BatchLimits, FrameInfo};
use super::buffers::{self, Slots};
use super::context::{GpuContext, GpuError};
use super::stage::{self, Algo, Dispatch, PIPELINE, Role};
use crate::cpu::{pdq, phash};
use crate::engine::{Algorithms, FrameHashes};
use crate::frame::Frame;
use crate::hash::{Pdq256, PdqHashes, Phash64, Quality};

/// u32 words per frame in the output record: quality, 8 hashes x 8 words, 2 pHash words.
const OUT_WORDS: usize = 67;
const PHASH_WORD: usize = 65;
/// Upper bound on pixels per batch whatever the adapter allows, so host staging stays
/// bounded (about 0.5 GB of device planes at this size).
const MAX_BATCH_PIXELS: usize = 48 << 20;
/// Frames per batch, below every adapter's workgroups-per-dimension limit (65535).
const MAX_BATCH_FRAMES: usize = 4096;
/// Workgroups along x for strided stages; more only adds idle groups on small frames.
const MAX_GRID_X: u32 = 1024;

pub struct GpuHasher {
    ctx: Arc<GpuContext>,
    pipelines: Vec<wgpu::ComputePipeline>,
    slots: Slots<Role>,
    limits: Mutex<BatchLimits>,
    /// One batch at a time: batches share the buffers.
    busy: Mutex<()>,
    times: Mutex<StageTimes>,
}

/// Where a batch's time goes, summed over batches: packing and queueing the upload, the
/// GPU's work (submission to completion, the upload's transfer included), and mapping and
/// copying the hashes back.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct StageTimes {
    pub upload_s: f64,
    pub gpu_s: f64,
    pub download_s: f64,
    pub batches: u64,
}

impl GpuHasher {
    pub fn new(ctx: Arc<GpuContext>) -> Result<GpuHasher, GpuError> {
        let pipelines = build_pipelines(&ctx.device);
        let limits = batch_limits(&ctx.limits);
        let hasher = GpuHasher {
            ctx,
            pipelines,
            slots: Slots::new(),
            limits: Mutex::new(limits),
            busy: Mutex::new(()),
            times: Mutex::new(StageTimes::default()),
        };
        hasher.write_constants();
        hasher.ctx.take_error()?;
        Ok(hasher)
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Stage times since the last call, and reset.
    pub fn take_times(&self) -> StageTimes {
        std::mem::take(&mut *self.times.lock().unwrap())
    }

    pub fn shared_context(&self) -> Arc<GpuContext> {
        self.ctx.clone()
    }

    pub fn batch_limits(&self) -> BatchLimits {
        *self.limits.lock().unwrap()
    }

    /// Narrow the batch limits (never widen them past the adapter's): tests use this to force
    /// batch splitting and the CPU fallback on small inputs.
    pub fn set_batch_limits(&self, l: BatchLimits) {
        let max = batch_limits(&self.ctx.limits);
        *self.limits.lock().unwrap() = BatchLimits {
            frames: l.frames.min(max.frames),
            pixels: l.pixels.min(max.pixels),
            elements: l.elements.min(max.elements),
        };
    }

    /// The DCT matrix, dihedral table and pHash basis: the CPU's own values.
    fn write_constants(&self) {
        let mut consts: Vec<u32> = pdq::dct_matrix().iter().map(|v| v.to_bits()).collect();
        consts.extend(pdq::dihedral_table().iter().flatten());
        self.upload(Role::PdqConsts, bytemuck::cast_slice(&consts));
        let mut ph: Vec<u32> = phash::angle_fold().to_vec();
        ph.extend(phash::fold_cosines().iter().map(|&c| (c as f32).to_bits()));
        ph.resize(256 + 36, 0);
        self.upload(Role::PhashConsts, bytemuck::cast_slice(&ph));
    }

    /// Hash frames; batches are planned from the adapter's limits. A frame too large for
    /// any batch is hashed on the CPU path (same results) rather than failing.
    pub fn hash(&self, frames: &[&Frame], algos: Algorithms) -> Result<Vec<FrameHashes>, GpuError> {
        let _one_at_a_time = self.busy.lock().unwrap();
        let (batches, oversized) = batch::plan(frames, &self.batch_limits());
        let mut out = vec![FrameHashes::default(); frames.len()];
        for b in batches {
            let group: Vec<&Frame> = b.iter().map(|&i| frames[i]).collect();
            for (i, h) in b.into_iter().zip(self.hash_batch(&group, algos)?) {
                out[i] = h;
            }
        }
        for i in oversized {
            out[i] = crate::engine::hash_cpu(frames[i], algos);
        }
        Ok(out)
    }

    fn hash_batch(
        &self,
        frames: &[&Frame],
        algos: Algorithms,
    ) -> Result<Vec<FrameHashes>, GpuError> {
        let started = std::time::Instant::now();
        let packed = batch::pack(frames, algos.phash);
        let n = frames.len();
        let out_bytes = (n * OUT_WORDS * 4) as u64;
        self.upload(Role::Frames, bytemuck::cast_slice(&packed.infos));
        self.upload(Role::Rgb, &packed.rgb);
        if algos.phash {
            self.upload(Role::Taps, bytemuck::cast_slice(&packed.taps));
        }
        self.reserve(Role::Luma, packed.pixels as u64 * 4);
        self.reserve(Role::Tmp, packed.pixels as u64 * 4);
        self.reserve(Role::Down, n as u64 * 4096 * 4);
        self.reserve(Role::Mid, packed.mid as u64 * 4);
        self.reserve(Role::Small, n as u64 * 1024 * 4);
        self.reserve(Role::Out, out_bytes);
        self.reserve(Role::Readback, out_bytes);

        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let slots = self.slots.lock();
            let mut pass = enc.begin_compute_pass(&Default::default());
            for (stage, pipeline) in PIPELINE.iter().zip(&self.pipelines) {
                let wanted = match stage.algo {
                    Algo::Pdq => algos.pdq,
                    Algo::Phash => algos.phash,
                };
                if !wanted {
                    continue;
                }
                let entries: Vec<wgpu::BindGroupEntry> = stage
                    .bindings
                    .iter()
                    .map(|&(binding, role)| wgpu::BindGroupEntry {
                        binding,
                        resource: slots[&role].buffer.as_entire_binding(),
                    })
                    .collect();
                let group = self
                    .ctx
                    .device
                    .create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(stage.name),
                        layout: &pipeline.get_bind_group_layout(0),
                        entries: &entries,
                    });
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, &group, &[]);
                let (x, y) = grid(stage.dispatch, &packed.infos);
                pass.dispatch_workgroups(x, y, 1);
            }
            drop(pass);
            let readback = &slots[&Role::Readback].buffer;
            enc.copy_buffer_to_buffer(&slots[&Role::Out].buffer, 0, readback, 0, out_bytes);
        }
        let queued = std::time::Instant::now();
        self.ctx.queue.submit([enc.finish()]);
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Runtime(e.to_string()))?;
        let computed = std::time::Instant::now();
        let words = self.slots.read(&self.ctx, Role::Readback, out_bytes)?;
        {
            let mut t = self.times.lock().unwrap();
            t.upload_s += (queued - started).as_secs_f64();
            t.gpu_s += (computed - queued).as_secs_f64();
            t.download_s += computed.elapsed().as_secs_f64();
            t.batches += 1;
        }
        self.ctx.take_error()?;
        Ok(frames
            .iter()
            .zip(words.chunks_exact(OUT_WORDS))
            .map(|(f, w)| decode_record(f, w, algos))
            .collect())
    }

    fn reserve(&self, role: Role, bytes: u64) {
        let usage = match role {
            Role::Readback => buffers::map_read(),
            _ => buffers::storage(),
        };
        self.slots.reserve(&self.ctx, role, bytes, usage);
    }

    fn upload(&self, role: Role, data: &[u8]) {
        self.slots.upload(&self.ctx, role, data);
    }
}

fn build_pipelines(device: &wgpu::Device) -> Vec<wgpu::ComputePipeline> {
    let mut modules: HashMap<&str, wgpu::ShaderModule> = HashMap::new();
    PIPELINE
        .iter()
        .map(|s| {
            let module = modules.entry(s.name).or_insert_with(|| {
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(s.name),
                    source: wgpu::ShaderSource::Wgsl(stage::full_source(s).into()),
                })
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(s.entry),
                layout: None,
                module,
                entry_point: Some(s.entry),
                compilation_options: Default::default(),
                cache: None,
            })
        })
        .collect()
}

/// Batch sizes the adapter can take: each plane must fit one storage binding and one buffer.
pub fn batch_limits(l: &wgpu::Limits) -> BatchLimits {
    let binding = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
    let elements = (binding / 4) as usize;
    BatchLimits {
        frames: MAX_BATCH_FRAMES.min(l.max_compute_workgroups_per_dimension as usize),
        pixels: elements.min(MAX_BATCH_PIXELS),
        elements,
    }
}

fn grid(d: Dispatch, infos: &[FrameInfo]) -> (u32, u32) {
    let n = infos.len() as u32;
    match d {
        Dispatch::Strided { lanes, items } => {
            let most = infos.iter().map(items).max().unwrap_or(0);
            (most.div_ceil(lanes).clamp(1, MAX_GRID_X), n)
        }
        Dispatch::Rows64 => (64, n),
        Dispatch::PerFrame => (n, 1),
    }
}

fn decode_record(f: &Frame, w: &[u32], algos: Algorithms) -> FrameHashes {
    let tiny = (f.width() as usize) < pdq::MIN_HASHABLE_DIM
        || (f.height() as usize) < pdq::MIN_HASHABLE_DIM;
    let pdq = algos.pdq.then(|| {
        if tiny {
            return PdqHashes::default();
        }
        let mut hashes = [Pdq256::default(); 8];
        for (v, h) in hashes.iter_mut().enumerate() {
            *h = Pdq256::from_u32_words(&w[1 + v * 8..9 + v * 8]);
        }
        PdqHashes {
            quality: Quality(w[0] as u8),
            hashes,
        }
    });
    let phash = algos
        .phash
        .then(|| Phash64((u64::from(w[PHASH_WORD]) << 32) | u64::from(w[PHASH_WORD + 1])));
    FrameHashes { pdq, phash }
}
