//! Reference sets kept on the device for the matcher's life. A set is uploaded once, straight
//! from its mapped file, in buffers of at most one storage binding each; it is found again by
//! its key (`RefSet::instance_id`). A set over the budget, over 2^32 entries, or one the
//! device could not hold is not kept: the matcher streams it, and one that failed for want of
//! memory is not tried again every round.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::buffers;
use super::context::{GpuContext, GpuError};

/// A reference set as the matcher sees it: its hashes (`hash_words` u64 each) and a key
/// that names this open set for as long as the matcher lives (`RefSet::instance_id`). It
/// lives here, with what keeps sets resident, so that residency needs nothing of the
/// matcher (the matcher uses residency, not the other way round).
pub struct SetView<'a> {
    pub key: u64,
    pub words: &'a [u64],
    pub hash_words: usize,
}

/// A set held on the device: consecutive parts, each one storage binding.
pub struct Resident {
    pub parts: Vec<Part>,
    pub bytes: u64,
}

pub struct Part {
    pub buffer: wgpu::Buffer,
    pub entries: u64,
    /// The part's first entry in the whole set.
    pub start: u64,
}

#[derive(Default)]
pub struct ResidentSets {
    sets: Mutex<HashMap<u64, Arc<Resident>>>,
    /// Sets whose upload failed for want of device memory.
    no_room: Mutex<HashSet<u64>>,
    /// Bytes of sets kept at most (`None`: as much as the device will allocate).
    budget: Mutex<Option<u64>>,
    /// Bytes per buffer at most, below the binding limit (tests).
    part_bytes: Mutex<Option<u64>>,
    uploads: AtomicU64,
    reuses: AtomicU64,
}

impl ResidentSets {
    pub fn new(budget: Option<u64>) -> ResidentSets {
        ResidentSets {
            budget: Mutex::new(budget),
            ..ResidentSets::default()
        }
    }

    pub fn set_budget(&self, bytes: Option<u64>) {
        *self.budget.lock().unwrap() = bytes;
    }

    pub fn set_part_bytes(&self, bytes: Option<u64>) {
        *self.part_bytes.lock().unwrap() = bytes;
    }

    pub fn release(&self, key: u64) {
        self.sets.lock().unwrap().remove(&key);
    }

    pub fn clear(&self) {
        self.sets.lock().unwrap().clear();
    }

    pub fn parts(&self, key: u64) -> Option<usize> {
        self.sets.lock().unwrap().get(&key).map(|r| r.parts.len())
    }

    pub fn bytes(&self) -> u64 {
        self.sets.lock().unwrap().values().map(|r| r.bytes).sum()
    }

    /// (Sets uploaded, calls served by a set already there.)
    pub fn uses(&self) -> (u64, u64) {
        (
            self.uploads.load(Ordering::Relaxed),
            self.reuses.load(Ordering::Relaxed),
        )
    }

    /// The set's resident copy: found, or uploaded now if the budget and the device allow
    /// (after dropping other resident sets if that is what it takes); `None`: stream it.
    pub fn get_or_upload(&self, ctx: &GpuContext, set: &SetView) -> Option<Arc<Resident>> {
        let bytes = set.words.len() as u64 * 8;
        let entries = set.words.len() / set.hash_words;
        let budget = *self.budget.lock().unwrap();
        if entries > u32::MAX as usize || budget.is_some_and(|b| bytes > b) {
            self.release(set.key);
            return None;
        }
        if let Some(r) = self.sets.lock().unwrap().get(&set.key) {
            self.reuses.fetch_add(1, Ordering::Relaxed);
            return Some(r.clone());
        }
        if self.no_room.lock().unwrap().contains(&set.key) {
            return None;
        }
        for attempt in 0..2 {
            let held = self.bytes();
            if attempt == 1 || budget.is_some_and(|b| held + bytes > b) {
                self.clear();
            }
            match self.upload(ctx, set) {
                Ok(r) => {
                    let r = Arc::new(r);
                    self.sets.lock().unwrap().insert(set.key, r.clone());
                    self.uploads.fetch_add(1, Ordering::Relaxed);
                    return Some(r);
                }
                Err(e) if e.is_recoverable() && held > 0 => continue,
                Err(_) => break,
            }
        }
        self.no_room.lock().unwrap().insert(set.key);
        None
    }

    /// Copy the set from its mapped file into device buffers of at most one binding each.
    fn upload(&self, ctx: &GpuContext, set: &SetView) -> Result<Resident, GpuError> {
        let hash_bytes = set.hash_words as u64 * 8;
        let binding = buffers::limit(ctx, buffers::storage());
        let most = self
            .part_bytes
            .lock()
            .unwrap()
            .map_or(binding, |b| b.min(binding));
        let per_part = (most / hash_bytes).max(1) as usize * set.hash_words;
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let mut parts = vec![];
        let mut start = 0u64;
        for words in set.words.chunks(per_part) {
            let bytes = words.len() as u64 * 8;
            let buffer = buffers::create(ctx, "resident set", bytes, usage, true)?;
            buffer
                .get_mapped_range_mut(..bytes)
                .map_err(|e| GpuError::Runtime(e.to_string()))?
                .copy_from_slice(bytemuck::cast_slice(words));
            buffer.unmap();
            // Frees wgpu's staging copy of this part now, not after the whole set: a set of
            // N GB must not need N GB of host staging memory at once.
            ctx.queue.submit([]);
            let entries = words.len() as u64 / set.hash_words as u64;
            parts.push(Part {
                buffer,
                entries,
                start,
            });
            start += entries;
        }
        ctx.check_alive()?;
        let bytes = set.words.len() as u64 * 8;
        ctx.count(|c| c.refs_bytes_uploaded += bytes);
        Ok(Resident { parts, bytes })
    }
}
