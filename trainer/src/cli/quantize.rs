//! `matpac quantize STUDENT --data DATA`: post-training int8 quantisation,
//! calibrated on the training side of DATA; prints the per-layer error and
//! float vs int8 accuracy on the test side (int8 run by the runtime's
//! interpreter), and optionally writes the `.onnx`.

use super::calibrated::{Written, prepare, write};
use crate::edge::layer_errors::layer_errors;
use crate::edge::onnx_export::{Cut, OutputKind, to_onnx_cut};
use crate::edge::pipeline::{float_and_int8_logits, sigmoid_rows, subsample};
use crate::edge::tagger_head::{clip_top1, micro_f1, top1};
use std::path::PathBuf;

/// Arguments of `matpac quantize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Student checkpoint folder (from `matpac train-tagger`).
    pub student: PathBuf,
    /// Data for calibration (training side) and evaluation (test side).
    #[arg(long)]
    pub data: PathBuf,
    /// Activation ranges: `minmax` or a percentile such as `99.99`.
    #[arg(long, default_value = "99.99")]
    pub calibration: String,
    /// Most calibration windows.
    #[arg(long, default_value_t = 512)]
    pub max_windows: usize,
    /// Also write the model here (as `matpac export` would).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What `matpac quantize` measured on the test side (window level).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Test windows.
    pub windows: usize,
    /// Float student `(top-1, micro-F1)`.
    pub float: (f64, f64),
    /// int8 model in the runtime `(top-1, micro-F1)`.
    pub int8: (f64, f64),
    /// Clip-level top-1 of the int8 model (mean score over a clip's windows).
    #[serde(default)]
    pub int8_clip_top1: f64,
    /// One line per layer: error of the int8 activations vs float.
    pub layers: Vec<String>,
    /// The `.onnx` written with `--out`.
    pub written: Option<Written>,
}

/// Calibrates, reports, optionally writes.
pub fn run(args: Args) -> anyhow::Result<Summary> {
    let p = prepare(
        &args.student,
        &args.data,
        &args.calibration,
        args.max_windows,
    )?;
    let eval = p.test.x.clone();
    if eval.is_empty() {
        anyhow::bail!(
            "{}: no test-side clips to evaluate on (add a `split` column)",
            args.data.display()
        );
    }
    println!("per-layer error (int8 in the runtime vs float, accumulated from the input):");
    let layers: Vec<String> = layer_errors(&p.net, &p.q, &subsample(&eval, 64))?
        .iter()
        .map(ToString::to_string)
        .collect();
    for e in &layers {
        println!("  {e}");
    }
    let (float, int8) = float_and_int8_logits(&p.net, &to_onnx_cut(&p.q, Cut::Logits), &eval)?;
    let (fs, is) = (sigmoid_rows(&float), sigmoid_rows(&int8));
    let th = &p.info.thresholds;
    let (f_top1, i_top1) = (top1(&fs, &p.test.y), top1(&is, &p.test.y));
    let (f_f1, i_f1) = (micro_f1(&fs, &p.test.y, th), micro_f1(&is, &p.test.y, th));
    println!(
        "test ({} windows): float top-1 {f_top1:.3} micro-F1 {f_f1:.3} | int8 top-1 {i_top1:.3} micro-F1 {i_f1:.3}",
        eval.len()
    );
    let clip_top1 = clip_top1(&is, &p.test);
    println!("test clips: int8 clip-level top-1 {clip_top1:.3}");
    if f_f1 > 0.0 {
        println!(
            "int8 keeps {:.1} % of the float micro-F1",
            100.0 * i_f1 / f_f1
        );
    }
    let written = match &args.out {
        Some(out) => Some(write(&p, OutputKind::Sigmoid, out)?),
        None => None,
    };
    Ok(Summary {
        windows: eval.len(),
        float: (f_top1, f_f1),
        int8: (i_top1, i_f1),
        int8_clip_top1: clip_top1,
        layers,
        written,
    })
}
