//! Front-end throughput on the host: frames per second of the fixed-point
//! runtime path and the float trainer path over the same 10 s signal.
//!
//! `cargo bench -p matpac-tests --bench frontend`; criterion reports
//! `thrpt` in frames/s (elements/s), and the last line prints the ratio.

use criterion::{Criterion, Throughput, criterion_main};
use matpac_runtime::frontend::{Frontend, FrontendConfig};
use matpac_trainer::frontend::FloatFrontend;
use std::hint::black_box;
use std::time::Instant;

fn signal() -> Vec<i16> {
    let mut state = 7u32;
    (0..160_000)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((state >> 16) as i32 - 32768) / 16;
            let tone = 8000.0 * (i as f32 * 0.2).sin();
            (tone as i32 + noise).clamp(-32768, 32767) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let config = FrontendConfig::default();
    let pcm = signal();
    let samples: Vec<f32> = pcm.iter().map(|&v| v as f32 / 32768.0).collect();
    let frames = config.n_frames(pcm.len()) as u64;
    let float = FloatFrontend::new(&config).unwrap();
    let mut group = c.benchmark_group("frontend_10s");
    group.throughput(Throughput::Elements(frames));
    group.bench_function("fixed_point_runtime", |b| {
        b.iter(|| {
            let mut fe = Frontend::new(&config).unwrap();
            let mut sum = 0i64;
            fe.push(black_box(&pcm), |f| sum += f[0] as i64);
            sum
        })
    });
    group.bench_function("float_trainer", |b| {
        b.iter(|| float.log_mel(black_box(&samples)))
    });
    group.finish();

    // Same measurement, printed as a ratio (one thread each, 20 repetitions).
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..20 {
            f();
        }
        start.elapsed().as_secs_f64() / 20.0
    };
    let t_fixed = time(&mut || {
        let mut fe = Frontend::new(&config).unwrap();
        fe.push(black_box(&pcm), |f| {
            black_box(f);
        });
    });
    let t_float = time(&mut || {
        black_box(float.log_mel(black_box(&samples)));
    });
    println!(
        "frames/s: fixed-point {:.0}, float {:.0}; fixed/float speed ratio {:.2}",
        frames as f64 / t_fixed,
        frames as f64 / t_float,
        t_float / t_fixed
    );
}

// criterion_group! defines an undocumented `pub fn benches`.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
