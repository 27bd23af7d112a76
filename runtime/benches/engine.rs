//! Latency of one DS-CNN window (the onnxruntime-quantised fixtures, 1×40×32
//! int8 features) in the `no_std` interpreter and in tract, on the host; the
//! ratio runtime / tract is printed after the criterion runs.
//!
//! `cargo bench -p matpac-runtime --features tract --bench engine`

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use criterion::{Criterion, criterion_group, criterion_main};
use matpac_runtime::Model;
use matpac_runtime::engine::{Engine, Interpreter, TractEngine};
use std::hint::black_box;
use std::time::Instant;

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name);
    std::fs::read(p).unwrap()
}

fn mean_ns(engine: &mut dyn Engine, x: &[f32], iters: u32) -> f64 {
    let mut y = vec![0f32; engine.output_len()];
    for _ in 0..iters / 10 + 1 {
        engine.run(x, &mut y).unwrap();
    }
    let t = Instant::now();
    for _ in 0..iters {
        engine.run(black_box(x), &mut y).unwrap();
    }
    t.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn bench(c: &mut Criterion) {
    let mut ratios = Vec::new();
    for form in ["dscnn_qop", "dscnn_qdq"] {
        let bytes = fixture(&format!("{form}.onnx"));
        let model = Model::parse(&bytes).unwrap();
        let mut arena = vec![0u8; model.arena_len()];
        let mut ours = Interpreter::new(&model, &mut arena).unwrap();
        let mut tract = TractEngine::from_bytes(&bytes).unwrap();
        let x: Vec<f32> = (0..ours.input_len())
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let mut y = vec![0f32; ours.output_len()];
        let mut g = c.benchmark_group(form);
        g.bench_function("runtime", |b| {
            b.iter(|| ours.run(black_box(&x), &mut y).unwrap())
        });
        g.bench_function("tract", |b| {
            b.iter(|| tract.run(black_box(&x), &mut y).unwrap())
        });
        g.finish();
        let (r, t) = (mean_ns(&mut ours, &x, 2000), mean_ns(&mut tract, &x, 2000));
        ratios.push((form, r, t));
    }
    for (form, r, t) in ratios {
        println!(
            "{form}: runtime {:.1} µs, tract {:.1} µs per window, ratio runtime/tract = {:.2}",
            r / 1e3,
            t / 1e3,
            r / t
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
