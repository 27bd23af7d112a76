//! `matpac tag MODEL.onnx FILES… [--format text|json|csv]`: the runtime's
//! streaming [`Tagger`] (the same code as the firmware) over audio files.

use crate::audio::{load_audio, to_pcm_i16};
use anyhow::{Context, anyhow};
use matpac_runtime::Model;
use matpac_runtime::tagger::{Event, Tagger, TaggerConfig};
use std::path::PathBuf;

/// Most classes a host tagger handles.
const MAX_CLASSES: usize = 256;

/// Output format of the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `FILE: onset=1.230 offset=2.500 class=kick score=0.873` (the firmware's format, after `FILE: `).
    Text,
    /// One JSON object per line.
    Json,
    /// `file,onset,offset,class,score` with a header.
    Csv,
}

/// Arguments of `matpac tag`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The exported tagger (`matpac export`).
    pub model: PathBuf,
    /// Audio files (WAV/FLAC/OGG, any rate and channels; resampled to the model's rate).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// How to print the events.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Run the model every this many frames (10 ms each).
    #[arg(long, default_value_t = TaggerConfig::default().stride_frames)]
    pub stride_frames: usize,
    /// Average scores over this many windows.
    #[arg(long, default_value_t = TaggerConfig::default().smoothing_windows)]
    pub smoothing: usize,
}

/// Tags every file and prints its events in order.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("{}: cannot read model", args.model.display()))?;
    let model = Model::parse(&bytes).map_err(|e| anyhow!("{}: {e}", args.model.display()))?;
    let config = TaggerConfig {
        stride_frames: args.stride_frames,
        smoothing_windows: args.smoothing,
        ..Default::default()
    };
    if args.format == Format::Csv {
        println!("file,onset,offset,class,score");
    }
    for file in &args.files {
        let mut window = vec![0i8; Tagger::<MAX_CLASSES>::window_len(&model)];
        let mut arena = vec![0u8; model.arena_len()];
        let mut tagger = Tagger::<MAX_CLASSES>::new(&model, config, &mut window, &mut arena)
            .map_err(|e| anyhow!("{}: {e}", args.model.display()))?;
        let sample_rate = tagger.frontend_config().sample_rate;
        let pcm = to_pcm_i16(&load_audio(file, sample_rate)?);
        let mut events = Vec::new();
        tagger
            .push(&pcm, |e| events.push(e))
            .map_err(|e| anyhow!("{}: {e}", file.display()))?;
        tagger.finish(|e| events.push(e));
        for event in &events {
            println!(
                "{}",
                format_event(
                    &args.format,
                    file,
                    event,
                    tagger.class_name(event.class),
                    sample_rate
                )
            );
        }
    }
    Ok(())
}

/// One event as a line in `format`.
pub fn format_event(
    format: &Format,
    file: &std::path::Path,
    event: &Event,
    class: &str,
    sample_rate: u32,
) -> String {
    let seconds = |samples: u64| samples as f64 / sample_rate as f64;
    match format {
        Format::Text => {
            let mut line = format!("{}: ", file.display());
            event
                .write_text(&mut line, class, sample_rate)
                .expect("writing to a String");
            line
        }
        Format::Json => serde_json::json!({
            "file": file.display().to_string(),
            "onset": seconds(event.onset),
            "offset": seconds(event.offset),
            "class": class,
            "score": event.score,
        })
        .to_string(),
        Format::Csv => format!(
            "{},{:.3},{:.3},{},{:.3}",
            file.display(),
            seconds(event.onset),
            seconds(event.offset),
            class,
            event.score
        ),
    }
}
