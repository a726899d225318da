//! The batched GPU hasher. Pipelines are built once; each batch takes one of a small ring of
//! buffer sets, so that while batch n computes, batch n+1 is packed and uploaded and batch
//! n-1 is read back. Frames are packed by all cores straight into mapped staging memory, one
//! copy from the decoded frame to memory the device reads; only the hashes come back.
//!
//! Failures are values: a batch that fails to allocate, times out or meets a lost device
//! returns an error and no hashes, and [`GpuHasher::invalidate`] drops every cached buffer so
//! that nothing half-made is used again. What to do next is the engine's choice.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::batch::{self, BatchLimits, FrameInfo, Layout};
use super::buffers::{self, Slots};
use super::context::{GpuContext, GpuError, PendingRead};
use super::stage::{self, Algo, Dispatch, PIPELINE, Role};
use crate::cpu::{pdq, phash};
use crate::frame::Frame;
use crate::hash::{Algorithms, FrameHashes, Pdq256, PdqHashes, Phash64, Quality};

/// u32 words per frame in the output record: quality, 8 hashes x 8 words, 2 pHash words.
const OUT_WORDS: usize = 67;
const PHASH_WORD: usize = 65;
/// Upper bound on pixels per batch whatever the adapter allows: with `DEPTH` buffer sets of
/// about 20 bytes per pixel, 16 M pixels keep the device's share near 1 GB, and batches small
/// enough that upload, compute and read-back overlap within one round of a scan.
const MAX_BATCH_PIXELS: usize = 16 << 20;
/// Frames per batch, below every adapter's workgroups-per-dimension limit (65535).
const MAX_BATCH_FRAMES: usize = 4096;
/// Workgroups along x for strided stages; more only adds idle groups on small frames.
const MAX_GRID_X: u32 = 1024;
/// Batches in flight: one uploading, one computing, one reading back.
pub const DEPTH: usize = 3;
/// Packing threads at most: memory bandwidth, not cores, bounds a copy beyond a few.
const MAX_PACKERS: usize = 8;

/// Host time of the GPU path, summed over batches: packing frames into staging memory,
/// encoding and submitting, waiting for the device, and turning its words into hashes.
/// Waiting is the device's time; the other three are what the host pays per frame.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct HostTimes {
    pub pack_s: f64,
    pub submit_s: f64,
    pub wait_s: f64,
    pub unpack_s: f64,
    pub batches: u64,
    pub frames: u64,
    pub pixels: u64,
}

impl HostTimes {
    /// Seconds of host work (not waiting) per frame.
    pub fn host_s_per_frame(&self) -> f64 {
        (self.pack_s + self.submit_s + self.unpack_s) / self.frames.max(1) as f64
    }
}

/// One ring entry: the device buffers of a batch, its staging memory (mapped while idle) and
/// its read-back buffer.
struct BatchBuffers {
    generation: u64,
    bufs: Slots<Role>,
    staging: Option<wgpu::Buffer>,
}

/// A submitted batch, to hand to [`GpuHasher::collect`].
pub struct InFlight {
    buffers: BatchBuffers,
    index: wgpu::SubmissionIndex,
    sizes: Vec<(u32, u32)>,
    algos: Algorithms,
    readback: PendingRead,
    remapped: std::sync::mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
}

impl InFlight {
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }
}

pub struct GpuHasher {
    ctx: Arc<GpuContext>,
    pipelines: Vec<wgpu::ComputePipeline>,
    /// The DCT matrix, dihedral table and pHash basis, shared by every batch.
    consts: Mutex<Slots<Role>>,
    ring: Mutex<Vec<BatchBuffers>>,
    generation: AtomicU64,
    limits: Mutex<BatchLimits>,
    times: Mutex<HostTimes>,
    /// Threads that pack frames into staging memory. Not the global pool: there, CPU workers
    /// hashing frames beside the GPU could take the pool's threads and hold the packing of
    /// the GPU's next batch (and so the device) until they ran out of frames.
    packers: std::sync::OnceLock<rayon::ThreadPool>,
}

