//! The backend options that `hash`, `match` and `scan` share.

use std::time::Duration;

use clap::Args;

use crate::engine::{BackendChoice, Engine, EngineOptions};
use crate::gpu::GpuError;

#[derive(Args, Debug, Clone)]
pub struct BackendArgs {
    /// `auto` uses a hardware GPU if present, else the CPU; `gpu` also accepts software
    /// adapters such as lavapipe. With a GPU, CPU workers hash beside it.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Pick the GPU adapter whose name contains this text.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Use the GPU alone, with no CPU workers beside it (hashing, matching and joining
    /// measure the device).
    #[arg(long)]
    pub gpu_only: bool,
    /// Seconds any wait on the GPU may take before the device counts as hung and the rest
    /// of the run moves to the CPU.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::gpu::context::DEFAULT_TIMEOUT.as_secs_f64())]
    pub gpu_timeout: f64,
}

impl BackendArgs {
    pub fn open(&self) -> Result<Engine, GpuError> {
        // Zero, negative or not a number: the default; beyond what a Duration holds: a week.
        let timeout = match Duration::try_from_secs_f64(self.gpu_timeout) {
            Ok(d) if !d.is_zero() => d.min(Duration::from_secs(7 * 24 * 3600)),
            Err(_) if self.gpu_timeout > 0.0 => Duration::from_secs(7 * 24 * 3600),
            _ => crate::gpu::context::DEFAULT_TIMEOUT,
        };
        Engine::open_with(
            self.backend,
            &EngineOptions {
                adapter: self.adapter.clone(),
                gpu_only: self.gpu_only,
                gpu_timeout: timeout,
            },
        )
    }
}
