//! External fixtures from tools/make_onnx_fixtures.py: a float DS-CNN
//! quantised by onnxruntime's `quantize_static` (per-channel int8, QOperator
//! and QDQ). The runtime (and tract, with the `tract` feature) must agree with
//! onnxruntime's outputs within one output quantisation step.

mod common;

use common::npy;
use matpac_runtime::Model;
use matpac_runtime::engine::{Engine, Interpreter};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name);
    std::fs::read(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (run tools/make_onnx_fixtures.py)", p.display()))
}

struct Fixture {
    onnx: Vec<u8>,
    inputs: Vec<Vec<f32>>,
    expected: Vec<Vec<f32>>,
    step: f32,
}

fn load(form: &str) -> Fixture {
    let (ishape, idata) = npy::read_f32(&fixture("inputs.npy"));
    let (oshape, odata) = npy::read_f32(&fixture(&format!("{form}_ort.npy")));
    let per_in: usize = ishape[1..].iter().product();
    let per_out: usize = oshape[1..].iter().product();
    let step: f32 = String::from_utf8(fixture(&format!("{form}_step.txt")))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Fixture {
        onnx: fixture(&format!("{form}.onnx")),
        inputs: idata.chunks(per_in).map(<[f32]>::to_vec).collect(),
        expected: odata.chunks(per_out).map(<[f32]>::to_vec).collect(),
        step,
    }
}

/// Compares with onnxruntime: every output within one step of the last
/// DequantizeLinear (the outputs are sigmoids of that layer, and sigmoid's
/// slope is ≤ 1/4, so one logit step moves a score by ≤ step/4; the full step
/// leaves room for off-by-one int8 values in earlier layers, where
/// onnxruntime's requantisation rounds differently from tract's). Returns the
/// largest difference in steps.
fn compare(engine: &mut dyn Engine, f: &Fixture, what: &str) -> f32 {
    let mut worst = 0f32;
    for (x, want) in f.inputs.iter().zip(&f.expected) {
        let mut y = vec![0f32; engine.output_len()];
        engine.run(x, &mut y).unwrap();
        for (i, (&a, &b)) in y.iter().zip(want).enumerate() {
            let d = (a - b).abs() / f.step;
            worst = worst.max(d);
            assert!(
                d <= 1.0,
                "{what} output {i}: {a} vs onnxruntime {b} ({d} steps)"
            );
        }
    }
    println!(
        "{what}: max |Δ| vs onnxruntime = {worst:.2e} output steps (step {})",
        f.step
    );
    worst
}

fn runtime_matches_onnxruntime(form: &str) {
    let f = load(form);
    let model = Model::parse(&f.onnx).unwrap();
    assert_eq!(model.input_len(), 40 * 32);
    assert_eq!(model.output_len(), 10);
    assert_eq!(
        model.metadata("class_names"),
        Some("c0,c1,c2,c3,c4,c5,c6,c7,c8,c9")
    );
    // Input 1280 B + the two largest live activations (8×20×16 = 2560 B each) and the
    // 1×40×32 int8 input: the plan must not exceed what the graph needs at its widest step.
    assert!(
        model.arena_len() <= 3 * 2560 + 1280 + 2560,
        "arena {} bytes",
        model.arena_len()
    );
    println!(
        "{form}: {} steps, arena {} bytes",
        model.steps().len(),
        model.arena_len()
    );
    let mut arena = vec![0u8; model.arena_len()];
    let mut engine = Interpreter::new(&model, &mut arena).unwrap();
    compare(&mut engine, &f, &format!("runtime {form}"));
}

#[test]
fn runtime_matches_onnxruntime_qoperator() {
    runtime_matches_onnxruntime("dscnn_qop");
}

#[test]
fn runtime_matches_onnxruntime_qdq() {
    runtime_matches_onnxruntime("dscnn_qdq");
}

#[cfg(feature = "tract")]
#[test]
fn tract_and_runtime_agree_on_fixtures() {
    use matpac_runtime::engine::TractEngine;
    for form in ["dscnn_qop", "dscnn_qdq"] {
        let f = load(form);
        let mut tract = TractEngine::from_bytes(&f.onnx).unwrap();
        compare(&mut tract, &f, &format!("tract {form}"));
        let model = Model::parse(&f.onnx).unwrap();
        let mut arena = vec![0u8; model.arena_len()];
        let mut ours = Interpreter::new(&model, &mut arena).unwrap();
        let (mut exact, mut total) = (0, 0);
        for x in &f.inputs {
            let (mut a, mut b) = (vec![0f32; 10], vec![0f32; 10]);
            ours.run(x, &mut a).unwrap();
            tract.run(x, &mut b).unwrap();
            for (u, v) in a.iter().zip(&b) {
                total += 1;
                exact += usize::from(u == v);
                // Same int8 logits; the sigmoid implementations differ by ≤ 1e-5.
                assert!((u - v).abs() <= 1e-5, "{form}: runtime {u} vs tract {v}");
            }
        }
        println!("{form}: runtime == tract bit-exactly on {exact}/{total} scores");
    }
}