impl GpuHasher {
    pub fn new(ctx: Arc<GpuContext>) -> Result<GpuHasher, GpuError> {
        let pipelines = ctx.scoped(|| Ok(build_pipelines(&ctx.device)))?;
        let limits = batch_limits(&ctx.limits);
        let hasher = GpuHasher {
            ctx,
            pipelines,
            consts: Mutex::new(Slots::new()),
            ring: Mutex::new(vec![]),
            generation: AtomicU64::new(0),
            limits: Mutex::new(limits),
            times: Mutex::new(HostTimes::default()),
            packers: std::sync::OnceLock::new(),
        };
        hasher.ctx.take_error()?;
        Ok(hasher)
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    pub fn shared_context(&self) -> Arc<GpuContext> {
        self.ctx.clone()
    }

    /// Host times since the last call, and reset.
    pub fn take_times(&self) -> HostTimes {
        std::mem::take(&mut *self.times.lock().unwrap())
    }

    pub fn batch_limits(&self) -> BatchLimits {
        *self.limits.lock().unwrap()
    }

    /// Narrow the batch limits (never widen them past the adapter's): the engine halves them
    /// after the device runs out of memory, and tests force batch splitting with them.
    pub fn set_batch_limits(&self, l: BatchLimits) {
        let max = batch_limits(&self.ctx.limits);
        *self.limits.lock().unwrap() = BatchLimits {
            frames: l.frames.clamp(1, max.frames),
            pixels: l.pixels.clamp(1, max.pixels),
            elements: l.elements.clamp(1, max.elements),
        };
    }

    /// Drop every cached buffer, in the ring and in flight (those are dropped on return), so
    /// that the next batch starts from fresh allocations.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.ring.lock().unwrap().clear();
        *self.consts.lock().unwrap() = Slots::new();
    }

    /// Hash frames on the device alone, batches planned from the adapter's limits and
    /// [`DEPTH`] in flight. A frame too large for any batch is hashed on the CPU path (same
    /// results) meanwhile, so it holds up no batch. The first device error is returned.
    pub fn hash(&self, frames: &[&Frame], algos: Algorithms) -> Result<Vec<FrameHashes>, GpuError> {
        let (batches, oversized) = batch::plan(frames, &self.batch_limits());
        let mut out = vec![FrameHashes::default(); frames.len()];
        let mut failed = None;
        let mut batches = batches.into_iter();
        let cpu = Mutex::new(vec![]);
        let cpu_ref = &cpu;
        rayon::in_place_scope(|s| {
            s.spawn(move |_| {
                for i in oversized {
                    let h = crate::cpu::hash_frame(frames[i], algos);
                    cpu_ref.lock().unwrap().push((i, h));
                }
            });
            self.feed(
                frames,
                algos,
                |_| batches.next(),
                |idx, result| match result {
                    Ok(hs) => idx.iter().zip(hs).for_each(|(&i, h)| out[i] = h),
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                },
            );
        });
        for (i, h) in cpu.into_inner().unwrap() {
            out[i] = h;
        }
        failed.map_or(Ok(out), Err)
    }

    /// Keep the device fed: `next` hands out the next batch (indices into `frames`, told
    /// how many are in flight) or `None` when there is no more, and `done` receives each
    /// batch's hashes or error, in submission order. After the first error no more batches
    /// are taken; those already in flight are still collected and reported. Returns whether
    /// every batch succeeded.
    pub fn feed(
        &self,
        frames: &[&Frame],
        algos: Algorithms,
        mut next: impl FnMut(usize) -> Option<Vec<usize>>,
        mut done: impl FnMut(&[usize], Result<Vec<FrameHashes>, GpuError>),
    ) -> bool {
        let mut flight: VecDeque<(Vec<usize>, InFlight)> = VecDeque::new();
        let mut ok = true;
        loop {
            while ok && flight.len() < DEPTH {
                let Some(idx) = next(flight.len()) else { break };
                let group: Vec<&Frame> = idx.iter().map(|&i| frames[i]).collect();
                match self.submit(&group, algos) {
                    Ok(f) => flight.push_back((idx, f)),
                    Err(e) => {
                        ok = false;
                        done(&idx, Err(e));
                    }
                }
            }
            let Some((idx, f)) = flight.pop_front() else {
                return ok;
            };
            let result = self.collect(f);
            ok &= result.is_ok();
            done(&idx, result);
        }
    }

