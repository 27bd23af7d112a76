//! Latency of one window in the `no_std` interpreter, in tract and in
//! onnxruntime (one thread each), on the same `.onnx` files and the same
//! input: the onnxruntime-quantised DS-CNN fixtures (QOperator and QDQ,
//! 1×1×40×32) and the demo's exported tagger (`benches/data/demo_tagger.onnx`,
//! a copy of `runs/demo/tagger.onnx`, 1×1×98×80). After the criterion runs
//! it prints each engine's best-of-three mean latency and the ratios
//! runtime / onnxruntime and runtime / tract, all measured in this one run.
//!
//! `cargo bench -p matpac-runtime --features tract --bench engine`
//!
//! onnxruntime runs through `bench/ort_latency.py` under `$MATPAC_PYTHON`
//! (default `python3`; it needs numpy and onnxruntime); without them its
//! column says so. `MATPAC_BENCH_MODELS` (paths separated by `:`) replaces
//! the files.

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use criterion::{Criterion, criterion_group, criterion_main};
use matpac_runtime::Model;
use matpac_runtime::engine::{Engine, Interpreter, TractEngine};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Runs per timed block (each engine, each file).
const ITERS: u32 = 1000;

fn models() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("MATPAC_BENCH_MODELS") {
        return list.split(':').map(PathBuf::from).collect();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("tests/fixtures/onnx");
    vec![
        fixtures.join("dscnn_qop.onnx"),
        fixtures.join("dscnn_qdq.onnx"),
        root.join("benches/data/demo_tagger.onnx"),
    ]
}

/// The input `bench/ort_latency.py` feeds too.
fn input(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect()
}

/// Best of three timed blocks of `iters` runs, after a warm-up, in ns per run.
fn best_ns(engine: &mut dyn Engine, x: &[f32], iters: u32) -> f64 {
    let mut y = vec![0f32; engine.output_len()];
    for _ in 0..iters / 10 + 1 {
        engine.run(x, &mut y).unwrap();
    }
    (0..3)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                engine.run(black_box(x), &mut y).unwrap();
            }
            t.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

/// onnxruntime's ns per run for each model, or why there is none.
fn onnxruntime_ns(paths: &[PathBuf]) -> Result<Vec<f64>, String> {
    let python = std::env::var("MATPAC_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/ort_latency.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(ITERS.to_string())
        .args(paths)
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{python} failed: {}",
            err.lines().last().unwrap_or("")
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("unreadable line {l:?}"))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let paths = models();
    let mut rows = Vec::new();
    for path in &paths {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let model = Model::parse(&bytes).unwrap();
        let mut arena = vec![0u8; model.arena_len()];
        let mut ours = Interpreter::new(&model, &mut arena).unwrap();
        let mut tract = TractEngine::from_bytes(&bytes).unwrap();
        let x = input(ours.input_len());
        let mut y = vec![0f32; ours.output_len()];
        let mut g = c.benchmark_group(&name);
        g.bench_function("runtime", |b| {
            b.iter(|| ours.run(black_box(&x), &mut y).unwrap())
        });
        g.bench_function("tract", |b| {
            b.iter(|| tract.run(black_box(&x), &mut y).unwrap())
        });
        g.finish();
        let r = best_ns(&mut ours, &x, ITERS);
        let t = best_ns(&mut tract, &x, ITERS);
        rows.push((name, r, t));
    }
    let ort = onnxruntime_ns(&paths);
    println!("one thread, best of three blocks of {ITERS} runs, µs per run:");
    println!("model           runtime    tract  onnxruntime  runtime/ort  runtime/tract");
    for (i, (name, r, t)) in rows.iter().enumerate() {
        let (o, ratio) = match &ort {
            Ok(v) => (format!("{:11.1}", v[i] / 1e3), format!("{:11.2}", r / v[i])),
            Err(_) => (format!("{:>11}", "-"), format!("{:>11}", "-")),
        };
        println!(
            "{name:14} {:8.1} {:8.1} {o}  {ratio}  {:13.2}",
            r / 1e3,
            t / 1e3,
            r / t
        );
    }
    if let Err(e) = ort {
        println!("onnxruntime not measured: {e}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
