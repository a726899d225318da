//! The engine's first measurement: what a frame costs the host on each path, which decides
//! whether the device pays at all and sets its first share of the work.

use std::time::Instant;

use serde::Serialize;

use super::hash_cpu;
use crate::frame::Frame;
use crate::gpu::{GpuError, GpuHasher};
use crate::hash::Algorithms;

/// What the engine measured when it opened: host CPU seconds per pixel on each path, and the
/// rates that set the GPU's first share.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Calibration {
    pub gpu_host_cpu_s_per_px: f64,
    pub cpu_s_per_px: f64,
    pub gpu_px_per_s: f64,
    pub cpu_px_per_s_per_thread: f64,
}

impl Calibration {
    /// The host CPU time a GPU frame costs, as a multiple of hashing it on the CPU.
    pub fn host_cost_ratio(&self) -> f64 {
        self.gpu_host_cpu_s_per_px / self.cpu_s_per_px.max(1e-15)
    }

    /// Whether giving the GPU a frame frees the host at all.
    pub fn gpu_pays(&self) -> bool {
        self.host_cost_ratio() < 1.0
    }
}

/// Measure both paths on generated frames while nothing else runs (the engine is opened
/// before any work starts). A first small measurement settles a device that is clearly no
/// help; otherwise a larger one, where the GPU's fixed cost per batch weighs less, decides.
pub(super) fn calibrate(h: &GpuHasher) -> Result<Calibration, GpuError> {
    let frames = |n: u64| -> Vec<Frame> { (0..n).map(|i| Frame::synthetic(256, 256, i)).collect() };
    let small = frames(4);
    let small: Vec<&Frame> = small.iter().collect();
    h.hash(&small, Algorithms::ALL)?; // shaders compile, buffers are allocated
    let first = measure(h, &small)?;
    if first.host_cost_ratio() > 4.0 {
        return Ok(first);
    }
    let more = frames(64);
    let more: Vec<&Frame> = more.iter().collect();
    h.hash(&more, Algorithms::ALL)?;
    measure(h, &more)
}

fn measure(h: &GpuHasher, frames: &[&Frame]) -> Result<Calibration, GpuError> {
    let px: f64 = frames.iter().map(|f| f.pixels() as f64).sum();
    let (host0, wall0) = (process_cpu_seconds(), Instant::now());
    h.hash(frames, Algorithms::ALL)?;
    let gpu_wall = wall0.elapsed().as_secs_f64();
    let host = match (host0, process_cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        // No CPU clock here: the GPU is taken to cost the host nothing.
        _ => 0.0,
    };
    let (cpu0, wall0) = (thread_cpu_seconds(), Instant::now());
    for f in frames {
        std::hint::black_box(hash_cpu(f, Algorithms::ALL));
    }
    let cpu = match (cpu0, thread_cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => wall0.elapsed().as_secs_f64(),
    }
    .max(1e-9);
    Ok(Calibration {
        gpu_host_cpu_s_per_px: host / px,
        cpu_s_per_px: cpu / px,
        gpu_px_per_s: px / gpu_wall.max(1e-9),
        cpu_px_per_s_per_thread: px / cpu,
    })
}

#[cfg(unix)]
fn clock_seconds(clock: libc::clockid_t) -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// CPU seconds used by every thread of the process, a GPU driver's own threads included.
pub(super) fn process_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    return clock_seconds(libc::CLOCK_PROCESS_CPUTIME_ID);
    #[cfg(not(unix))]
    None
}

pub(super) fn thread_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    return clock_seconds(libc::CLOCK_THREAD_CPUTIME_ID);
    #[cfg(not(unix))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpu_frame_that_costs_the_host_more_than_the_cpu_path_does_not_pay() {
        let c = |gpu: f64, cpu: f64| Calibration {
            gpu_host_cpu_s_per_px: gpu,
            cpu_s_per_px: cpu,
            gpu_px_per_s: 1.0,
            cpu_px_per_s_per_thread: 1.0,
        };
        assert!(c(1e-9, 7e-9).gpu_pays());
        assert!(!c(1e-7, 7e-9).gpu_pays());
        assert!((c(1e-7, 1e-8).host_cost_ratio() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn cpu_clocks_advance_with_work() {
        let (Some(a), Some(p)) = (thread_cpu_seconds(), process_cpu_seconds()) else {
            // Linux has both clocks: only elsewhere may this test find nothing to check.
            if cfg!(target_os = "linux") {
                panic!("no thread or process CPU clock");
            }
            eprintln!("NOTICE: no per-thread CPU clock here; this test checked nothing");
            return;
        };
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_seconds().unwrap() > a);
        assert!(process_cpu_seconds().unwrap() > p);
    }
}
