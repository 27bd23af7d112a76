//! `matpac scenes --data LABELLED --split test|val|train --out DIR --count N`:
//! single-label clips of one split laid on timelines, with exact references
//! (`DIR/scene000.wav` + `.csv` + `.sources.csv`, and `DIR/scenes.csv`).
//! The library side is [`crate::data::scenes`]; `docs/scenes.md` describes it.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::data::readers;
use crate::data::scenes::{
    IndexRow, SceneConfig, SceneSplit, clips_of_split, compose, load_background, load_clips,
    single_label, write_index, write_scene,
};
use crate::matpac::rng::Rng;

/// Sample rate of the scenes, Hz.
const SAMPLE_RATE: u32 = 16_000;

/// Arguments of `matpac scenes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labelled data set (a folder with manifest.csv, a CSV, ESC-50, UrbanSound8K, or a
    /// folder of class folders).
    #[arg(long)]
    pub data: PathBuf,
    /// Which clips: `test` (the test split), or `val` / `train`: the validation / fit
    /// part of the training side as `matpac train-tagger --seed S` cuts it (S = --split-seed).
    #[arg(long, value_enum)]
    pub split: SceneSplit,
    /// Output folder (created); nothing is written outside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of scenes.
    #[arg(long)]
    pub count: usize,
    /// Seed of the scene layout (clips, gains, gaps, background offset).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seed of the train/val cut of the training side: the tagger's `--seed`.
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Scene length, seconds.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Folder of background audio (recursive; the files are concatenated and looped).
    #[arg(long, requires = "snr")]
    pub background: Option<PathBuf>,
    /// Background level: mean power of the events where any is active over the
    /// background's mean power, dB.
    #[arg(long, requires = "background", allow_negative_numbers = true)]
    pub snr: Option<f64>,
}

/// Runs the command; returns the index rows it wrote.
pub fn run(args: Args) -> anyhow::Result<Vec<IndexRow>> {
    let config = SceneConfig {
        duration: args.duration,
        sample_rate: SAMPLE_RATE,
        snr_db: args.snr,
        ..SceneConfig::default()
    };
    config.check().map_err(anyhow::Error::msg)?;
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    let ds = readers::open(&args.data)?;
    let split = args.split.name();
    let idx = single_label(&ds, &clips_of_split(&ds, args.split, args.split_seed));
    if idx.is_empty() {
        bail!(
            "no single-label clips in the {split} split of {}",
            args.data.display()
        );
    }
    let bar = crate::progress::bar(
        idx.len() as u64,
        true,
        "loading {bar:30} {pos}/{len} clips [{elapsed_precise}]",
    );
    let clips = load_clips(&ds, &idx, SAMPLE_RATE, &bar)?;
    bar.finish_and_clear();
    let background = match &args.background {
        Some(folder) => Some(load_background(folder, SAMPLE_RATE)?),
        None => None,
    };
    eprintln!(
        "{}: {} single-label {split} clips{}",
        ds.name,
        clips.len(),
        match &background {
            Some(bg) => format!(
                ", background {:.1} s",
                bg.len() as f64 / f64::from(SAMPLE_RATE)
            ),
            None => String::new(),
        }
    );
    let mut rng = Rng::new(args.seed);
    let mut rows = Vec::with_capacity(args.count);
    for k in 0..args.count {
        let name = format!("scene{k:03}");
        let (samples, events) = compose(&clips, background.as_deref(), &config, &mut rng);
        write_scene(&args.out, &name, &samples, &events, SAMPLE_RATE)
            .with_context(|| format!("writing {name} into {}", args.out.display()))?;
        let row = IndexRow::new(&name, samples.len(), &events, SAMPLE_RATE);
        println!(
            "{}: {} events, {} labels, {:.1} s",
            args.out.join(format!("{name}.wav")).display(),
            row.events,
            row.labels.len(),
            row.duration
        );
        rows.push(row);
    }
    write_index(&args.out, &rows)
        .with_context(|| format!("writing {}", args.out.join("scenes.csv").display()))?;
    println!(
        "{} scenes, {} events, {:.1} s of audio in {}",
        rows.len(),
        rows.iter().map(|r| r.events).sum::<usize>(),
        rows.iter().map(|r| r.duration).sum::<f64>(),
        args.out.display()
    );
    Ok(rows)
}
