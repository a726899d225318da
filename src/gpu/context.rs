//! Finding an adapter and opening a device with its real limits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error, Clone)]
pub enum GpuError {
    #[error("no GPU adapter found{0}")]
    NoAdapter(String),
    #[error("could not open the GPU device: {0}")]
    Device(String),
    #[error("GPU error: {0}")]
    Runtime(String),
    #[error("a chunk holds more matching pairs than one buffer can")]
    TooDense,
    #[error("the GPU is out of memory: {0}")]
    OutOfMemory(String),
    #[error("a {what} buffer of {bytes} bytes is over the adapter's limit of {limit}")]
    TooLarge {
        what: &'static str,
        bytes: u64,
        limit: u64,
    },
    #[error("the GPU did not finish within {0:?} (--gpu-timeout)")]
    Timeout(Duration),
    #[error("the GPU device was lost: {0}")]
    Lost(String),
}

impl GpuError {
    /// Whether smaller buffers may succeed where these failed: the device itself is fine.
    /// A lost or hung device, or a driver error, is not worth another try.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            GpuError::OutOfMemory(_) | GpuError::TooLarge { .. } | GpuError::TooDense
        )
    }
}

/// Faults a test can make happen on purpose, to prove that none of them loses a result.
/// Set with [`GpuContext::inject`] or, for the command line, `HASHSWEEP_GPU_FAULT`
/// (`alloc@N`, `lost@N`, `hang@N`, comma-separated: the Nth buffer allocation fails, the
/// device is destroyed before the Nth submission, the Nth wait times out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    AllocFails,
    DeviceLost,
    Hang,
}

impl Fault {
    fn parse_list(text: &str) -> Vec<(Fault, u64)> {
        text.split(',')
            .filter_map(|item| {
                let (name, n) = item.trim().split_once('@').unwrap_or((item.trim(), "1"));
                let fault = match name {
                    "alloc" => Fault::AllocFails,
                    "lost" => Fault::DeviceLost,
                    "hang" => Fault::Hang,
                    _ => return None,
                };
                Some((fault, n.parse().ok()?))
            })
            .collect()
    }
}

/// What crossed the bus and how the device's time went, for reports (`scan`'s summary,
/// `--stats`, benches) and for tests that prove a set is uploaded once.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq)]
pub struct GpuCounters {
    /// Reference-set hashes copied to the device (resident uploads and streamed chunks).
    pub refs_bytes_uploaded: u64,
    /// Packed frames (pixels, frame table, resampling taps) copied to the device.
    pub frames_bytes_uploaded: u64,
    /// Query hashes and their cutoffs copied to the device.
    pub queries_bytes_uploaded: u64,
    /// Everything read back: hashes, match counts and matched pairs.
    pub bytes_downloaded: u64,
    /// Hashing batches submitted.
    pub batches: u64,
    /// Matching submissions (one per set per round with a resident set).
    pub match_submissions: u64,
    /// Seconds during which the device had work outstanding, as seen from the host.
    pub busy_seconds: f64,
    /// Seconds host threads spent blocked waiting for the device.
    pub wait_seconds: f64,
}

fn classify(e: wgpu::Error) -> GpuError {
    match e {
        wgpu::Error::OutOfMemory { .. } => GpuError::OutOfMemory(e.to_string()),
        e => GpuError::Runtime(e.to_string()),
    }
}

impl GpuCounters {
    /// What was counted after `earlier` was taken (one run's share of a shared device).
    pub fn since(&self, earlier: &GpuCounters) -> GpuCounters {
        GpuCounters {
            refs_bytes_uploaded: self.refs_bytes_uploaded - earlier.refs_bytes_uploaded,
            frames_bytes_uploaded: self.frames_bytes_uploaded - earlier.frames_bytes_uploaded,
            queries_bytes_uploaded: self.queries_bytes_uploaded - earlier.queries_bytes_uploaded,
            bytes_downloaded: self.bytes_downloaded - earlier.bytes_downloaded,
            batches: self.batches - earlier.batches,
            match_submissions: self.match_submissions - earlier.match_submissions,
            busy_seconds: self.busy_seconds - earlier.busy_seconds,
            wait_seconds: self.wait_seconds - earlier.wait_seconds,
        }
    }
}

/// Outstanding submissions, to add up the time the device had work.
#[derive(Default)]
struct Busy {
    outstanding: usize,
    since: Option<Instant>,
}

