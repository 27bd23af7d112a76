//! `matpac tag MODEL.onnx FILES… [--format text|json|csv]`: the runtime's
//! streaming [`Tagger`] (the same code as the firmware) over audio files.
//! Files with reference events (`--reference FILE`, else `FILE.csv` or
//! `FILE.tsv` beside the audio; see [`reference_for`]) are scored with the
//! DCASE-style event- and segment-based metrics of
//! [`crate::eval::event_metrics`], summed over the files; `--metrics FILE`
//! writes them as JSON or CSV. `--png DIR` draws each file's spectrogram
//! with its events.

use crate::audio::{load_audio, to_pcm_i16};
use crate::eval::event_metrics::{FileMetrics, MetricsConfig, evaluate};
use crate::eval::event_plot::spectrogram_events_png;
use crate::eval::events::{TimedEvent, reference_for, reference_path};
use crate::frontend::fixed_log_mel;
use crate::io::csv_record;
use anyhow::{Context, anyhow, bail};
use matpac_runtime::Model;
use matpac_runtime::frontend::FrontendConfig;
use matpac_runtime::tagger::{Event, Tagger, TaggerConfig};
use std::io::Write;
use std::path::{Path, PathBuf};

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
    /// Average scores over this many windows (default: the model's
    /// `matpac.smoothing_windows`, else 2).
    #[arg(long)]
    pub smoothing: Option<usize>,
    /// At most this many classes may start an event in one window, 0 = no
    /// limit (default: the model's `matpac.top_k`, else 0).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Write `DIR/STEM.png` per file: spectrogram with the events (and the reference, if any).
    #[arg(long, value_name = "DIR")]
    pub png: Option<PathBuf>,
    /// Reference events for every file: `.csv` (`onset,offset,label`, applied
    /// to each file as is) or DCASE `.tsv`/`.txt` (`filename<TAB>onset<TAB>offset<TAB>event_label`,
    /// rows matched by file name). Default: `FILE.csv`, else `FILE.tsv`, beside each audio file.
    #[arg(long, value_name = "FILE")]
    pub reference: Option<PathBuf>,
    /// Event-based metrics: largest onset difference of a match, seconds (inclusive).
    #[arg(long, value_name = "SECONDS", default_value_t = MetricsConfig::default().onset_collar)]
    pub collar: f64,
    /// Event-based metrics: also require offsets within this many seconds (default: offsets ignored).
    #[arg(long, value_name = "SECONDS")]
    pub offset_collar: Option<f64>,
    /// Segment-based metrics: segment length, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = MetricsConfig::default().segment)]
    pub segment: f64,
    /// Write the metrics summed over all files with a reference: `.json` or `.csv`.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
}

/// File format of `--metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricsFormat {
    Json,
    Csv,
}

/// The format of a `--metrics` path from its extension.
fn metrics_format(path: &Path) -> anyhow::Result<MetricsFormat> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => Ok(MetricsFormat::Json),
        Some("csv") => Ok(MetricsFormat::Csv),
        _ => bail!(
            "--metrics {}: unknown extension; use .json or .csv",
            path.display()
        ),
    }
}

/// One tagged file.
pub struct FileTags {
    /// Events in order, as the runtime reports them.
    pub events: Vec<Event>,
    /// The same events in seconds with class names.
    pub timed: Vec<TimedEvent>,
    /// The file's PCM at the model's rate.
    pub pcm: Vec<i16>,
    /// The model's sample rate, Hz.
    pub sample_rate: u32,
}

/// Runs a fresh streaming [`Tagger`] over `file` (decoded, mixed to mono,
/// resampled to the model's rate) and collects its events.
pub fn tag_file(model: &Model, config: TaggerConfig, file: &Path) -> anyhow::Result<FileTags> {
    let mut window = vec![0i8; Tagger::<MAX_CLASSES>::window_len(model)];
    let mut arena = vec![0u8; model.arena_len()];
    let mut tagger = Tagger::<MAX_CLASSES>::new(model, config, &mut window, &mut arena)
        .map_err(|e| anyhow!("the model cannot drive the tagger: {e}"))?;
    let sample_rate = tagger.frontend_config().sample_rate;
    let pcm = to_pcm_i16(&load_audio(file, sample_rate)?);
    let mut events = Vec::new();
    tagger
        .push(&pcm, |e| events.push(e))
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    tagger.finish(|e| events.push(e));
    let seconds = |samples: u64| samples as f64 / f64::from(sample_rate);
    let timed = events
        .iter()
        .map(|e| TimedEvent {
            onset: seconds(e.onset),
            offset: seconds(e.offset),
            label: tagger.class_name(e.class).to_string(),
            score: e.score,
        })
        .collect();
    Ok(FileTags {
        events,
        timed,
        pcm,
        sample_rate,
    })
}

