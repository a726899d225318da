//! Where each matching call runs: through the set's multi-index, a CPU sweep or a GPU
//! sweep, chosen per call by a cost model (entries, distance, queries, the device's
//! measured rate), or as `--index` says. All three find exactly the same pairs; the choice
//! is only about time, and it is recorded for the run's summary.
//!
//! The GPU is one place where a matching failure on the device is handled, for every
//! caller: from its first failure on, calls move to the CPU, and why is kept for the
//! caller to say, once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde::Serialize;

use super::{Match, MatchParams, Matcher, QueryHashes, finalize, mih};
use crate::gpu::{GpuContext, GpuError, GpuMatcher};
use crate::refset::RefSet;
use crate::refset::index::{Table, query_cost, sweep_cost};

/// What `--index` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexChoice {
    /// The cheapest by the cost model.
    #[default]
    Auto,
    /// Through the index wherever a set has one (a sweep where it has none).
    Mih,
    /// Always a sweep (CPU or GPU).
    Flat,
}

impl std::str::FromStr for IndexChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(IndexChoice::Auto),
            "mih" => Ok(IndexChoice::Mih),
            "flat" => Ok(IndexChoice::Flat),
            _ => Err(format!("{s}: expected auto, mih or flat")),
        }
    }
}

/// `--index mih` on a set without an index is refused before any work, never swept
/// quietly.
pub fn require_indexes<'a>(
    sets: impl Iterator<Item = &'a RefSet>,
    choice: IndexChoice,
) -> Result<(), String> {
    if choice != IndexChoice::Mih {
        return Ok(());
    }
    for s in sets.filter(|s| !s.algo().is_digest() && !s.is_empty()) {
        if s.index().is_none() {
            return Err(format!(
                "--index mih: {} has no index; add one with `hashsweep refs index {}`",
                s.path().display(),
                s.path().display()
            ));
        }
    }
    Ok(())
}

/// The three ways a call can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    Mih,
    CpuSweep,
    GpuSweep,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Mih => "mih",
            Route::CpuSweep => "cpu-sweep",
            Route::GpuSweep => "gpu-sweep",
        }
    }
}

/// What ran where, for the summary's stats.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteStats {
    pub calls: u64,
    pub query_hashes: u64,
    pub seconds: f64,
}

/// The GPU sweep's rate before the device has been measured, in comparisons per second:
/// a prediction, kept until a call measures it. A software adapter (lavapipe) sweeps
/// about 4e7 per second on this project's CI machine (a 1M-entry scan spent 23 s); a
/// hardware GPU is predicted at 1e11 (an H200's integer rate, unmeasured here).
/// `HASHSWEEP_GPU_MATCH_RATE` (or [`Planner::pin_gpu_rate`]) pins the rate instead: tests
/// and benchmarks that must drive the device's sweep.
fn predicted_gpu_rate(ctx: &GpuContext) -> f64 {
    pinned_gpu_rate().unwrap_or(if ctx.adapter.is_hardware() { 1e11 } else { 4e7 })
}

fn pinned_gpu_rate() -> Option<f64> {
    std::env::var("HASHSWEEP_GPU_MATCH_RATE").ok()?.parse().ok()
}

/// Where a run's matching happens (see the module's comment).
pub struct Planner {
    gpu: Option<GpuMatcher>,
    failed: OnceLock<String>,
    index: IndexChoice,
    stats: Mutex<BTreeMap<Route, RouteStats>>,
    /// Comparisons per second the GPU sweep reached in its last call.
    gpu_rate: Mutex<Option<f64>>,
    rate_pinned: bool,
}

impl Planner {
    /// Matching on the CPU only.
    pub fn cpu() -> Planner {
        Planner {
            gpu: None,
            failed: OnceLock::new(),
            index: IndexChoice::Auto,
            stats: Mutex::default(),
            gpu_rate: Mutex::default(),
            rate_pinned: false,
        }
    }

    /// Matching on this GPU matcher (CPU once it fails).
    pub fn with(gpu: GpuMatcher) -> Planner {
        Planner {
            gpu: Some(gpu),
            ..Planner::cpu()
        }
    }

    /// Matching on the engine's device when it has one.
    pub fn on_device(ctx: Option<Arc<GpuContext>>) -> Planner {
        let Some(ctx) = ctx else {
            return Planner::cpu();
        };
        match GpuMatcher::new(ctx) {
            Ok(g) => Planner::with(g),
            Err(e) => {
                let p = Planner::cpu();
                p.fail(&e);
                p
            }
        }
    }

    /// Price the GPU sweep at `rate` comparisons per second from now on, measured or
    /// not (what `HASHSWEEP_GPU_MATCH_RATE` does for a run): for callers that must drive
    /// the device.
    pub fn pin_gpu_rate(self, rate: f64) -> Planner {
        *self.gpu_rate.lock().expect("rate") = Some(rate);
        Planner {
            rate_pinned: true,
            ..self
        }
    }

    /// Route calls as `--index` says.
    pub fn index(mut self, choice: IndexChoice) -> Planner {
        self.index = choice;
        self
    }

    fn fail(&self, e: &GpuError) {
        let _ = self
            .failed
            .set(format!("{e}; matching on the CPU from here on"));
    }

    /// The GPU matcher, unless matching has moved to the CPU.
    pub fn gpu(&self) -> Option<&GpuMatcher> {
        self.gpu.as_ref().filter(|_| self.failed.get().is_none())
    }

