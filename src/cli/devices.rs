//! `hashsweep devices`: every adapter wgpu can see, with the limits batching depends on.

use crate::gpu::{AdapterSummary, context};

pub fn run(json: bool) -> anyhow::Result<i32> {
    let all: Vec<AdapterSummary> = context::adapters().iter().map(AdapterSummary::of).collect();
    if json {
        super::outln!("{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(0);
    }
    if all.is_empty() {
        super::outln!("no GPU adapters found; hashing runs on the CPU backend")?;
        return Ok(0);
    }
    for a in &all {
        super::outln!(
            "{} [{} {}] driver: {} {}",
            a.name,
            a.backend,
            a.device_type,
            a.driver,
            a.driver_info
        )?;
        super::outln!(
            "    max buffer {} MiB, max storage binding {} MiB, workgroups/dim {}, invocations/workgroup {}, workgroup storage {} B{}",
            a.max_buffer_size >> 20,
            a.max_storage_buffer_binding_size >> 20,
            a.max_compute_workgroups_per_dimension,
            a.max_compute_invocations_per_workgroup,
            a.max_compute_workgroup_storage_size,
            if a.is_hardware() {
                ""
            } else {
                "  (software: used only with --backend gpu)"
            }
        )?;
    }
    Ok(0)
}