/// Default for `--gpu-timeout`: far beyond any one batch or matching submission on a working
/// device (a software adapter included), so only a hung device reaches it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

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
    error: Arc<Mutex<Option<GpuError>>>,
    lost: Arc<AtomicBool>,
    /// Set by the first wait that timed out: a hung device is not waited on again.
    hung: AtomicBool,
    timeout_ms: AtomicU64,
    faults: Mutex<Vec<(Fault, u64)>>,
    counters: Mutex<GpuCounters>,
    busy: Mutex<Busy>,
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
        // wgpu's default is to panic on an error nobody captured. Every operation here runs
        // inside error scopes of its own thread (`GpuContext::scoped`), so that the hasher
        // and the matcher never take each other's errors; what still arrives here is kept
        // for `take_error`, which only setup calls.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap().get_or_insert(classify(e));
        }));
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        device.set_device_lost_callback(move |_, _| flag.store(true, Ordering::SeqCst));
        let faults = std::env::var("HASHSWEEP_GPU_FAULT")
            .map(|t| Fault::parse_list(&t))
            .unwrap_or_default();
        Ok(GpuContext {
            adapter: AdapterSummary::of(&adapter),
            device,
            queue,
            limits,
            error,
            lost,
            hung: AtomicBool::new(false),
            timeout_ms: AtomicU64::new(DEFAULT_TIMEOUT.as_millis() as u64),
            faults: Mutex::new(faults),
            counters: Mutex::new(GpuCounters::default()),
            busy: Mutex::new(Busy::default()),
        })
    }

    /// The first error no scope caught since the last call, if any; a lost device stays
    /// lost. For setup (pipelines), before two threads share the device.
    pub fn take_error(&self) -> Result<(), GpuError> {
        self.check_alive()?;
        match self.error.lock().unwrap().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether the device can still be used: not lost, not hung.
    pub fn check_alive(&self) -> Result<(), GpuError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(GpuError::Lost("the driver reported the device lost".into()));
        }
        if self.hung.load(Ordering::SeqCst) {
            return Err(GpuError::Timeout(self.timeout()));
        }
        Ok(())
    }

    /// Run `f`, which makes wgpu calls on this thread, inside error scopes of this thread:
    /// a validation, out-of-memory or internal error those calls raise is `f`'s error, and
    /// no other thread's. (wgpu reports such errors when the call is made; errors while the
    /// device executes surface as a lost device or a failed wait.)
    pub fn scoped<T>(&self, f: impl FnOnce() -> Result<T, GpuError>) -> Result<T, GpuError> {
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let result = f();
        let caught = [memory.pop(), validation.pop(), internal.pop()]
            .into_iter()
            .filter_map(pollster::block_on)
            .map(classify)
            .next();
        match (result, caught) {
            (Err(e), _) => Err(self.explain(e)),
            (Ok(_), Some(e)) => Err(self.explain(e)),
            (Ok(v), None) => Ok(v),
        }
    }

    /// `e` as the caller should see it: whatever broke, on a lost device the loss is the
    /// cause (operations on it fail with validation errors that do not say so).
    pub fn explain(&self, e: GpuError) -> GpuError {
        match e {
            GpuError::Lost(_) => e,
            _ if self.lost.load(Ordering::SeqCst) => {
                GpuError::Lost(format!("the driver reported the device lost ({e})"))
            }
            _ => e,
        }
    }

    /// The longest any wait on this device may take before it counts as hung.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    pub fn set_timeout(&self, t: Duration) {
        let ms = t.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        self.timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// Make `fault` happen at its `nth` opportunity from now (1 = the next one).
    pub fn inject(&self, fault: Fault, nth: u64) {
        self.faults.lock().unwrap().push((fault, nth.max(1)));
    }

    /// Whether an injected `fault` happens at this opportunity.
    pub fn trip(&self, fault: Fault) -> bool {
        let mut faults = self.faults.lock().unwrap();
        let mut hit = false;
        faults.retain_mut(|(f, n)| {
            if *f != fault || hit {
                return true;
            }
            *n -= 1;
            hit = *n == 0;
            !hit
        });
        hit
    }

    /// Submit work, counting the device busy from now until [`GpuContext::wait`] sees it
    /// done. An injected loss destroys the device first, as a driver reset would.
    pub fn submit(&self, work: Vec<wgpu::CommandBuffer>) -> wgpu::SubmissionIndex {
        if self.trip(Fault::DeviceLost) {
            self.device.destroy();
            self.lost.store(true, Ordering::SeqCst);
        }
        let mut b = self.busy.lock().unwrap();
        if b.outstanding == 0 {
            b.since = Some(Instant::now());
        }
        b.outstanding += 1;
        drop(b);
        self.queue.submit(work)
    }

    /// Block until submission `index` is done, at most the timeout; map callbacks asked for
    /// before the call have run when it returns. Every wait on the device goes through here.
    pub fn wait(&self, index: wgpu::SubmissionIndex) -> Result<(), GpuError> {
        let started = Instant::now();
        let result = if let Err(e) = self.check_alive() {
            Err(e)
        } else if self.trip(Fault::Hang) {
            Err(GpuError::Timeout(self.timeout()))
        } else {
            let poll = wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(self.timeout()),
            };
            match self.device.poll(poll) {
                Ok(_) => Ok(()),
                Err(wgpu::PollError::Timeout) => Err(GpuError::Timeout(self.timeout())),
                // A submission that failed validation: that call's scope has its error.
                Err(e) => Err(GpuError::Runtime(e.to_string())),
            }
        };
        if let Err(GpuError::Timeout(_)) = result {
            self.hung.store(true, Ordering::SeqCst);
        }
        self.count(|c| c.wait_seconds += started.elapsed().as_secs_f64());
        let mut b = self.busy.lock().unwrap();
        b.outstanding = b.outstanding.saturating_sub(1);
        if b.outstanding == 0
            && let Some(since) = b.since.take()
        {
            drop(b);
            self.count(|c| c.busy_seconds += since.elapsed().as_secs_f64());
        }
        result.map_err(|e| self.explain(e))
    }

    /// Wait (at most the timeout) for a map callback. The submission it waited for is done,
    /// but when two threads poll one device, the callback may run on the other thread a
    /// moment after this one's wait returned.
    pub fn await_map(
        &self,
        mapped: &std::sync::mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
    ) -> Result<(), GpuError> {
        let deadline = Instant::now() + self.timeout();
        loop {
            match mapped.recv_timeout(Duration::from_millis(1)) {
                Ok(r) => return r.map_err(|e| self.explain(GpuError::Runtime(e.to_string()))),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(self.explain(GpuError::Runtime("a mapping was dropped".into())));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                self.hung.store(true, Ordering::SeqCst);
                return Err(GpuError::Timeout(self.timeout()));
            }
            let _ = self.device.poll(wgpu::PollType::Poll);
        }
    }

    pub fn count(&self, f: impl FnOnce(&mut GpuCounters)) {
        f(&mut self.counters.lock().unwrap());
    }

    pub fn counters(&self) -> GpuCounters {
        *self.counters.lock().unwrap()
    }
}

