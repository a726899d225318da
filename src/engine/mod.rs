//! The engine: frames in, hashes out, on whichever backend was chosen. Callers hand over as
//! many frames as they have; batching, the sharing of work between the GPU and the CPU
//! ([`hybrid`]) and recovery from GPU faults live behind this interface, so a caller always
//! gets one result per frame.

mod calibrate;
pub mod hybrid;

pub use calibrate::Calibration;

use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;
use serde::Serialize;

use crate::frame::Frame;
use crate::gpu::{AdapterKind, AdapterSummary, GpuContext, GpuError, GpuHasher};
pub use crate::hash::{Algorithms, FrameHashes};

/// `--backend`: `auto` takes a hardware GPU when there is one and the CPU otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    Auto,
    Gpu,
    Cpu,
}

/// How a GPU engine is opened and run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Pick the adapter whose name contains this text.
    pub adapter: Option<String>,
    /// Hash on the device alone (`--gpu-only`), for measuring it; otherwise CPU workers
    /// hash beside it whenever it is saturated.
    pub gpu_only: bool,
    /// The longest a wait on the device may take before it counts as hung.
    pub gpu_timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            adapter: None,
            gpu_only: false,
            gpu_timeout: crate::gpu::context::DEFAULT_TIMEOUT,
        }
    }
}

/// One frame on the CPU path.
pub use crate::cpu::hash_frame as hash_cpu;

fn hash_all_cpu(frames: &[&Frame], algos: Algorithms) -> Vec<FrameHashes> {
    frames.par_iter().map(|f| hash_cpu(f, algos)).collect()
}

pub enum Engine {
    Cpu,
    Gpu(Box<hybrid::GpuEngine>),
}

impl Engine {
    /// Open the backend asked for. `gpu` fails without an adapter; `auto` falls back to the
    /// CPU, and says so through [`Engine::describe`].
    pub fn open(choice: BackendChoice, adapter: Option<&str>) -> Result<Engine, GpuError> {
        Engine::open_with(
            choice,
            &EngineOptions {
                adapter: adapter.map(String::from),
                ..EngineOptions::default()
            },
        )
    }

    pub fn open_with(choice: BackendChoice, opts: &EngineOptions) -> Result<Engine, GpuError> {
        let kind = match choice {
            BackendChoice::Cpu => return Ok(Engine::Cpu),
            BackendChoice::Auto if opts.adapter.is_none() => AdapterKind::Hardware,
            _ => AdapterKind::Any,
        };
        let opened = GpuContext::open(kind, opts.adapter.as_deref()).and_then(|c| {
            c.set_timeout(opts.gpu_timeout);
            GpuHasher::new(Arc::new(c))
        });
        match opened {
            Ok(h) => Ok(Engine::Gpu(Box::new(hybrid::GpuEngine::new(
                h,
                opts.gpu_only,
            )))),
            Err(_) if choice == BackendChoice::Auto => Ok(Engine::Cpu),
            Err(e) => Err(e),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Engine::Cpu => "cpu",
            Engine::Gpu(_) => "gpu",
        }
    }

    /// The open device, to share with a matcher.
    pub fn gpu_context(&self) -> Option<Arc<GpuContext>> {
        match self {
            Engine::Cpu => None,
            Engine::Gpu(g) => Some(g.hasher().shared_context()),
        }
    }

    /// The device's hasher, for tests and benches that drive it directly.
    pub fn gpu_hasher(&self) -> Option<&GpuHasher> {
        match self {
            Engine::Cpu => None,
            Engine::Gpu(g) => Some(g.hasher()),
        }
    }

    pub fn adapter(&self) -> Option<&AdapterSummary> {
        match self {
            Engine::Cpu => None,
            Engine::Gpu(g) => Some(&g.hasher().context().adapter),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Engine::Cpu => format!("cpu ({} threads)", rayon::current_num_threads()),
            Engine::Gpu(g) => g.describe(),
        }
    }

    /// Frames hashed by each processor so far (the CPU's include GPU failures redone).
    pub fn shares(&self) -> hybrid::Shares {
        match self {
            Engine::Cpu => hybrid::Shares::default(),
            Engine::Gpu(g) => g.shares(),
        }
    }

    /// What the run should be told about the device so far (faults survived, the device
    /// given up for the CPU), in order: the caller says it; the engine never prints.
    pub fn warnings(&self) -> Vec<String> {
        match self {
            Engine::Cpu => vec![],
            Engine::Gpu(g) => g.warnings(),
        }
    }

    /// Hash every frame; results in input order. Never fails: a GPU fault (out of memory, a
    /// lost or hung device) costs speed, not results, because the frames it held are hashed
    /// again on the CPU path.
    pub fn hash(&self, frames: &[&Frame], algos: Algorithms) -> Vec<FrameHashes> {
        match self {
            Engine::Cpu => hash_all_cpu(frames, algos),
            Engine::Gpu(g) => g.hash(frames, algos),
        }
    }
}
