//! Per-layer error of the int8 student against its float twin: the exported
//! model cut after each layer ([`super::onnx_export::to_onnx_cut`]) runs in
//! the runtime's interpreter and is compared with the float activations.

use super::onnx_export::{Cut, ExportError, to_onnx_cut};
use super::quantize::QuantModel;
use super::student::FloatNet;
use matpac_runtime::engine::{Engine, Interpreter};
use matpac_runtime::model::Model;
use serde::Serialize;

/// Error of one layer's int8 output against the float network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerError {
    /// Layer name.
    pub name: String,
    /// Output quantisation step.
    pub step: f32,
    /// Signal-to-quantisation-noise ratio, dB (`10·log10(Σf² / Σ(f − q)²)`).
    pub sqnr_db: f64,
    /// Mean |float − int8| in output steps.
    pub mean_abs_steps: f64,
    /// Largest |float − int8| in output steps.
    pub max_abs_steps: f64,
}

impl std::fmt::Display for LayerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<12} step {:>10.3e}  SQNR {:>6.1} dB  mean |Δ| {:>6.2} steps  max |Δ| {:>7.2} steps",
            self.name, self.step, self.sqnr_db, self.mean_abs_steps, self.max_abs_steps
        )
    }
}

/// Per-layer error of the int8 model on `windows` (errors accumulate from
/// the input on: each cut runs the int8 chain up to that layer in the
/// runtime's interpreter, and is compared with the float chain).
pub fn layer_errors(
    net: &FloatNet,
    q: &QuantModel,
    windows: &[Vec<f32>],
) -> Result<Vec<LayerError>, ExportError> {
    let acts: Vec<_> = windows.iter().map(|w| net.forward(w)).collect();
    let mut cuts: Vec<(Cut, String, f32)> = q
        .convs
        .iter()
        .enumerate()
        .map(|(i, c)| (Cut::Conv(i), c.float.geom.name.clone(), c.y.scale))
        .collect();
    cuts.push((Cut::Pool, "pool".into(), q.pool.scale));
    cuts.push((Cut::Logits, "head".into(), q.head.y.scale));
    let mut out = Vec::with_capacity(cuts.len());
    for (cut, name, step) in cuts {
        let bytes = to_onnx_cut(q, cut);
        let model = Model::parse(&bytes).map_err(ExportError::Runtime)?;
        let mut arena = vec![0u8; model.arena_len()];
        let mut engine = Interpreter::new(&model, &mut arena).map_err(ExportError::Runtime)?;
        let (mut s2, mut e2, mut sum, mut max, mut n) = (0f64, 0f64, 0f64, 0f64, 0usize);
        let mut y = vec![0f32; model.output_len()];
        for (w, a) in windows.iter().zip(&acts) {
            engine.run(w, &mut y).map_err(ExportError::Runtime)?;
            let want: &[f32] = match cut {
                Cut::Conv(i) => &a.convs[i],
                Cut::Pool => &a.pooled,
                Cut::Logits => &a.logits,
            };
            for (&got, &f) in y.iter().zip(want) {
                let d = f64::from((got - f).abs());
                s2 += f64::from(f) * f64::from(f);
                e2 += d * d;
                sum += d;
                max = max.max(d);
                n += 1;
            }
        }
        let step64 = f64::from(step);
        out.push(LayerError {
            name,
            step,
            sqnr_db: 10.0 * (s2 / e2.max(1e-30)).log10(),
            mean_abs_steps: sum / n.max(1) as f64 / step64,
            max_abs_steps: max / step64,
        });
    }
    Ok(out)
}
