//! `matpac import-official CKPT.pt --out RUN_DIR`: a published MATPAC encoder
//! (the reference implementation's state dict) as a run folder that `embed`,
//! `probe`, `probe-suite` and `distill --teacher` accept
//! (`docs/published-weights.md`).

use std::path::PathBuf;

use burn::tensor::Device;

use crate::matpac::official::import_official;
use crate::matpac::run::{checkpoint_path, save_run};

/// Arguments of `matpac import-official`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reference implementation's encoder state dict (`.pt`/`.pth`), e.g. `matpac_10_2048.pt`.
    pub checkpoint: PathBuf,
    /// Run folder to write (`config.toml`, `checkpoint.mpk`).
    #[arg(long)]
    pub out: PathBuf,
    /// Attention heads (default: width / 64, as the reference's ViT-B).
    #[arg(long)]
    pub heads: Option<usize>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let trainer = import_official(&args.checkpoint, args.heads, &Device::flex())?;
    save_run(&trainer, &args.out)?;
    let m = &trainer.cfg.model;
    eprintln!(
        "imported a ViT of width {}, depth {}, {} heads, {}-frame chunks from {} → {}",
        m.encoder_dim,
        m.encoder_depth,
        m.encoder_heads,
        m.n_frames,
        args.checkpoint.display(),
        checkpoint_path(&args.out).display()
    );
    Ok(())
}
