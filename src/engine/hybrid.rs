//! The GPU and the CPU hashing together, so that adding a GPU never makes a run slower.
//!
//! Frames of a call form a queue. The GPU takes batches from the front, keeping
//! [`DEPTH`] in flight; once it is saturated (all in flight) CPU workers take frames from the
//! back, one at a time, until the two meet. The GPU takes no more than its fair part of what
//! is left, by the measured rates of both, so it never holds the last frames long after the
//! CPU has run out. A frame too large for any batch goes straight to the CPU workers.
//!
//! Whether the GPU takes frames at all is measured once, when the engine opens: the host CPU
//! time the GPU path costs per pixel (process CPU time, which includes a software driver's
//! own threads) against the CPU path's. A device whose frames cost the host more than hashing
//! them on the CPU (a software rasteriser such as lavapipe, which runs on the same cores) only
//! slows the run, so hashing stays on the CPU; `--gpu-only` overrides this for measuring.
//!
//! A GPU fault never loses a frame: the frames of a failed batch are hashed on the CPU. Out
//! of memory drops the cached buffers and halves the batches; a lost or hung device, or
//! repeated failures, moves the rest of the run to the CPU. Each says so once on stderr.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::calibrate::{Calibration, calibrate, thread_cpu_seconds};
use super::{hash_all_cpu, hash_cpu};
use crate::frame::Frame;
use crate::gpu::hasher::DEPTH;
use crate::gpu::{GpuError, GpuHasher};
use crate::hash::{Algorithms, FrameHashes};

/// A frame's cost in pixel units beyond its pixels: the fixed work (the 64x64 and 32x32
/// stages, the DCTs) that even a thumbnail needs.
const FRAME_OVERHEAD_PX: f64 = 16384.0;
/// Recoverable failures in a row (out of memory) before the GPU is given up for the run.
const MAX_FAILURES_IN_A_ROW: u32 = 3;
/// Batch pixels never shrink below this after out-of-memory failures.
const MIN_BATCH_PIXELS: usize = 1 << 18;
/// Weight of the newest measurement in the running rates.
const RATE_WEIGHT: f64 = 0.5;

/// Frames hashed by each processor.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Shares {
    pub gpu_frames: u64,
    pub cpu_frames: u64,
    /// Frames of failed GPU batches, hashed again on the CPU (counted in `cpu_frames`).
    pub redone_on_cpu: u64,
}

#[derive(Debug, Default)]
struct State {
    gpu_px_per_s: f64,
    cpu_px_per_s_per_thread: f64,
    retired: Option<String>,
    failures_in_a_row: u32,
    /// What the run should be told about the device (the first recoverable fault, the
    /// retirement), in order; the caller says it.
    warnings: Vec<String>,
}

/// A GPU engine: the device's hasher and the policy that shares work with the CPU.
pub struct GpuEngine {
    hasher: GpuHasher,
    only: bool,
    calibration: Option<Calibration>,
    /// Tests set the GPU's share directly, to exercise both sides on any adapter.
    forced_share: Mutex<Option<f64>>,
    state: Mutex<State>,
    gpu_frames: AtomicU64,
    cpu_frames: AtomicU64,
    redone: AtomicU64,
}

impl GpuEngine {
    pub fn new(hasher: GpuHasher, only: bool) -> GpuEngine {
        let mut e = GpuEngine {
            hasher,
            only,
            calibration: None,
            forced_share: Mutex::new(None),
            state: Mutex::new(State::default()),
            gpu_frames: AtomicU64::new(0),
            cpu_frames: AtomicU64::new(0),
            redone: AtomicU64::new(0),
        };
        if !only {
            match calibrate(&e.hasher) {
                Ok(c) => {
                    let mut s = e.state.lock().unwrap();
                    s.gpu_px_per_s = c.gpu_px_per_s;
                    s.cpu_px_per_s_per_thread = c.cpu_px_per_s_per_thread;
                    drop(s);
                    e.calibration = Some(c);
                }
                Err(err) => e.retire(&err),
            }
            e.hasher.take_times();
        }
        e
    }

    pub fn hasher(&self) -> &GpuHasher {
        &self.hasher
    }

    pub fn calibration(&self) -> Option<Calibration> {
        self.calibration
    }

    pub fn shares(&self) -> Shares {
        Shares {
            gpu_frames: self.gpu_frames.load(Ordering::Relaxed),
            cpu_frames: self.cpu_frames.load(Ordering::Relaxed),
            redone_on_cpu: self.redone.load(Ordering::Relaxed),
        }
    }

