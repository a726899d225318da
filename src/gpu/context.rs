//! Finding an adapter and opening a device with its real limits.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GpuError {
    #[error("no GPU adapter found{0}")]
    NoAdapter(String),
    #[error("could not open the GPU device: {0}")]
    Device(String),
    #[error("GPU error: {0}")]
    Runtime(String),
    #[error("a chunk holds more matching pairs than one buffer can")]
    TooDense,
}

/// Which adapters a backend choice accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    /// Discrete, integrated or virtual GPUs only (what `--backend auto` wants: a software
    /// rasteriser such as lavapipe is slower than our CPU path).
    Hardware,
    /// Any adapter, software ones included (`--backend gpu`, and the tests on lavapipe).
    Any,
}

/// What `hashsweep devices` prints and every report records.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
}

impl AdapterSummary {
    pub fn of(adapter: &wgpu::Adapter) -> AdapterSummary {
        let info = adapter.get_info();
        let l = adapter.limits();
        AdapterSummary {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver,
            driver_info: info.driver_info,
            max_buffer_size: l.max_buffer_size,
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
        }
    }

    pub fn is_hardware(&self) -> bool {
        matches!(
            self.device_type.as_str(),
            "DiscreteGpu" | "IntegratedGpu" | "VirtualGpu"
        )
    }
}

/// Vulkan, Metal and DX12 by default; `WGPU_BACKEND` (e.g. `gl`) overrides, as wgpu documents.
fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if wgpu::Backends::from_env().is_none() {
        desc.backends = wgpu::Backends::PRIMARY;
    }
    wgpu::Instance::new(desc)
}

/// Every adapter the enabled backends report, best first: hardware before software.
pub fn adapters() -> Vec<wgpu::Adapter> {
    let inst = instance();
    let mut all = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
    all.sort_by_key(|a| rank(&a.get_info().device_type));
    all
}

fn rank(t: &wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// An open device and the adapter it came from.
pub struct GpuContext {
    pub adapter: AdapterSummary,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub limits: wgpu::Limits,
    error: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Open the best adapter of `kind`; `name` (a substring, case-insensitive) narrows it.
    pub fn open(kind: AdapterKind, name: Option<&str>) -> Result<GpuContext, GpuError> {
        let candidates: Vec<wgpu::Adapter> = adapters()
            .into_iter()
            .filter(|a| kind == AdapterKind::Any || AdapterSummary::of(a).is_hardware())
            .filter(|a| {
                name.is_none_or(|n| a.get_info().name.to_lowercase().contains(&n.to_lowercase()))
            })
            .collect();
        let Some(adapter) = candidates.into_iter().next() else {
            let what = match (kind, name) {
                (_, Some(n)) => format!(" matching {n:?}"),
                (AdapterKind::Hardware, None) => " (hardware)".to_string(),
                (AdapterKind::Any, None) => String::new(),
            };
            return Err(GpuError::NoAdapter(what));
        };
        // Ask for everything the adapter offers: batch sizes are planned from these limits.
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("hashsweep"),
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let error = Arc::new(Mutex::new(None));
        let sink = error.clone();
        // wgpu's default is to panic on an error nobody captured; here it becomes a value
        // that the next batch returns.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap().get_or_insert(e.to_string());
        }));
        Ok(GpuContext {
            adapter: AdapterSummary::of(&adapter),
            device,
            queue,
            limits,
            error,
        })
    }

    /// The first device error since the last call, if any.
    pub fn take_error(&self) -> Result<(), GpuError> {
        match self.error.lock().unwrap().take() {
            Some(e) => Err(GpuError::Runtime(e)),
            None => Ok(()),
        }
    }
}
