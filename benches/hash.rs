//! Criterion benches: CPU PDQ and pHash per 512x512 frame, and GPU batch throughput at
//! several batch sizes (when an adapter is present; `HASHSWEEP_BENCH_GPU=any` admits
//! software adapters such as lavapipe).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hashsweep::cpu::{pdq, phash};
use hashsweep::engine::EngineOptions;
use hashsweep::{Algorithms, BackendChoice, Engine, Frame};

fn cpu_per_frame(c: &mut Criterion) {
    let f = Frame::synthetic(512, 512, 1);
    let mut g = c.benchmark_group("cpu_512x512");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pdq_with_dihedrals", |b| {
        b.iter(|| pdq::pdq(f.rgb(), 512, 512))
    });
    g.bench_function("phash", |b| b.iter(|| phash::phash(f.rgb(), 512, 512)));
    g.finish();
}

fn gpu_batches(c: &mut Criterion) {
    let choice = match std::env::var("HASHSWEEP_BENCH_GPU").as_deref() {
        Ok("any") => BackendChoice::Gpu,
        _ => BackendChoice::Auto,
    };
    let only = EngineOptions {
        gpu_only: true,
        ..EngineOptions::default()
    };
    let Ok(engine) = Engine::open_with(choice, &only) else {
        return;
    };
    if engine.adapter().is_none() {
        eprintln!(
            "NOTICE: no hardware GPU adapter; GPU batch benches skipped (HASHSWEEP_BENCH_GPU=any to use a software one)"
        );
        return;
    }
    let mut g = c.benchmark_group("gpu_only_batch_512x512");
    g.sample_size(10);
    for n in [1usize, 16, 64, 256] {
        let frames: Vec<Frame> = (0..n)
            .map(|i| Frame::synthetic(512, 512, i as u64))
            .collect();
        let refs: Vec<&Frame> = frames.iter().collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &refs, |b, refs| {
            b.iter(|| engine.hash(refs, Algorithms::ALL))
        });
    }
    g.finish();
}

criterion_group!(benches, cpu_per_frame, gpu_batches);
criterion_main!(benches);
