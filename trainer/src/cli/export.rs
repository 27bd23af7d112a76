//! `matpac export STUDENT --data DATA --out MODEL.onnx`: calibrate (as
//! `matpac quantize`) and write one int8 QOperator `.onnx` with metadata,
//! checked by parsing it with the runtime.

use super::calibrated::{Written, prepare, write};
use crate::edge::onnx_export::OutputKind;
use std::path::PathBuf;

/// Arguments of `matpac export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Student checkpoint folder (from `matpac train-tagger`).
    pub student: PathBuf,
    /// Calibration data (its training side is used).
    #[arg(long)]
    pub data: PathBuf,
    /// Output `.onnx`.
    #[arg(long)]
    pub out: PathBuf,
    /// Activation ranges: `minmax` or a percentile such as `99.99`.
    #[arg(long, default_value = "99.99")]
    pub calibration: String,
    /// Most calibration windows.
    #[arg(long, default_value_t = 512)]
    pub max_windows: usize,
    /// Graph output: `sigmoid` (tag scores), `logits` or `embedding`.
    #[arg(long, default_value = "sigmoid")]
    pub output: String,
}

/// Calibrates and writes.
pub fn run(args: Args) -> anyhow::Result<Written> {
    let output = match args.output.as_str() {
        "sigmoid" => OutputKind::Sigmoid,
        "logits" => OutputKind::Logits,
        "embedding" => OutputKind::Embedding,
        other => anyhow::bail!("--output: expected sigmoid, logits or embedding, got {other:?}"),
    };
    let p = prepare(
        &args.student,
        &args.data,
        &args.calibration,
        args.max_windows,
    )?;
    write(&p, output, &args.out)
}
