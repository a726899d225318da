//! The GPU pipeline against the CPU path: identical hashes are the aim, and the distances are
//! stated and bounded here. Then the engine around it: batches in flight, the sharing of work
//! with CPU workers, and faults (a failed allocation, a lost device, a hung wait) that must
//! cost speed and never a result.
//!
//! Tolerance: the GPU stages do the reference's f32 operations in the reference order, but
//! WGSL allows division to be off by up to 2.5 ulp and lets a driver fuse a multiply and an
//! add, so a coefficient near the median can land on the other side. Each such flip costs one
//! bit (a few for a dihedral variant). We allow a mean of at most 0.5 bits and at most 8 bits
//! on any one PDQ hash, far inside the 31-bit matching threshold; pHash, summed in f32 where
//! the CPU uses f64, may differ by at most 2 bits. Quality may differ by 1. (`common` holds
//! the numbers; lavapipe happens to agree exactly, a real GPU need not.)

mod common;

use common::Distances;
use hashsweep::decode::DecodeOptions;
use hashsweep::gpu::Fault;
use hashsweep::gpu::batch::BatchLimits;
use hashsweep::{Algorithms, BackendChoice, Engine, Frame, FrameHashes};

/// The device's own hashes: an error fails the test instead of falling back to the CPU.
fn on_device(e: &Engine, frames: &[&Frame], algos: Algorithms) -> Vec<FrameHashes> {
    e.gpu_hasher()
        .expect("a GPU engine")
        .hash(frames, algos)
        .expect("the device hashes")
}

fn compare(cpu: &[FrameHashes], gpu: &[FrameHashes], names: &[String]) -> Distances {
    let mut d = Distances::default();
    for ((c, g), name) in cpu.iter().zip(gpu).zip(names) {
        d.add(c, g, name);
    }
    d
}

fn golden_frames(dir: &std::path::Path) -> (Vec<Frame>, Vec<String>) {
    let rows = common::read_csv(&dir.join("golden/golden.csv"));
    let frames = rows
        .iter()
        .map(|r| {
            common::golden_frame(
                dir,
                &r["name"],
                r["width"].parse().unwrap(),
                r["height"].parse().unwrap(),
            )
        })
        .collect();
    (frames, rows.iter().map(|r| r["name"].clone()).collect())
}

#[test]
fn gpu_hashes_of_golden_buffers_stay_within_the_stated_distance_of_cpu() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let Some(gpu) = common::gpu_engine() else {
        return;
    };
    let (frames, names) = golden_frames(&dir);
    let refs: Vec<&Frame> = frames.iter().collect();
    // All 17 buffers, 4x4 to 3024x4032, in one call.
    let g = on_device(&gpu, &refs, Algorithms::ALL);
    let c = Engine::Cpu.hash(&refs, Algorithms::ALL);
    compare(&c, &g, &names).check("golden");
}

#[test]
fn gpu_hashes_of_reference_files_stay_within_the_stated_distance_of_cpu() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let Some(gpu) = common::gpu_engine() else {
        return;
    };
    let files = common::reference_files(&dir, &DecodeOptions::default());
    let frames: Vec<&Frame> = files
        .iter()
        .map(|f| &f.decoded.as_ref().unwrap().frame)
        .collect();
    let names: Vec<String> = files.iter().map(|f| f.row["path"].clone()).collect();
    let g = on_device(&gpu, &frames, Algorithms::ALL);
    let c = Engine::Cpu.hash(&frames, Algorithms::ALL);
    compare(&c, &g, &names).check("reference files");
}

#[test]
fn batches_in_flight_and_cpu_fallback_give_the_same_answers_as_one_batch() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let Some(gpu) = common::gpu_engine() else {
        return;
    };
    let hasher = gpu.gpu_hasher().unwrap();
    let (frames, _) = golden_frames(&dir);
    // The small ones only, so that a tiny pixel limit forces many batches.
    let small: Vec<&Frame> = frames.iter().filter(|f| f.pixels() <= 600 * 600).collect();
    let whole = on_device(&gpu, &small, Algorithms::ALL);
    let limits = hasher.batch_limits();
    hasher.set_batch_limits(BatchLimits {
        frames: 2,
        pixels: 100_000,
        elements: 100_000,
    });
    let before = hasher.context().counters();
    let split = on_device(&gpu, &small, Algorithms::ALL);
    let batches = hasher.context().counters().batches - before.batches;
    hasher.set_batch_limits(limits);
    // Same device, same kernels: splitting and pipelining change nothing.
    assert_eq!(
        whole, split,
        "splitting into batches in flight changed results"
    );
    let fitting = small.iter().filter(|f| f.pixels() <= 100_000).count();
    assert!(batches as usize >= fitting.div_ceil(2), "{batches} batches");
    // Frames over 100k pixels could not fit and went to the CPU path: identical to it.
    for (f, h) in small.iter().zip(&split) {
        if f.pixels() > 100_000 {
            assert_eq!(*h, hashsweep::engine::hash_cpu(f, Algorithms::ALL));
        }
    }
}

