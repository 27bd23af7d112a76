//! Where the interpreter's time goes: mean wall time per lowered step of a
//! model on a fixed input, one thread.
//!
//! `cargo run --release -p matpac-runtime --features std --example step_times -- MODEL.onnx [ITERS]`

use matpac_runtime::Model;
use matpac_runtime::engine::{Engine, Interpreter};
use matpac_runtime::model::Step;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: step_times MODEL.onnx [ITERS]")?;
    let iters: u32 = args.next().map_or(Ok(500), |s| s.parse())?;
    let bytes = std::fs::read(&path)?;
    let model = Model::parse(&bytes)?;
    let mut arena = vec![0u8; model.arena_len()];
    let mut engine = Interpreter::new(&model, &mut arena)?;
    let input: Vec<i8> = (0..engine.input_len())
        .map(|i| (i * 37 % 101) as i8 - 50)
        .collect();
    let mut output = vec![0f32; engine.output_len()];
    let mut totals = vec![0f64; model.steps().len()];
    let mut names = vec![String::new(); model.steps().len()];
    for _ in 0..iters {
        let mut last = Instant::now();
        engine.run_quantized_observed(&input, &mut output, |i, step| {
            let now = Instant::now();
            totals[i] += now.duration_since(last).as_secs_f64();
            last = now;
            names[i] = describe(step);
        })?;
    }
    let sum: f64 = totals.iter().sum();
    for (name, t) in names.iter().zip(&totals) {
        println!(
            "{:8.1} µs {:5.1} %  {name}",
            t / f64::from(iters) * 1e6,
            t / sum * 100.0
        );
    }
    println!("{:8.1} µs total", sum / f64::from(iters) * 1e6);
    Ok(())
}

fn describe(step: &Step<'_>) -> String {
    match step {
        Step::Conv(s) => format!(
            "conv {:?}→{:?} k{:?} s{:?} g{}",
            s.geo.in_chw, s.geo.out_chw, s.geo.kernel, s.geo.stride, s.geo.group
        ),
        Step::MatMul(s) => format!("matmul {:?}", s.mkn),
        Step::Pool(s) => format!("pool {:?}→{:?}", s.geo.in_chw, s.geo.out_chw),
        Step::Elementwise(s) => format!("elementwise {:?}", s.expr.shape),
    }
}
