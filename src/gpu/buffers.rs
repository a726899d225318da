//! Device buffers: every allocation is checked against the adapter's limits before it is
//! made and inside an out-of-memory scope, so a failure is a value, never a buffer that
//! later submissions trip over. Buffers kept by role grow (by half again) and are reused, so
//! a steady stream of batches allocates nothing; a failed allocation leaves no slot behind.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use super::context::{Fault, GpuContext, GpuError};

/// Storage buffers the host writes and copies from.
pub fn storage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC
}

/// Read-back targets.
pub fn map_read() -> wgpu::BufferUsages {
    wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST
}

/// Host-written staging memory, copied from on the device.
pub fn map_write() -> wgpu::BufferUsages {
    wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC
}

/// The largest buffer of this usage the adapter allows: one storage binding for buffers a
/// shader binds, one buffer otherwise.
pub fn limit(ctx: &GpuContext, usage: wgpu::BufferUsages) -> u64 {
    let l = &ctx.limits;
    if usage.contains(wgpu::BufferUsages::STORAGE) {
        l.max_storage_buffer_binding_size.min(l.max_buffer_size)
    } else {
        l.max_buffer_size
    }
}

/// Create a buffer, or say why not: over the adapter's limit (checked first, so nothing is
/// asked of the driver) or out of device memory.
pub fn create(
    ctx: &GpuContext,
    what: &'static str,
    size: u64,
    usage: wgpu::BufferUsages,
    mapped: bool,
) -> Result<wgpu::Buffer, GpuError> {
    let size = size.max(16).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    let limit = limit(ctx, usage);
    if size > limit {
        return Err(GpuError::TooLarge {
            what,
            bytes: size,
            limit,
        });
    }
    if ctx.trip(Fault::AllocFails) {
        return Err(GpuError::OutOfMemory(format!(
            "{what} buffer of {size} bytes (injected fault)"
        )));
    }
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(what),
        size,
        usage,
        mapped_at_creation: mapped,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(GpuError::OutOfMemory(format!(
            "{what} buffer of {size} bytes: {e}"
        )));
    }
    ctx.check_alive()?;
    Ok(buffer)
}

/// The size to replace a buffer of `old` bytes that must now hold `bytes`: half again the
/// old size, so that slowly growing batches do not reallocate each time, but never past the
/// adapter's `limit` (nor below what is needed: the caller's check reports that).
pub fn grown(old: u64, bytes: u64, limit: u64) -> u64 {
    (old.saturating_mul(3) / 2).min(limit).max(bytes)
}

pub struct Slot {
    pub buffer: wgpu::Buffer,
    pub size: u64,
}

/// Buffers by role, each grown on demand and kept.
pub struct Slots<K> {
    pub map: HashMap<K, Slot>,
}

impl<K: Copy + Eq + Hash + Debug> Slots<K> {
    pub fn new() -> Slots<K> {
        Slots {
            map: HashMap::new(),
        }
    }

    /// Make `key`'s buffer at least `bytes` long. Growth overshoots by half so that slowly
    /// growing batches do not reallocate each time, but never past the adapter's limit.
    pub fn reserve(
        &mut self,
        ctx: &GpuContext,
        key: K,
        what: &'static str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<&wgpu::Buffer, GpuError> {
        let old = self.map.get(&key).map_or(0, |s| s.size);
        if old < bytes.max(16) {
            // The old buffer goes first: holding both could be what runs the device out.
            self.map.remove(&key);
            let size = grown(old, bytes, limit(ctx, usage));
            let buffer = create(ctx, what, size, usage, false)?;
            let size = buffer.size();
            self.map.insert(key, Slot { buffer, size });
        }
        Ok(&self.map[&key].buffer)
    }

    pub fn get(&self, key: K) -> &wgpu::Buffer {
        &self.map[&key].buffer
    }

    /// Bytes held by all slots.
    pub fn bytes(&self) -> u64 {
        self.map.values().map(|s| s.size).sum()
    }
}

impl<K: Copy + Eq + Hash + Debug> Default for Slots<K> {
    fn default() -> Self {
        Self::new()
    }
}