/// A read-back asked for right after its submission, so that the wait on that submission
/// also maps it: one wait per batch, not two.
pub struct PendingRead {
    bytes: u64,
    mapped: std::sync::mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
}

impl PendingRead {
    pub fn request(buffer: &wgpu::Buffer, bytes: u64) -> PendingRead {
        let (tx, rx) = std::sync::mpsc::channel();
        if bytes > 0 {
            buffer.map_async(wgpu::MapMode::Read, ..bytes, move |r| {
                let _ = tx.send(r);
            });
        }
        PendingRead { bytes, mapped: rx }
    }

    /// The bytes, once [`GpuContext::wait`] has seen their submission done.
    pub fn take(self, ctx: &GpuContext, buffer: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        if self.bytes == 0 {
            return Ok(vec![]);
        }
        ctx.await_map(&self.mapped)?;
        let view = buffer
            .get_mapped_range(..self.bytes)
            .map_err(|e| GpuError::Runtime(e.to_string()))?;
        let out = view.to_vec();
        drop(view);
        buffer.unmap();
        ctx.count(|c| c.bytes_downloaded += self.bytes);
        Ok(out)
    }
}

/// Submit `work`, then read `bytes` of `buffer` (a `MAP_READ` target of that work).
pub fn submit_and_read(
    ctx: &GpuContext,
    work: wgpu::CommandBuffer,
    buffer: &wgpu::Buffer,
    bytes: u64,
) -> Result<Vec<u8>, GpuError> {
    let index = ctx.submit(vec![work]);
    let pending = PendingRead::request(buffer, bytes);
    ctx.wait(index)?;
    pending.take(ctx, buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists_parse_and_bad_items_are_ignored() {
        assert_eq!(
            Fault::parse_list("alloc@3, lost,hang@x,nonsense@1"),
            [(Fault::AllocFails, 3), (Fault::DeviceLost, 1)]
        );
    }

    #[test]
    fn only_capacity_errors_are_worth_another_try() {
        assert!(GpuError::OutOfMemory("x".into()).is_recoverable());
        assert!(!GpuError::Timeout(Duration::from_secs(1)).is_recoverable());
        assert!(!GpuError::Lost("x".into()).is_recoverable());
    }
}