#[test]
fn pdq_only_and_phash_only_batches_agree_with_both() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let Some(gpu) = common::gpu_engine() else {
        return;
    };
    let (frames, _) = golden_frames(&dir);
    let refs: Vec<&Frame> = frames.iter().take(8).collect();
    let both = on_device(&gpu, &refs, Algorithms::ALL);
    let pdq_only = Algorithms {
        pdq: true,
        phash: false,
    };
    let phash_only = Algorithms {
        pdq: false,
        phash: true,
    };
    let pdq = on_device(&gpu, &refs, pdq_only);
    let ph = on_device(&gpu, &refs, phash_only);
    for i in 0..refs.len() {
        assert_eq!(both[i].pdq, pdq[i].pdq);
        assert_eq!(both[i].phash, ph[i].phash);
        assert!(pdq[i].phash.is_none() && ph[i].pdq.is_none());
    }
}

#[test]
fn auto_backend_takes_only_hardware_adapters_and_otherwise_the_cpu() {
    let e = Engine::open(BackendChoice::Auto, None).expect("auto never fails");
    match e.adapter() {
        Some(a) => assert!(a.is_hardware(), "auto picked {a:?}"),
        None => assert_eq!(e.name(), "cpu"),
    }
    // A software adapter is only ever used when asked for.
    if let Ok(g) = Engine::open(BackendChoice::Gpu, None) {
        let a = g.adapter().expect("gpu engine has an adapter");
        if !a.is_hardware() {
            assert!(
                e.adapter()
                    .is_none_or(|x| x.name != a.name || x.is_hardware())
            );
        }
    }
}

/// Frames of many sizes, one of them too large for the (narrowed) batch limits.
fn mixed_frames() -> Vec<Frame> {
    let mut v: Vec<Frame> = (0..40u64)
        .map(|i| Frame::synthetic(48 + (i as u32 * 37) % 300, 40 + (i as u32 * 53) % 260, i))
        .collect();
    v.push(Frame::synthetic(900, 700, 99));
    v
}

fn assert_all_hashed_within_tolerance(got: &[FrameHashes], frames: &[&Frame], label: &str) {
    assert_eq!(got.len(), frames.len());
    assert!(
        got.iter().all(|h| h.pdq.is_some() && h.phash.is_some()),
        "{label}: a frame lost its hashes"
    );
    let want = Engine::Cpu.hash(frames, Algorithms::ALL);
    let names: Vec<String> = (0..frames.len()).map(|i| format!("frame {i}")).collect();
    compare(&want, got, &names).check(label);
}

#[test]
fn hybrid_mode_shares_frames_between_the_gpu_and_cpu_workers() {
    let Some(e) = common::gpu_engine_with(false) else {
        return;
    };
    let Engine::Gpu(g) = &e else { unreachable!() };
    let h = g.hasher();
    h.set_batch_limits(BatchLimits {
        frames: 6,
        pixels: 400_000,
        ..h.batch_limits()
    });
    // Whatever this adapter's measured rates, give the device half of the work.
    g.force_share(Some(0.5));
    let owned = mixed_frames();
    let frames: Vec<&Frame> = owned.iter().collect();
    let got = e.hash(&frames, Algorithms::ALL);
    let s = e.shares();
    eprintln!("FIGURE hybrid split: {s:?}");
    assert!(s.gpu_frames > 0, "the device took frames: {s:?}");
    assert!(s.cpu_frames > 0, "the CPU workers took frames: {s:?}");
    assert_eq!(s.gpu_frames + s.cpu_frames, frames.len() as u64);
    assert_all_hashed_within_tolerance(&got, &frames, "hybrid");
}

