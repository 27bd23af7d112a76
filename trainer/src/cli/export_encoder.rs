//! `matpac export-encoder RUN_DIR --out FILE`: the pretrained encoder for
//! other tools (`docs/published-weights.md`). `.safetensors`: the reference
//! implementation's keys and PyTorch layouts, loadable into its model with
//! `load_state_dict(strict=True)`; `.onnx`: the float encoder, normalised
//! log-mel `[batch, 1, n_mels, n_frames]` in, per-patch embeddings
//! `[batch, patches, width]` out.

use std::path::PathBuf;

use anyhow::bail;
use burn::tensor::Device;

use crate::matpac::checkpoint;
use crate::matpac::encoder_onnx::encoder_onnx;
use crate::matpac::export::write_safetensors;
use crate::matpac::run::checkpoint_path;
use crate::matpac::state_dict::encoder_state;

/// Arguments of `matpac export-encoder`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run folder (`pretrain` or `import-official`) or its checkpoint file.
    pub run: PathBuf,
    /// Output file: `.safetensors` or `.onnx`.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ext = args.out.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "safetensors" | "onnx") {
        bail!(
            "--out {}: the extension must be .safetensors or .onnx",
            args.out.display()
        );
    }
    let ckpt = if args.run.is_dir() {
        checkpoint_path(&args.run)
    } else {
        args.run.clone()
    };
    let trainer = checkpoint::load(&ckpt, &Device::flex())?;
    if ext == "safetensors" {
        write_safetensors(&encoder_state(&trainer.student), &args.out)?;
    } else {
        crate::io::atomic_write(&args.out, |w| {
            std::io::Write::write_all(w, &encoder_onnx(&trainer.student, &trainer.cfg))
        })?;
    }
    eprintln!("encoder of {} → {}", ckpt.display(), args.out.display());
    Ok(())
}
