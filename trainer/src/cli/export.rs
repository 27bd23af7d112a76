//! `matpac export STUDENT --data DATA --out MODEL.onnx`: calibrate (as
//! `matpac quantize`) and write one int8 QOperator `.onnx` with metadata,
//! checked by parsing it with the runtime.

use super::quantize::{Prepared, meta, prepare};
use crate::edge::onnx_export::{OutputKind, to_onnx, write_onnx};
use matpac_runtime::model::Model;
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

/// What `matpac export` wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// File size, bytes.
    pub bytes: usize,
    /// Parameters.
    pub params: usize,
    /// Multiply-accumulates per window.
    pub macs: usize,
    /// Runtime activation arena, bytes.
    pub arena: usize,
}

/// Calibrates and writes.
pub fn run(args: Args) -> anyhow::Result<Summary> {
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

/// Writes `p` as an `.onnx` with `output` to `out`, checks that the runtime
/// parses it, prints and returns its size, parameters, MACs and arena.
pub fn write(p: &Prepared, output: OutputKind, out: &std::path::Path) -> anyhow::Result<Summary> {
    let bytes = to_onnx(&p.q, &meta(p, output))?;
    write_onnx(out, &bytes)?;
    let model = Model::parse(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let stats = p.info.student.stats();
    println!(
        "{}: {} B, {} params, {} MACs/window, arena {} B, output {:?} [1, {}]",
        out.display(),
        bytes.len(),
        stats.params,
        stats.macs,
        model.arena_len(),
        output,
        model.output_len()
    );
    Ok(Summary {
        bytes: bytes.len(),
        params: stats.params,
        macs: stats.macs,
        arena: model.arena_len(),
    })
}