    /// `on_gpu` on the device while it works, else (and from its first failure on)
    /// `on_cpu`.
    pub fn either<T>(
        &self,
        on_gpu: impl FnOnce(&GpuMatcher) -> Result<T, GpuError>,
        on_cpu: impl FnOnce() -> T,
    ) -> T {
        match self.gpu().map(on_gpu) {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                self.fail(&e);
                on_cpu()
            }
            None => on_cpu(),
        }
    }

    /// The route a call of `queries` hashes within `distance` of `set` takes.
    pub fn route(&self, set: &RefSet, queries: usize, distance: u32) -> Route {
        let tables = set.index().map(|i| i.table_shapes());
        self.choose(set.len() as u64, queries, distance, tables.as_deref())
    }

    /// The route for `queries` hashes within `distance` of `n` hashes that `tables` index
    /// (`None`: no index), by the cost model unless `--index` says.
    pub fn choose(&self, n: u64, queries: usize, distance: u32, tables: Option<&[Table]>) -> Route {
        let tables = tables.filter(|_| self.index != IndexChoice::Flat);
        let Some(t) = tables else {
            return self.cheapest_sweep(n, queries).1;
        };
        let mih = queries as f64 * query_cost(t, n, distance);
        match self.prefers_index(mih, n, queries) {
            true => Route::Mih,
            false => self.cheapest_sweep(n, queries).1,
        }
    }

    /// Whether a search through an index, modelled to cost `mih_ns`, goes ahead rather
    /// than the cheapest sweep of `sweep_queries` hashes over `n` (`--index` first).
    pub fn prefers_index(&self, mih_ns: f64, n: u64, sweep_queries: usize) -> bool {
        match self.index {
            IndexChoice::Mih => true,
            IndexChoice::Flat => false,
            IndexChoice::Auto => mih_ns < self.cheapest_sweep(n, sweep_queries).0,
        }
    }

    /// The cheaper sweep, CPU or (while it works) GPU, and its modelled cost in
    /// nanoseconds of one core.
    fn cheapest_sweep(&self, n: u64, queries: usize) -> (f64, Route) {
        let q = queries as f64;
        let cpu = (q * sweep_cost(n), Route::CpuSweep);
        let Some(g) = self.gpu() else {
            return cpu;
        };
        let rate = self
            .gpu_rate
            .lock()
            .expect("rate")
            .unwrap_or_else(|| predicted_gpu_rate(g.context()));
        // The sweep's model is per core; the GPU's rate is the whole device's.
        let cores = rayon::current_num_threads() as f64;
        let gpu = q * n as f64 / rate * 1e9 * cores;
        if gpu < cpu.0 {
            (gpu, Route::GpuSweep)
        } else {
            cpu
        }
    }

    /// Every entry of `set` within `params` of the queries.
    pub fn run(&self, set: &RefSet, q: &QueryHashes, params: &MatchParams) -> Vec<Match> {
        assert_eq!(set.algo(), q.algo, "query and set algorithms differ");
        if q.is_empty() || set.is_empty() {
            return vec![];
        }
        // The index is read from the map once, for the choice and for the search.
        let index = set.index();
        let tables = index.as_ref().map(|i| i.table_shapes());
        let (n, d) = (set.len() as u64, params.max_distance);
        let route = self.choose(n, q.len(), d, tables.as_deref());
        let t = Instant::now();
        let (found, ran) = match (route, index) {
            (Route::Mih, Some(index)) => {
                let hits = mih::search_top(&index, set.words(), q, params);
                (finalize(&hits, q, params), Route::Mih)
            }
            (Route::GpuSweep, _) => self.either(
                |g| {
                    Matcher::Gpu(g)
                        .run(set, q, params)
                        .map(|m| (m, Route::GpuSweep))
                },
                || (self.cpu_sweep(set, q, params), Route::CpuSweep),
            ),
            _ => (self.cpu_sweep(set, q, params), Route::CpuSweep),
        };
        let seconds = t.elapsed().as_secs_f64();
        let pinned = self.rate_pinned || pinned_gpu_rate().is_some();
        if ran == Route::GpuSweep && seconds > 0.0 && !pinned {
            let comparisons = q.len() as f64 * set.len() as f64;
            *self.gpu_rate.lock().expect("rate") = Some(comparisons / seconds);
        }
        self.record(ran, q.len(), seconds);
        found
    }

    /// Count a call that took `route` (callers that search on their own, as the
    /// self-join, record theirs here too).
    pub fn record(&self, route: Route, query_hashes: usize, seconds: f64) {
        let mut stats = self.stats.lock().expect("stats");
        let s = stats.entry(route).or_default();
        s.calls += 1;
        s.query_hashes += query_hashes as u64;
        s.seconds += seconds;
    }

    /// What `--index` asked for.
    pub fn index_choice(&self) -> IndexChoice {
        self.index
    }

    fn cpu_sweep(&self, set: &RefSet, q: &QueryHashes, params: &MatchParams) -> Vec<Match> {
        Matcher::Cpu
            .run(set, q, params)
            .expect("the CPU matcher does not fail")
    }

    /// What ran where so far, by route name.
    pub fn stats(&self) -> BTreeMap<&'static str, RouteStats> {
        let stats = self.stats.lock().expect("stats");
        stats.iter().map(|(r, s)| (r.name(), s.clone())).collect()
    }

    /// The GPU sweep's rate: measured (comparisons per second) or, until then, predicted.
    pub fn gpu_rate(&self) -> Option<(f64, bool)> {
        let g = self.gpu()?;
        Some(match *self.gpu_rate.lock().expect("rate") {
            Some(r) => (r, true),
            None => (predicted_gpu_rate(g.context()), false),
        })
    }

    /// Why matching moved to the CPU, if it did.
    pub fn fallback(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    /// Whether matching runs on a device now (for summaries).
    pub fn on_gpu(&self) -> bool {
        self.gpu().is_some()
    }
}