    /// Pack, upload and start one batch (every frame must fit the batch limits).
    pub fn submit(&self, frames: &[&Frame], algos: Algorithms) -> Result<InFlight, GpuError> {
        self.ctx.check_alive()?;
        self.ctx.scoped(|| self.submit_scoped(frames, algos))
    }

    fn submit_scoped(&self, frames: &[&Frame], algos: Algorithms) -> Result<InFlight, GpuError> {
        let started = Instant::now();
        let layout = Layout::of(frames, algos.phash);
        let mut b = self.take_buffers();
        let n = frames.len();
        let out_bytes = (n * OUT_WORDS * 4) as u64;
        self.ensure_consts()?;
        self.reserve_all(&mut b, &layout, n, out_bytes)?;
        let staging_bytes = layout.staging_bytes();
        let staging = staging_for(&self.ctx, &mut b.staging, staging_bytes)?.clone();
        {
            let mut view = staging
                .get_mapped_range_mut(..staging_bytes)
                .map_err(|e| GpuError::Runtime(e.to_string()))?;
            let pool = self.pack_pool();
            pool.install(|| layout.fill(frames, algos.phash, view.slice(..)));
        }
        staging.unmap();
        let packed = Instant::now();
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        for ((at, len), role) in
            layout
                .sections()
                .into_iter()
                .zip([Role::Frames, Role::Taps, Role::Rgb])
        {
            if len > 0 {
                let len = len.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
                enc.copy_buffer_to_buffer(&staging, at, b.bufs.get(role), 0, len);
            }
        }
        self.encode_stages(&mut enc, &b, &layout.infos, algos);
        let readback = b.bufs.get(Role::Readback);
        enc.copy_buffer_to_buffer(b.bufs.get(Role::Out), 0, readback, 0, out_bytes);
        let index = self.ctx.submit(vec![enc.finish()]);
        let pending = PendingRead::request(readback, out_bytes);
        // Mapped again as soon as the device has copied from it: ready for this ring entry's
        // next batch without a wait of its own.
        let (tx, remapped) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Write, .., move |r| {
            let _ = tx.send(r);
        });
        self.ctx.count(|c| {
            c.frames_bytes_uploaded += staging_bytes;
            c.batches += 1;
        });
        let mut t = self.times.lock().unwrap();
        t.pack_s += (packed - started).as_secs_f64();
        t.submit_s += packed.elapsed().as_secs_f64();
        t.batches += 1;
        t.frames += n as u64;
        t.pixels += layout.pixels as u64;
        Ok(InFlight {
            buffers: b,
            index,
            sizes: frames.iter().map(|f| (f.width(), f.height())).collect(),
            algos,
            readback: pending,
            remapped,
        })
    }

    /// Wait for a batch (at most the context's timeout) and read its hashes.
    pub fn collect(&self, f: InFlight) -> Result<Vec<FrameHashes>, GpuError> {
        let waited = Instant::now();
        let InFlight {
            mut buffers,
            index,
            sizes,
            algos,
            readback,
            remapped,
            ..
        } = f;
        self.ctx.wait(index)?;
        let unpacking = Instant::now();
        let bytes = readback.take(&self.ctx, buffers.bufs.get(Role::Readback))?;
        let words: &[u32] = bytemuck::cast_slice(&bytes);
        let hashes = sizes
            .iter()
            .zip(words.chunks_exact(OUT_WORDS))
            .map(|(&size, w)| decode_record(size, w, algos))
            .collect();
        if self.ctx.await_map(&remapped).is_err() {
            buffers.staging = None;
        }
        self.give_back(buffers);
        let mut t = self.times.lock().unwrap();
        t.wait_s += (unpacking - waited).as_secs_f64();
        t.unpack_s += unpacking.elapsed().as_secs_f64();
        Ok(hashes)
    }

    fn pack_pool(&self) -> &rayon::ThreadPool {
        self.packers.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            rayon::ThreadPoolBuilder::new()
                .num_threads(cores.min(MAX_PACKERS))
                .thread_name(|i| format!("hashsweep-pack-{i}"))
                .build()
                .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
                .expect("a one-thread pool")
        })
    }

    fn take_buffers(&self) -> BatchBuffers {
        let generation = self.generation.load(Ordering::SeqCst);
        self.ring.lock().unwrap().pop().unwrap_or(BatchBuffers {
            generation,
            bufs: Slots::new(),
            staging: None,
        })
    }

    fn give_back(&self, b: BatchBuffers) {
        let mut ring = self.ring.lock().unwrap();
        if b.generation == self.generation.load(Ordering::SeqCst) && ring.len() < DEPTH {
            ring.push(b);
        }
    }

    fn reserve_all(
        &self,
        b: &mut BatchBuffers,
        layout: &Layout,
        n: usize,
        out_bytes: u64,
    ) -> Result<(), GpuError> {
        let px = layout.pixels as u64 * 4;
        let n = n as u64;
        let sizes = [
            (Role::Frames, "frame table", n * 64),
            (Role::Taps, "taps", layout.taps_len as u64 * 4),
            (Role::Rgb, "rgb", layout.rgb_len as u64),
            (Role::Luma, "luma", px),
            (Role::Tmp, "tmp", px),
            (Role::Down, "64x64", n * 4096 * 4),
            (Role::Mid, "resample", layout.mid as u64 * 4),
            (Role::Small, "32x32", n * 1024 * 4),
            (Role::Out, "hashes", out_bytes),
        ];
        for (role, what, bytes) in sizes {
            b.bufs
                .reserve(&self.ctx, role, what, bytes, buffers::storage())?;
        }
        b.bufs.reserve(
            &self.ctx,
            Role::Readback,
            "read-back",
            out_bytes,
            buffers::map_read(),
        )?;
        Ok(())
    }

    /// The DCT matrix, dihedral table and pHash basis: the CPU's own values, uploaded once
    /// (and again after [`GpuHasher::invalidate`]).
    fn ensure_consts(&self) -> Result<(), GpuError> {
        let mut consts = self.consts.lock().unwrap();
        if consts.map.contains_key(&Role::PdqConsts) {
            return Ok(());
        }
        let mut pdq_words: Vec<u32> = pdq::dct_matrix().iter().map(|v| v.to_bits()).collect();
        pdq_words.extend(pdq::dihedral_table().iter().flatten());
        let mut ph: Vec<u32> = phash::angle_fold().to_vec();
        ph.extend(phash::fold_cosines().iter().map(|&c| (c as f32).to_bits()));
        ph.resize(256 + 36, 0);
        for (role, words) in [(Role::PdqConsts, pdq_words), (Role::PhashConsts, ph)] {
            let bytes: &[u8] = bytemuck::cast_slice(&words);
            let buf = consts.reserve(
                &self.ctx,
                role,
                "constants",
                bytes.len() as u64,
                buffers::storage(),
            )?;
            self.ctx.queue.write_buffer(buf, 0, bytes);
        }
        Ok(())
    }

    fn encode_stages(
        &self,
        enc: &mut wgpu::CommandEncoder,
        b: &BatchBuffers,
        infos: &[FrameInfo],
        algos: Algorithms,
    ) {
        let consts = self.consts.lock().unwrap();
        let buffer = |role: Role| match role {
            Role::PdqConsts | Role::PhashConsts => consts.get(role),
            _ => b.bufs.get(role),
        };
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
                    resource: buffer(role).as_entire_binding(),
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
            let (x, y) = grid(stage.dispatch, infos);
            pass.dispatch_workgroups(x, y, 1);
        }
    }
}

/// The ring entry's staging buffer, mapped for writing and at least `bytes` long. A new one
/// is created mapped; an old one was mapped again when its last batch finished.
fn staging_for<'a>(
    ctx: &GpuContext,
    staging: &'a mut Option<wgpu::Buffer>,
    bytes: u64,
) -> Result<&'a wgpu::Buffer, GpuError> {
    if staging.as_ref().is_none_or(|s| s.size() < bytes) {
        let old = staging.take().map_or(0, |s| s.size());
        let size = buffers::grown(old, bytes, buffers::limit(ctx, buffers::map_write()));
        *staging = Some(buffers::create(
            ctx,
            "staging",
            size,
            buffers::map_write(),
            true,
        )?);
    }
    Ok(staging.as_ref().expect("set above"))
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

fn decode_record((width, height): (u32, u32), w: &[u32], algos: Algorithms) -> FrameHashes {
    let tiny =
        (width as usize) < pdq::MIN_HASHABLE_DIM || (height as usize) < pdq::MIN_HASHABLE_DIM;
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
