//! Device buffers kept by role and reused across batches: a buffer only grows (by half
//! again, within the adapter's limits), so a steady stream of batches allocates nothing.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

use super::context::{GpuContext, GpuError};

pub struct Slot {
    pub buffer: wgpu::Buffer,
    pub size: u64,
}

pub struct Slots<K> {
    map: Mutex<HashMap<K, Slot>>,
}

/// Storage buffers the host writes and copies from; `map_read` ones are read-back targets.
pub fn storage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC
}

pub fn map_read() -> wgpu::BufferUsages {
    wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST
}

impl<K: Copy + Eq + Hash + Debug> Slots<K> {
    pub fn new() -> Slots<K> {
        Slots {
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, HashMap<K, Slot>> {
        self.map.lock().unwrap()
    }

    /// Make `key`'s buffer at least `bytes` long.
    pub fn reserve(&self, ctx: &GpuContext, key: K, bytes: u64, usage: wgpu::BufferUsages) {
        let bytes = bytes.max(16).next_multiple_of(4);
        let mut map = self.lock();
        let old = map.get(&key).map_or(0, |s| s.size);
        if old >= bytes {
            return;
        }
        let l = &ctx.limits;
        let cap = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
        let size = (old.saturating_mul(3) / 2).clamp(bytes, cap.max(bytes));
        let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&format!("{key:?}")),
            size,
            usage,
            mapped_at_creation: false,
        });
        map.insert(key, Slot { buffer, size });
    }

    pub fn upload(&self, ctx: &GpuContext, key: K, data: &[u8]) {
        self.reserve(ctx, key, data.len() as u64, storage());
        if !data.is_empty() {
            ctx.queue.write_buffer(&self.lock()[&key].buffer, 0, data);
        }
    }

    /// Map the first `bytes` of a `map_read` buffer after the queue has drained.
    pub fn read(&self, ctx: &GpuContext, key: K, bytes: u64) -> Result<Vec<u32>, GpuError> {
        let map = self.lock();
        let buf = &map[&key].buffer;
        let (tx, rx) = std::sync::mpsc::channel();
        buf.map_async(wgpu::MapMode::Read, ..bytes, move |r| {
            let _ = tx.send(r);
        });
        let err = |e: &dyn std::fmt::Display| GpuError::Runtime(e.to_string());
        ctx.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| err(&e))?;
        rx.recv().map_err(|e| err(&e))?.map_err(|e| err(&e))?;
        let view = buf.get_mapped_range(..bytes).map_err(|e| err(&e))?;
        let words = bytemuck::cast_slice::<u8, u32>(&view).to_vec();
        drop(view);
        buf.unmap();
        Ok(words)
    }
}

impl<K: Copy + Eq + Hash + Debug> Default for Slots<K> {
    fn default() -> Self {
        Self::new()
    }
}