#[test]
fn a_software_adapter_costs_the_host_more_than_the_cpu_path_so_hybrid_leaves_it_idle() {
    let Some(e) = common::gpu_engine_with(false) else {
        return;
    };
    let Engine::Gpu(g) = &e else { unreachable!() };
    let c = g.calibration().expect("calibrated at open");
    let software = g.hasher().context().adapter.device_type == "Cpu";
    eprintln!(
        "FIGURE calibration on {}: a GPU frame costs the host {:.2}x the CPU path's CPU time; GPU {:.1} MP/s, CPU {:.1} MP/s per thread",
        g.hasher().context().adapter.name,
        c.host_cost_ratio(),
        c.gpu_px_per_s / 1e6,
        c.cpu_px_per_s_per_thread / 1e6
    );
    // Lavapipe runs its shaders on the same cores: every frame it takes costs them more
    // than hashing it on the CPU.
    if software {
        assert!(!c.gpu_pays(), "ratio {}", c.host_cost_ratio());
    }
    // Whatever the device, the engine does as its calibration says: a device that does not
    // pay gets no frame; either way every frame is hashed within the stated tolerance.
    let owned = mixed_frames();
    let frames: Vec<&Frame> = owned.iter().collect();
    let got = e.hash(&frames, Algorithms::ALL);
    assert_all_hashed_within_tolerance(&got, &frames, "hybrid after calibration");
    if !c.gpu_pays() {
        assert_eq!(e.shares().gpu_frames, 0);
        assert_eq!(got, Engine::Cpu.hash(&frames, Algorithms::ALL));
        assert!(
            e.describe().contains("hashing on the CPU"),
            "{}",
            e.describe()
        );
    }
}

/// A fault injected into a GPU-only engine: every frame still gets its hashes, those of the
/// failed batch from the CPU path.
fn survives(fault: Fault, label: &str) -> Option<Engine> {
    let e = common::gpu_engine()?;
    let h = e.gpu_hasher().unwrap();
    h.set_batch_limits(BatchLimits {
        frames: 4,
        ..h.batch_limits()
    });
    let owned = mixed_frames();
    let frames: Vec<&Frame> = owned.iter().collect();
    // The first batch has allocated; the fault hits the next opportunity after it.
    let _ = e.hash(&frames[..2], Algorithms::ALL);
    h.context().inject(fault, 1);
    let got = e.hash(&frames, Algorithms::ALL);
    let s = e.shares();
    eprintln!("FIGURE {label}: {s:?}; {}", e.describe());
    assert!(
        s.redone_on_cpu > 0,
        "{label}: a batch failed and was redone"
    );
    assert_all_hashed_within_tolerance(&got, &frames, label);
    Some(e)
}

#[test]
fn a_failed_allocation_drops_the_buffers_and_the_gpu_carries_on() {
    let Some(e) = survives(Fault::AllocFails, "failed allocation") else {
        return;
    };
    let owned = mixed_frames();
    let frames: Vec<&Frame> = owned.iter().collect();
    let before = e.shares();
    let again = e.hash(&frames, Algorithms::ALL);
    assert!(
        e.shares().gpu_frames > before.gpu_frames,
        "fresh buffers, and the device hashes again"
    );
    assert_all_hashed_within_tolerance(&again, &frames, "after a failed allocation");
}

#[test]
fn a_lost_device_moves_the_rest_of_the_run_to_the_cpu() {
    let Some(e) = survives(Fault::DeviceLost, "lost device") else {
        return;
    };
    let owned = mixed_frames();
    let frames: Vec<&Frame> = owned.iter().collect();
    let before = e.shares();
    let again = e.hash(&frames, Algorithms::ALL);
    assert_eq!(e.shares().gpu_frames, before.gpu_frames, "no more GPU work");
    assert_eq!(again, Engine::Cpu.hash(&frames, Algorithms::ALL));
    assert!(
        e.describe().contains("hashing on the CPU since"),
        "{}",
        e.describe()
    );
}

#[test]
fn a_wait_past_the_timeout_counts_as_a_hung_device() {
    let Some(e) = survives(Fault::Hang, "hung device") else {
        return;
    };
    assert!(e.describe().contains("did not finish"), "{}", e.describe());
}
