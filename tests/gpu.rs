//! The GPU pipeline against the CPU path, stage by stage in effect: identical hashes are the
//! aim, and the distances are stated and bounded here.
//!
//! Tolerance: the GPU stages do the reference's f32 operations in the reference order, but
//! WGSL allows division to be off by up to 2.5 ulp and lets a driver fuse a multiply and an
//! add, so a coefficient near the median can land on the other side. Each such flip costs one
//! bit (a few for a dihedral variant). We allow a mean of at most 0.5 bits and at most 8 bits
//! on any one PDQ hash, far inside the 31-bit matching threshold; pHash, summed in f32 where
//! the CPU uses f64, may differ by at most 2 bits. Quality may differ by 1.

mod common;

use hashsweep::decode::DecodeOptions;
use hashsweep::gpu::batch::BatchLimits;
use hashsweep::{Algorithms, BackendChoice, Engine, Frame, FrameHashes};

const PDQ_MEAN_MAX: f64 = 0.5;
const PDQ_MAX_BITS: u32 = 8;
const PHASH_MAX_BITS: u32 = 2;

struct Distances {
    pdq: Vec<u32>,
    phash: Vec<u32>,
    quality: Vec<u32>,
}

fn compare(cpu: &[FrameHashes], gpu: &[FrameHashes], names: &[String]) -> Distances {
    let mut d = Distances {
        pdq: vec![],
        phash: vec![],
        quality: vec![],
    };
    for ((c, g), name) in cpu.iter().zip(gpu).zip(names) {
        let (cp, gp) = (c.pdq.unwrap(), g.pdq.unwrap());
        for v in 0..8 {
            let bits = cp.hashes[v].distance(&gp.hashes[v]).0;
            if bits > 0 {
                eprintln!("  {name} variant {v}: {bits} bits");
            }
            d.pdq.push(bits);
        }
        d.quality.push(cp.quality.0.abs_diff(gp.quality.0).into());
        let pb = c.phash.unwrap().distance(&g.phash.unwrap()).0;
        if pb > 0 {
            eprintln!("  {name} phash: {pb} bits");
        }
        d.phash.push(pb);
    }
    d
}

fn check(label: &str, d: &Distances) {
    let (pm, px) = common::mean_max(&d.pdq);
    let (hm, hx) = common::mean_max(&d.phash);
    let (_, qx) = common::mean_max(&d.quality);
    let exact = d.pdq.iter().filter(|&&b| b == 0).count();
    eprintln!(
        "FIGURE gpu-vs-cpu {label}: pdq {exact}/{} hashes identical, mean {pm:.4}, max {px}; phash mean {hm:.4}, max {hx}; quality max diff {qx}",
        d.pdq.len()
    );
    assert!(
        pm <= PDQ_MEAN_MAX && px <= PDQ_MAX_BITS,
        "pdq mean {pm} max {px}"
    );
    assert!(hx <= PHASH_MAX_BITS, "phash max {hx}");
    assert!(qx <= 1, "quality differs by {qx}");
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
    // All 17 buffers, 4x4 to 3024x4032, in one batch.
    let g = gpu.hash(&refs, Algorithms::ALL).unwrap();
    let c = Engine::Cpu.hash(&refs, Algorithms::ALL).unwrap();
    check("golden", &compare(&c, &g, &names));
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
    let g = gpu.hash(&frames, Algorithms::ALL).unwrap();
    let c = Engine::Cpu.hash(&frames, Algorithms::ALL).unwrap();
    check("reference files", &compare(&c, &g, &names));
}

#[test]
fn split_batches_and_cpu_fallback_give_the_same_answers_as_one_batch() {
    let Some(dir) = common::testdata() else {
        return;
    };
    let Some(gpu) = common::gpu_engine() else {
        return;
    };
    let Engine::Gpu(hasher) = &gpu else {
        unreachable!()
    };
    let (frames, _) = golden_frames(&dir);
    // The small ones only, so that a tiny pixel limit forces many batches.
    let small: Vec<&Frame> = frames.iter().filter(|f| f.pixels() <= 600 * 600).collect();
    let whole = gpu.hash(&small, Algorithms::ALL).unwrap();
    let limits = hasher.batch_limits();
    hasher.set_batch_limits(BatchLimits {
        frames: 2,
        pixels: 100_000,
        ..limits
    });
    let split = gpu.hash(&small, Algorithms::ALL).unwrap();
    hasher.set_batch_limits(limits);
    assert_eq!(whole, split, "splitting a batch changed results");
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
    let both = gpu.hash(&refs, Algorithms::ALL).unwrap();
    let pdq = gpu
        .hash(
            &refs,
            Algorithms {
                pdq: true,
                phash: false,
            },
        )
        .unwrap();
    let ph = gpu
        .hash(
            &refs,
            Algorithms {
                pdq: false,
                phash: true,
            },
        )
        .unwrap();
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
