//! The GPU backend: WGSL stages in `shaders/`, one per CPU stage in `src/cpu/`.

pub mod batch;
pub mod buffers;
pub mod context;
pub mod hasher;
pub mod matcher;
pub mod resident;
pub mod stage;

pub use context::{AdapterKind, AdapterSummary, Fault, GpuContext, GpuCounters, GpuError};
pub use hasher::GpuHasher;
pub use matcher::GpuMatcher;