/// One line of a file's metrics: event F1 (P, R), segment F1, references found.
fn describe_metrics(m: &FileMetrics) -> String {
    format!(
        "event F1 {:.3} (P {:.3} R {:.3}), segment F1 {:.3}, {}/{} reference events found",
        m.event.f1(),
        m.event.precision(),
        m.event.recall(),
        m.segment.f1(),
        m.event.tp,
        m.event.tp + m.event.fn_
    )
}

/// The summed metrics with the settings and the number of files, as JSON.
fn metrics_json(m: &FileMetrics, config: &MetricsConfig, files: usize) -> serde_json::Value {
    let mut json = m.to_json();
    json["files"] = files.into();
    json["config"] = serde_json::json!({
        "onset_collar": config.onset_collar,
        "offset_collar": config.offset_collar,
        "segment": config.segment,
    });
    json
}

/// Tags every file and prints its events in order, then the metrics over
/// the files that have a reference.
pub fn run(args: Args) -> anyhow::Result<()> {
    // Everything that can be checked is checked before any tagging.
    let metrics_out = match &args.metrics {
        Some(path) => Some((path, metrics_format(path)?)),
        None => None,
    };
    let metrics_config = metrics_config(&args)?;
    if let (Some(reference), Some(first)) = (&args.reference, args.files.first()) {
        reference_for(first, Some(reference))?;
    }
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("{}: cannot read model", args.model.display()))?;
    let model = Model::parse(&bytes).map_err(|e| anyhow!("{}: {e}", args.model.display()))?;
    let config = tagger_config(&args, &model)?;
    if args.format == Format::Csv {
        println!(
            "{}",
            csv_record(["file", "onset", "offset", "class", "score"])
        );
    }
    if let Some(dir) = &args.png {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut total = FileMetrics::default();
    let mut scored = 0usize;
    for file in &args.files {
        if let Some(m) = tag_one(&args, &model, config, file, &metrics_config)? {
            total.add(&m);
            scored += 1;
        }
    }
    print_metrics(&args, &total, &metrics_config, scored);
    if let Some((path, format)) = metrics_out {
        write_metrics(path, format, &total, &metrics_config, scored)?;
    }
    Ok(())
}

/// The metric settings of the flags, checked.
fn metrics_config(args: &Args) -> anyhow::Result<MetricsConfig> {
    let config = MetricsConfig {
        onset_collar: args.collar,
        offset_collar: args.offset_collar,
        segment: args.segment,
    };
    // The messages start with the setting's name; name the flag instead.
    config.validate().map_err(|e| {
        anyhow!(
            "{}",
            e.replacen("onset collar", "--collar", 1)
                .replacen("offset collar", "--offset-collar", 1)
                .replacen("segment", "--segment", 1)
        )
    })?;
    Ok(config)
}

/// The model's tagger settings, with the flags' overrides.
fn tagger_config(args: &Args, model: &Model) -> anyhow::Result<TaggerConfig> {
    let from_model =
        TaggerConfig::for_model(model).map_err(|e| anyhow!("{}: {e}", args.model.display()))?;
    Ok(TaggerConfig {
        stride_frames: args.stride_frames,
        smoothing_windows: args.smoothing.unwrap_or(from_model.smoothing_windows),
        top_k: args.top_k.unwrap_or(from_model.top_k),
        ..from_model
    })
}