    /// What happened to the device so far that the run should be told (a fault survived,
    /// the device given up), in order.
    pub fn warnings(&self) -> Vec<String> {
        self.state.lock().unwrap().warnings.clone()
    }

    /// Give the GPU this share of every call's pixels (`None`: by measured rates), and use
    /// it whatever calibration said. For tests.
    pub fn force_share(&self, share: Option<f64>) {
        *self.forced_share.lock().unwrap() = share;
    }

    pub fn describe(&self) -> String {
        let a = &self.hasher.context().adapter;
        let device = format!("gpu: {} ({}, {})", a.name, a.backend, a.device_type);
        let state = self.state.lock().unwrap();
        let how = match (&state.retired, self.only, self.calibration) {
            (Some(why), ..) => format!("hashing on the CPU since: {why}"),
            (None, true, _) => "GPU only".to_string(),
            (None, false, Some(c)) if !c.gpu_pays() => format!(
                "hashing on the CPU: a GPU frame costs the host {:.1}x the CPU path's time",
                c.host_cost_ratio()
            ),
            (None, false, _) => format!("with {} CPU workers", rayon::current_num_threads()),
        };
        format!("{device}; {how}")
    }

    fn uses_gpu(&self) -> bool {
        let forced = self.forced_share.lock().unwrap().is_some();
        self.state.lock().unwrap().retired.is_none()
            && (self.only || forced || self.calibration.is_some_and(|c| c.gpu_pays()))
    }

    pub fn hash(&self, frames: &[&Frame], algos: Algorithms) -> Vec<FrameHashes> {
        if frames.is_empty() {
            return vec![];
        }
        if !self.uses_gpu() {
            self.cpu_frames
                .fetch_add(frames.len() as u64, Ordering::Relaxed);
            return hash_all_cpu(frames, algos);
        }
        self.share(frames, algos)
    }

    /// The GPU's part of the remaining work, from the rates (1 with `--gpu-only`).
    fn gpu_share(&self) -> f64 {
        if let Some(s) = *self.forced_share.lock().unwrap() {
            return s.clamp(0.0, 1.0);
        }
        if self.only {
            return 1.0;
        }
        let s = self.state.lock().unwrap();
        let cpu = s.cpu_px_per_s_per_thread * rayon::current_num_threads() as f64;
        s.gpu_px_per_s / (s.gpu_px_per_s + cpu).max(1e-9)
    }

    fn share(&self, frames: &[&Frame], algos: Algorithms) -> Vec<FrameHashes> {
        let limits = self.hasher.batch_limits();
        let (fit, oversized): (Vec<usize>, Vec<usize>) =
            (0..frames.len()).partition(|&i| limits.fits_alone(frames[i]));
        let work = Work {
            frames,
            fit_frames: fit.iter().map(|&i| frames[i]).collect(),
            prefix: prefix_costs(fit.iter().map(|&i| frames[i])),
            fit,
            out: (0..frames.len()).map(|_| OnceLock::new()).collect(),
            queue: Mutex::new(Claims::default()),
            cpu_timing: Mutex::new((0.0, 0.0)),
            algos,
        };
        work.queue.lock().unwrap().back = work.fit.len();
        let share = self.gpu_share();
        let helpers_on = AtomicBool::new(false);
        let mut failed: Vec<usize> = vec![];
        let mut first_error = None;
        let mut gpu_px = 0.0;
        let started = Instant::now();
        rayon::in_place_scope(|s| {
            let start_helpers = || {
                if !helpers_on.swap(true, Ordering::SeqCst) {
                    for _ in 0..rayon::current_num_threads() {
                        s.spawn(|_| self.cpu_worker(&work));
                    }
                }
            };
            for &i in &oversized {
                let work = &work;
                s.spawn(move |_| work.set(i, hash_cpu(work.frames[i], algos)));
            }
            self.hasher.feed(
                &work.fit_frames,
                algos,
                |in_flight| {
                    let claimed = work.claim_front(share, &limits);
                    let saturated = claimed.is_none() || in_flight + 1 == DEPTH;
                    if !self.only && saturated && work.remaining() > 0 {
                        start_helpers();
                    }
                    claimed
                },
                |idx, result| {
                    let cost = work.cost(idx);
                    work.queue.lock().unwrap().gpu_held -= cost;
                    match result {
                        Ok(hs) => {
                            for (&i, h) in idx.iter().zip(hs) {
                                work.set(work.fit[i], h);
                            }
                            gpu_px += cost;
                        }
                        Err(e) => {
                            failed.extend_from_slice(idx);
                            first_error.get_or_insert(self.hasher.context().explain(e));
                        }
                    }
                },
            );
            let gpu_s = started.elapsed().as_secs_f64();
            // What the GPU left (after a fault, or by the share rule) is the CPU's.
            if work.remaining() > 0 {
                start_helpers();
            }
            failed.par_iter().for_each(|&i| {
                let f = work.fit_frames[i];
                work.set(work.fit[i], hash_cpu(f, algos));
            });
            self.learn(gpu_px, gpu_s, &work);
        });
        let gpu_frames = work.fit.len() as u64 - work.cpu_taken() - failed.len() as u64;
        self.gpu_frames.fetch_add(gpu_frames, Ordering::Relaxed);
        self.cpu_frames
            .fetch_add(frames.len() as u64 - gpu_frames, Ordering::Relaxed);
        self.redone
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        match first_error {
            Some(e) => self.on_error(&e),
            None => self.state.lock().unwrap().failures_in_a_row = 0,
        }
        work.out
            .into_iter()
            .map(|c| c.into_inner().expect("every frame is hashed by one side"))
            .collect()
    }

