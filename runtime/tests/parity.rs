//! Parity of the `no_std` interpreter with tract on random single-op models
//! (every supported op, random shapes, weights, scales and zero points).
//! Outputs must agree within one output quantisation step; the fraction of
//! exactly equal values is printed (`cargo test -- --nocapture`).
#![cfg(feature = "tract")]

mod common;

use common::Rng;
use common::models::{self, Case, ConvParams};
use matpac_runtime::Model;
use matpac_runtime::engine::{Engine, Interpreter, TractEngine};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

#[derive(Default)]
struct Stats {
    exact: AtomicUsize,
    total: AtomicUsize,
}

impl Stats {
    fn report(&self, what: &str) {
        let (e, t) = (self.exact.load(Relaxed), self.total.load(Relaxed));
        println!(
            "{what}: {e}/{t} outputs exactly equal to tract ({:.4} %)",
            100.0 * e as f64 / t.max(1) as f64
        );
        assert!(t > 0);
    }
}

/// Runs `case` on 3 random inputs in both engines and compares.
fn check(case: &Case, seed: u64, stats: &Stats) -> Result<(), TestCaseError> {
    let model =
        Model::parse(&case.bytes).map_err(|e| TestCaseError::fail(format!("parse: {e}")))?;
    let mut arena = vec![0u8; model.arena_len()];
    let mut ours = Interpreter::new(&model, &mut arena).unwrap();
    let mut tract = TractEngine::from_bytes(&case.bytes)
        .map_err(|e| TestCaseError::fail(format!("tract: {e:?}")))?;
    prop_assert_eq!(ours.output_len(), tract.output_len());
    let mut rng = Rng(seed | 1);
    for _ in 0..3 {
        let x = models::input(&mut rng, case);
        let mut a = vec![0f32; ours.output_len()];
        let mut b = vec![0f32; tract.output_len()];
        ours.run(&x, &mut a).unwrap();
        tract.run(&x, &mut b).unwrap();
        for (i, (&u, &v)) in a.iter().zip(&b).enumerate() {
            stats.total.fetch_add(1, Relaxed);
            if u == v {
                stats.exact.fetch_add(1, Relaxed);
                continue;
            }
            // Quantised outputs: both are `(q − zp)·step` in f32, so a
            // difference of one step is `step` up to f32 rounding (1e-4 relative).
            // Float tails (sigmoid/softmax, step = 0): tract uses its own
            // rational approximations of exp/tanh; 1e-5 absolute on values in [0, 1].
            let tol = if case.step > 0.0 {
                case.step * 1.0001
            } else {
                1e-5
            };
            prop_assert!(
                (u - v).abs() <= tol,
                "element {i}: runtime {u} vs tract {v} (step {})",
                case.step
            );
        }
    }
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn conv_params(depthwise: bool) -> impl Strategy<Value = (ConvParams, u64)> {
    (
        1usize..6,
        1usize..9,
        1usize..9,
        1usize..6,
        1usize..4,
        1usize..3,
        0usize..2,
        1usize..3,
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_filter_map(
            "kernel fits",
            move |(c, h, w, m, k, stride, pad, dil, per_channel, relu, seed)| {
                let span = dil * (k - 1) + 1;
                (h + 2 * pad >= span && w + 2 * pad >= span).then_some((
                    ConvParams {
                        c,
                        h,
                        w,
                        m,
                        k,
                        stride,
                        pad,
                        dil,
                        depthwise,
                        per_channel,
                        relu,
                    },
                    seed,
                ))
            },
        )
}

#[test]
fn qlinear_conv_matches_tract() {
    let stats = Stats::default();
    runner(48)
        .run(&conv_params(false), |(p, seed)| {
            let p = ConvParams { relu: false, ..p };
            check(&models::conv(&mut Rng(seed | 1), p, false), seed, &stats)
        })
        .unwrap();
    stats.report("QLinearConv");
}

#[test]
fn qlinear_conv_depthwise_matches_tract() {
    let stats = Stats::default();
    runner(48)
        .run(&conv_params(true), |(p, seed)| {
            let p = ConvParams { relu: false, ..p };
            check(&models::conv(&mut Rng(seed | 1), p, false), seed, &stats)
        })
        .unwrap();
    stats.report("QLinearConv depthwise");
}

#[test]
fn qdq_conv_relu_matches_tract() {
    let stats = Stats::default();
    runner(48)
        .run(&(conv_params(false), any::<bool>()), |((p, seed), dw)| {
            let p = ConvParams { depthwise: dw, ..p };
            check(&models::conv(&mut Rng(seed | 1), p, true), seed, &stats)
        })
        .unwrap();
    stats.report("QDQ Conv (+Relu)");
}

#[test]
fn qlinear_matmul_matches_tract() {
    let stats = Stats::default();
    runner(48)
        .run(
            &(1usize..64, 1usize..24, any::<bool>(), any::<u64>()),
            |(k, n, pc, seed)| {
                check(
                    &models::matmul(&mut Rng(seed | 1), k, n, pc, false, false),
                    seed,
                    &stats,
                )
            },
        )
        .unwrap();
    stats.report("QLinearMatMul");
}

#[test]
fn qdq_gemm_matches_tract() {
    let stats = Stats::default();
    runner(48)
        .run(
            &(
                1usize..64,
                1usize..24,
                any::<bool>(),
                any::<bool>(),
                any::<u64>(),
            ),
            |(k, n, pc, tb, seed)| {
                check(
                    &models::matmul(&mut Rng(seed | 1), k, n, pc, true, tb),
                    seed,
                    &stats,
                )
            },
        )
        .unwrap();
    stats.report("QDQ Gemm");
}

#[test]
fn average_pools_match_tract() {
    let stats = Stats::default();
    let strategy = (
        1usize..5,
        1usize..9,
        1usize..9,
        1usize..4,
        1usize..3,
        0usize..2,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    );
    runner(64)
        .run(
            &strategy,
            |(c, h, w, k, s, pad, global, cip, relu, seed)| {
                let pad = pad.min(k - 1); // ONNX requires pads smaller than the kernel
                prop_assume!(global || (h + 2 * pad >= k && w + 2 * pad >= k));
                check(
                    &models::pool(&mut Rng(seed | 1), c, h, w, k, s, pad, global, cip, relu),
                    seed,
                    &stats,
                )
            },
        )
        .unwrap();
    stats.report("AveragePool/GlobalAveragePool");
}

#[test]
fn adds_match_tract() {
    let stats = Stats::default();
    runner(48)
        .run(
            &(
                1usize..5,
                1usize..6,
                1usize..6,
                any::<bool>(),
                any::<bool>(),
                any::<u64>(),
            ),
            |(c, h, w, k, relu, seed)| {
                check(
                    &models::add(&mut Rng(seed | 1), c, h, w, k, relu),
                    seed,
                    &stats,
                )
            },
        )
        .unwrap();
    stats.report("Add (tensor + tensor, tensor + const)");
}

#[test]
fn float_heads_match_tract() {
    let stats = Stats::default();
    runner(32)
        .run(
            &(1usize..48, 1usize..16, any::<bool>(), any::<u64>()),
            |(k, n, softmax, seed)| {
                check(
                    &models::head(&mut Rng(seed | 1), k, n, softmax),
                    seed,
                    &stats,
                )
            },
        )
        .unwrap();
    stats.report("QLinearMatMul + bias + Sigmoid/Softmax (float)");
}
