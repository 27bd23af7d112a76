//! Any bytes: `Model::parse` must return Ok or a typed error, never panic;
//! a model that parses must run (on an input derived from the bytes) without
//! panicking. Models whose work would make one execution slow are parsed
//! but not run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matpac_runtime::engine::{Engine, Interpreter};
use matpac_runtime::model::{Model, Step};

/// Rough multiply-accumulate count of a program, to skip giant (slow, not wrong) models.
fn work(model: &Model<'_>) -> usize {
    model
        .steps()
        .iter()
        .map(|s| match s {
            Step::Conv(c) => {
                let [m, h, w] = c.geo.out_chw;
                let k = c.geo.in_chw[0] / c.geo.group.max(1) * c.geo.kernel[0] * c.geo.kernel[1];
                m * h * w * k
            }
            Step::MatMul(mm) => mm.mkn.iter().product(),
            Step::Pool(p) => {
                let [c, h, w] = p.geo.out_chw;
                c * h * w * p.geo.kernel[0] * p.geo.kernel[1]
            }
            Step::Elementwise(e) => e.expr.shape.numel(),
            _ => 0,
        })
        .sum()
}

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::parse(data) else { return };
    if model.arena_len() > 1 << 20 || work(&model) > 1 << 22 || model.input_len() > 1 << 16 {
        return;
    }
    let mut arena = vec![0u8; model.arena_len()];
    let mut engine = Interpreter::new(&model, &mut arena).expect("arena of arena_len() bytes must be accepted");
    let input: Vec<f32> = (0..engine.input_len()).map(|i| data.get(i % data.len().max(1)).copied().unwrap_or(0) as f32 - 128.0).collect();
    let mut output = vec![0f32; engine.output_len()];
    engine.run(&input, &mut output).expect("a parsed model must run");
    let _ = model.metadata("class_names");
    for (k, v) in model.metadata_iter() {
        let _ = (k.len(), v.len());
    }
});
