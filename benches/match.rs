//! Criterion bench of the exact CPU Hamming scan: 100k random PDQ entries x 100 queries at
//! the reference threshold (31), in comparisons per iteration.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hashsweep::cpu::hamming;
use hashsweep::hash::random_words;

fn cpu_scan(c: &mut Criterion) {
    let (n, q) = (100_000usize, 100usize);
    let refs: Vec<u64> = random_words(1).take(n * 4).collect();
    let queries: Vec<u64> = random_words(2).take(q * 4).collect();
    let cut = vec![31u32; q];
    let mut g = c.benchmark_group("cpu_hamming_pdq");
    g.throughput(Throughput::Elements((n * q) as u64));
    g.bench_function(format!("{n}x{q}_d31_{}", hamming::kernel_name()), |b| {
        b.iter(|| hamming::scan(&refs, &queries, &cut, 4))
    });
    g.finish();
}

criterion_group!(benches, cpu_scan);
criterion_main!(benches);