    /// One CPU worker: frames from the back of the queue until it is empty, yielding to the
    /// pool between frames so that packing the GPU's next batch (and, in a scan, decoding
    /// the next round) is not held up behind it.
    fn cpu_worker(&self, work: &Work) {
        while let Some(i) = work.claim_back() {
            let f = work.fit_frames[i];
            let t = thread_cpu_seconds();
            let wall = Instant::now();
            let h = hash_cpu(f, work.algos);
            let secs = match (t, thread_cpu_seconds()) {
                (Some(a), Some(b)) => b - a,
                _ => wall.elapsed().as_secs_f64(),
            };
            {
                let mut c = work.cpu_timing.lock().unwrap();
                c.0 += frame_cost(f);
                c.1 += secs;
            }
            work.set(work.fit[i], h);
            rayon::yield_now();
        }
    }

    /// Fold this call's rates into the running ones.
    fn learn(&self, gpu_px: f64, gpu_s: f64, work: &Work) {
        let mut s = self.state.lock().unwrap();
        let blend = |old: f64, new: f64| {
            if old > 0.0 {
                old * (1.0 - RATE_WEIGHT) + new * RATE_WEIGHT
            } else {
                new
            }
        };
        if gpu_px > 0.0 && gpu_s > 0.0 {
            s.gpu_px_per_s = blend(s.gpu_px_per_s, gpu_px / gpu_s);
        }
        let (px, secs) = *work.cpu_timing.lock().unwrap();
        if px > 0.0 && secs > 0.0 {
            s.cpu_px_per_s_per_thread = blend(s.cpu_px_per_s_per_thread, px / secs);
        }
    }

    fn on_error(&self, e: &GpuError) {
        let mut s = self.state.lock().unwrap();
        s.failures_in_a_row += 1;
        if !e.is_recoverable() || s.failures_in_a_row >= MAX_FAILURES_IN_A_ROW {
            drop(s);
            return self.retire(e);
        }
        self.hasher.invalidate();
        let l = self.hasher.batch_limits();
        self.hasher
            .set_batch_limits(crate::gpu::batch::BatchLimits {
                frames: (l.frames / 2).max(1),
                pixels: (l.pixels / 2).max(MIN_BATCH_PIXELS),
                ..l
            });
        if s.warnings.is_empty() {
            s.warnings.push(format!(
                "{e}; GPU buffers dropped and batches halved, those frames hashed on the CPU"
            ));
        }
    }

    /// No more GPU hashing in this run; said once.
    fn retire(&self, e: &GpuError) {
        let mut s = self.state.lock().unwrap();
        if s.retired.is_none() {
            s.retired = Some(e.to_string());
            s.warnings
                .push(format!("{e}; the rest of the run hashes on the CPU"));
        }
        drop(s);
        self.hasher.invalidate();
    }
}

/// The queue of one call: the GPU claims from `front`, the CPU from `back`.
#[derive(Debug, Default)]
struct Claims {
    front: usize,
    back: usize,
    /// Cost of the frames the GPU has in flight.
    gpu_held: f64,
    cpu_taken: u64,
}

