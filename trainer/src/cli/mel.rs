//! `matpac mel IN --out OUT.npy [--fixed]`.

use crate::audio::{load_audio, to_pcm_i16};
use crate::frontend::{FloatFrontend, fixed_log_mel};
use crate::io::write_npy_f32;
use anyhow::Context;
use matpac_runtime::frontend::FrontendConfig;
use std::path::PathBuf;

/// Arguments of `matpac mel`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio file (WAV 8/16/24/32-bit int or float, FLAC, OGG Vorbis; any rate, any channels).
    pub input: PathBuf,
    /// Output `.npy` file: f32 `[frames, 80]` natural-log mel energies.
    #[arg(long)]
    pub out: PathBuf,
    /// Use the runtime's fixed-point front end (bit-identical to the device)
    /// instead of the float one.
    #[arg(long)]
    pub fixed: bool,
}

/// Decodes, mixes to mono, resamples to 16 kHz, computes log-mel, writes .npy.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = FrontendConfig::default();
    let samples = load_audio(&args.input, config.sample_rate)?;
    let mel = if args.fixed {
        fixed_log_mel(&config, &to_pcm_i16(&samples))?
    } else {
        FloatFrontend::new(&config)?.log_mel(&samples)
    };
    if mel.n_frames == 0 {
        anyhow::bail!(
            "{}: too short: {} samples at {} Hz, a frame needs {}",
            args.input.display(),
            samples.len(),
            config.sample_rate,
            config.win_length
        );
    }
    write_npy_f32(&args.out, &[mel.n_frames, mel.n_mels], &mel.data)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "{}: {} frames × {} mels ({} front end) → {}",
        args.input.display(),
        mel.n_frames,
        mel.n_mels,
        if args.fixed { "fixed-point" } else { "float" },
        args.out.display()
    );
    Ok(())
}