/// Tags `file` and prints its events; scores it when it has a reference
/// (returned) and draws its PNG with `--png`.
fn tag_one(
    args: &Args,
    model: &Model,
    config: TaggerConfig,
    file: &Path,
    metrics_config: &MetricsConfig,
) -> anyhow::Result<Option<FileMetrics>> {
    let tags = tag_file(model, config, file).with_context(|| args.model.display().to_string())?;
    for (event, timed) in tags.events.iter().zip(&tags.timed) {
        println!(
            "{}",
            format_event(&args.format, file, event, &timed.label, tags.sample_rate)
        );
    }
    let reference = args.reference.as_deref();
    let (metrics, truth) = match reference_for(file, reference)? {
        Some(truth) => {
            let duration = tags.pcm.len() as f64 / f64::from(tags.sample_rate);
            let m = evaluate(&truth, &tags.timed, duration, metrics_config);
            eprintln!(
                "{}: {} (reference {})",
                file.display(),
                describe_metrics(&m),
                reference_path(file, reference)
                    .map_or_else(String::new, |p| p.display().to_string())
            );
            (Some(m), truth)
        }
        None => (None, Vec::new()),
    };
    if let Some(dir) = &args.png {
        let stem = file
            .file_stem()
            .map_or_else(|| "clip".into(), |s| s.to_string_lossy().into_owned());
        let png = dir.join(format!("{stem}.png"));
        spectrogram_png(&png, &tags, &truth, &file.display().to_string())?;
        eprintln!(
            "{}: spectrogram with events → {}",
            file.display(),
            png.display()
        );
    }
    Ok(metrics)
}

/// Prints the metrics summed over the `scored` files in the output format.
fn print_metrics(args: &Args, total: &FileMetrics, config: &MetricsConfig, scored: usize) {
    if scored == 0 {
        if args.metrics.is_some() {
            eprintln!("warning: no file has a reference; the metrics written are empty");
        }
        return;
    }
    match args.format {
        Format::Text => {
            let offsets = config.offset_collar.map_or_else(
                || "offsets ignored".into(),
                |c| format!("offset collar {c} s"),
            );
            println!(
                "\nMetrics over {scored} file(s) with a reference (micro-averaged; event-based: onset collar {} s, {offsets}; segment-based: {} s segments):\n",
                config.onset_collar, config.segment
            );
            print!("{}", total.table());
            println!(
                "\nevent macro F1 {:.3} (mean over the reference classes)",
                total.event_macro_f1()
            );
        }
        Format::Json => println!(
            "{}",
            serde_json::json!({"metrics": metrics_json(total, config, scored)})
        ),
        Format::Csv => {
            if args.metrics.is_none() {
                eprintln!(
                    "metrics are not printed with --format csv; --metrics FILE.csv writes them"
                );
            }
        }
    }
}

/// Writes the metrics to `path` (atomically) as JSON or CSV.
fn write_metrics(
    path: &Path,
    format: MetricsFormat,
    total: &FileMetrics,
    config: &MetricsConfig,
    scored: usize,
) -> anyhow::Result<()> {
    crate::io::atomic_write(path, |w| match format {
        MetricsFormat::Json => {
            serde_json::to_writer_pretty(&mut *w, &metrics_json(total, config, scored))?;
            writeln!(w)
        }
        MetricsFormat::Csv => total.write_csv(w).map_err(std::io::Error::other),
    })
    .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("metrics → {}", path.display());
    Ok(())
}

/// Draws the runtime front end's log-mel of `tags.pcm` with the detections and `truth`.
pub fn spectrogram_png(
    png: &Path,
    tags: &FileTags,
    truth: &[TimedEvent],
    title: &str,
) -> anyhow::Result<()> {
    let fe = FrontendConfig::default();
    let mel = fixed_log_mel(&fe, &tags.pcm)?;
    let hop = fe.hop_length as f64 / f64::from(fe.sample_rate);
    if !spectrogram_events_png(png, &mel, hop, &tags.timed, truth, title)? {
        eprintln!("warning: no usable font; {} has no labels", png.display());
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
        Format::Csv => csv_record([
            file.display().to_string(),
            format!("{:.3}", seconds(event.onset)),
            format!("{:.3}", seconds(event.offset)),
            class.to_string(),
            format!("{:.3}", event.score),
        ]),
    }
}