/// One call's frames and results, shared by the GPU feeder and the CPU workers.
struct Work<'a> {
    frames: &'a [&'a Frame],
    /// Indices into `frames` of the frames that fit a batch, and those frames.
    fit: Vec<usize>,
    fit_frames: Vec<&'a Frame>,
    /// Cost of `fit_frames[..i]`.
    prefix: Vec<f64>,
    out: Vec<OnceLock<FrameHashes>>,
    queue: Mutex<Claims>,
    /// CPU workers' (cost, thread seconds), for their rate.
    cpu_timing: Mutex<(f64, f64)>,
    algos: Algorithms,
}

impl Work<'_> {
    fn set(&self, i: usize, h: FrameHashes) {
        let _ = self.out[i].set(h);
    }

    fn remaining(&self) -> usize {
        let q = self.queue.lock().unwrap();
        q.back - q.front
    }

    fn cpu_taken(&self) -> u64 {
        self.queue.lock().unwrap().cpu_taken
    }

    fn cost(&self, idx: &[usize]) -> f64 {
        idx.iter()
            .map(|&i| self.prefix[i + 1] - self.prefix[i])
            .sum()
    }

    /// The GPU's next batch: as much of the front as one batch holds, but no more than its
    /// `share` of what is left (what it already holds counted), so that it finishes about
    /// when the CPU workers do.
    fn claim_front(
        &self,
        share: f64,
        limits: &crate::gpu::batch::BatchLimits,
    ) -> Option<Vec<usize>> {
        let mut q = self.queue.lock().unwrap();
        let (front, back) = (q.front, q.back);
        if front == back {
            return None;
        }
        let mut n = limits.take(&self.fit_frames[front..back], usize::MAX);
        if share < 1.0 {
            let left = self.prefix[back] - self.prefix[front];
            let budget = share * (left + q.gpu_held) - q.gpu_held;
            n = (0..n)
                .take_while(|&k| self.prefix[front + k + 1] - self.prefix[front] <= budget)
                .count();
        }
        if n == 0 {
            return None;
        }
        q.front += n;
        q.gpu_held += self.prefix[front + n] - self.prefix[front];
        Some((front..front + n).collect())
    }

    fn claim_back(&self) -> Option<usize> {
        let mut q = self.queue.lock().unwrap();
        if q.front == q.back {
            return None;
        }
        q.back -= 1;
        q.cpu_taken += 1;
        Some(q.back)
    }
}

fn frame_cost(f: &Frame) -> f64 {
    f.pixels() as f64 + FRAME_OVERHEAD_PX
}

fn prefix_costs<'a>(frames: impl Iterator<Item = &'a Frame>) -> Vec<f64> {
    let mut p = vec![0.0];
    for f in frames {
        p.push(p.last().copied().unwrap_or(0.0) + frame_cost(f));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work<'a>(frames: &'a [&'a Frame]) -> Work<'a> {
        let w = Work {
            frames,
            fit: (0..frames.len()).collect(),
            fit_frames: frames.to_vec(),
            prefix: prefix_costs(frames.iter().copied()),
            out: (0..frames.len()).map(|_| OnceLock::new()).collect(),
            queue: Mutex::new(Claims::default()),
            cpu_timing: Mutex::new((0.0, 0.0)),
            algos: Algorithms::ALL,
        };
        w.queue.lock().unwrap().back = frames.len();
        w
    }

    const ROOMY: crate::gpu::batch::BatchLimits = crate::gpu::batch::BatchLimits {
        frames: 8,
        pixels: 1 << 24,
        elements: 1 << 24,
    };

    #[test]
    fn the_gpu_takes_its_share_from_the_front_and_the_cpu_from_the_back() {
        let owned: Vec<Frame> = (0..20).map(|i| Frame::synthetic(64, 64, i)).collect();
        let frames: Vec<&Frame> = owned.iter().collect();
        let w = work(&frames);
        // A quarter of 20 equal frames: 5, within the batch limit of 8.
        assert_eq!(w.claim_front(0.25, &ROOMY), Some((0..5).collect()));
        // Holding 5 of the 20, it is at its share: nothing more until a batch finishes.
        assert_eq!(w.claim_front(0.25, &ROOMY), None);
        assert_eq!(w.claim_back(), Some(19));
        assert_eq!(w.remaining(), 14);
        // Alone (share 1) it takes whole batches.
        assert_eq!(w.claim_front(1.0, &ROOMY).map(|b| b.len()), Some(8));
        while w.claim_back().is_some() {}
        assert_eq!(w.claim_front(1.0, &ROOMY), None);
        assert_eq!(w.cpu_taken(), 7);
    }
}
