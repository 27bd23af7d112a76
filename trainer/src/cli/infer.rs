//! `matpac infer MODEL.onnx --input X.npy --out Y.npy [--engine runtime|tract]`:
//! runs any model the runtime supports on float input, so a user can check a
//! model of their own before flashing it.

use crate::io::{read_npy_f32, write_npy_f32};
use anyhow::{Context, bail};
use matpac_runtime::engine::{Engine, Interpreter};
use matpac_runtime::model::Model;
use std::path::PathBuf;

/// Which engine runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    /// The `no_std` int8 interpreter (what the microcontroller runs).
    Runtime,
    /// tract-onnx (host reference).
    Tract,
}

/// Arguments of `matpac infer`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `.onnx` model (int8, in the subset the runtime reads).
    pub model: PathBuf,
    /// Input `.npy` (f32 or f64): one sample with the model's input shape, or
    /// a batch `[n, …input shape without its leading 1]`.
    #[arg(long)]
    pub input: PathBuf,
    /// Output `.npy` (f32): `[n, output_len]`.
    #[arg(long)]
    pub out: PathBuf,
    /// Engine to run.
    #[arg(long, value_enum, default_value_t = EngineChoice::Runtime)]
    pub engine: EngineChoice,
}

/// Parses the model (errors name the node and the reason), runs each input row.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("{}: cannot read model", args.model.display()))?;
    let model =
        Model::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", args.model.display()))?;
    let (shape, data) = read_npy_f32(&args.input)
        .with_context(|| format!("{}: cannot read .npy", args.input.display()))?;
    let per_sample = model.input_len();
    if data.is_empty() || data.len() % per_sample != 0 {
        bail!(
            "{}: {} values (shape {shape:?}) is not a whole number of model inputs of {per_sample} values (shape {:?})",
            args.input.display(),
            data.len(),
            model.input().shape.dims()
        );
    }
    let rows = data.len() / per_sample;
    let mut arena = vec![0u8; model.arena_len()];
    let mut engine: Box<dyn Engine + '_> = match args.engine {
        EngineChoice::Runtime => {
            Box::new(Interpreter::new(&model, &mut arena).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        EngineChoice::Tract => tract_engine(&bytes)?,
    };
    let mut out = vec![0f32; rows * engine.output_len()];
    for (x, y) in data
        .chunks(per_sample)
        .zip(out.chunks_mut(engine.output_len()))
    {
        engine
            .run(x, y)
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.model.display()))?;
    }
    write_npy_f32(&args.out, &[rows, model.output_len()], &out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "{rows} input(s) → {} ({:?})",
        args.out.display(),
        args.engine
    );
    Ok(())
}

#[cfg(feature = "tract")]
fn tract_engine(bytes: &[u8]) -> anyhow::Result<Box<dyn Engine>> {
    let engine = matpac_runtime::engine::TractEngine::from_bytes(bytes)
        .map_err(|e| anyhow::anyhow!("tract: {e}"))?;
    Ok(Box::new(engine))
}

#[cfg(not(feature = "tract"))]
fn tract_engine(_: &[u8]) -> anyhow::Result<Box<dyn Engine>> {
    bail!("this `matpac` was built without the `tract` feature; rebuild with `--features tract`")
}
