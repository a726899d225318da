//! The engine: frames in, hashes out, on whichever backend was chosen. Batching for the GPU
//! lives behind this interface; callers hand over as many frames as they have.

use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use crate::cpu::{pdq, phash};
use crate::frame::Frame;
use crate::gpu::{AdapterKind, AdapterSummary, GpuContext, GpuError, GpuHasher};
use crate::hash::{PdqHashes, Phash64};

/// Which hashes to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms {
    pub pdq: bool,
    pub phash: bool,
}

impl Algorithms {
    pub const ALL: Algorithms = Algorithms {
        pdq: true,
        phash: true,
    };
}

/// The hashes of one frame; `None` for an algorithm that was not asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHashes {
    pub pdq: Option<PdqHashes>,
    pub phash: Option<Phash64>,
}

/// `--backend`: `auto` takes a hardware GPU when there is one and the CPU otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    Auto,
    Gpu,
    Cpu,
}

/// One frame on the CPU path.
pub fn hash_cpu(f: &Frame, algos: Algorithms) -> FrameHashes {
    let (w, h) = (f.width() as usize, f.height() as usize);
    FrameHashes {
        pdq: algos.pdq.then(|| pdq::pdq(f.rgb(), h, w)),
        phash: algos.phash.then(|| phash::phash(f.phash_source(), w, h)),
    }
}

pub enum Engine {
    Cpu,
    Gpu(Box<GpuHasher>),
}

impl Engine {
    /// Open the backend asked for. `gpu` fails without an adapter; `auto` falls back to the
    /// CPU, and says so through [`Engine::describe`].
    pub fn open(choice: BackendChoice, adapter: Option<&str>) -> Result<Engine, GpuError> {
        let kind = match choice {
            BackendChoice::Cpu => return Ok(Engine::Cpu),
            BackendChoice::Auto if adapter.is_none() => AdapterKind::Hardware,
            _ => AdapterKind::Any,
        };
        match GpuContext::open(kind, adapter).and_then(|c| GpuHasher::new(Arc::new(c))) {
            Ok(h) => Ok(Engine::Gpu(Box::new(h))),
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
            Engine::Gpu(h) => Some(h.shared_context()),
        }
    }

    pub fn adapter(&self) -> Option<&AdapterSummary> {
        match self {
            Engine::Cpu => None,
            Engine::Gpu(h) => Some(&h.context().adapter),
        }
    }

    pub fn describe(&self) -> String {
        match self.adapter() {
            None => format!("cpu ({} threads)", rayon::current_num_threads()),
            Some(a) => format!("gpu: {} ({}, {})", a.name, a.backend, a.device_type),
        }
    }

    /// Like [`Engine::hash`], but a GPU failure (device lost, driver error) costs speed, not
    /// results: the frames are hashed again on the CPU path, which gives the same answers.
    pub fn hash_or_cpu(&self, frames: &[&Frame], algos: Algorithms) -> Vec<FrameHashes> {
        self.hash(frames, algos).unwrap_or_else(|e| {
            eprintln!("hashsweep: warning: {e}; hashing these frames on the CPU");
            frames.par_iter().map(|f| hash_cpu(f, algos)).collect()
        })
    }

    /// Hash every frame; results in input order.
    pub fn hash(&self, frames: &[&Frame], algos: Algorithms) -> Result<Vec<FrameHashes>, GpuError> {
        match self {
            Engine::Cpu => Ok(frames.par_iter().map(|f| hash_cpu(f, algos)).collect()),
            Engine::Gpu(h) => h.hash(frames, algos),
        }
    }
}
