//! `matpac demo`: the whole pipeline on the bundled data, in the order a user
//! would run it by hand, each stage through the same code as its own
//! subcommand:
//!
//! 1. `pretrain --preset tiny` on `unlabelled/` (MATPAC, λ = 0.5), then the
//!    same run with λ = 0 (the ablation baseline);
//! 2. `probe-suite`: linear probe of MATPAC, λ = 0, a random-init encoder and
//!    no encoder at all (log-mel statistics) on the labelled clips;
//! 3. `distill`: the DS-CNN student from the MATPAC encoder on `unlabelled/`,
//!    with the student-vs-teacher probe;
//! 4. `train-tagger --init` on the labelled clips (scene-like augmented
//!    windows; thresholds and smoothing chosen on validation scenes), and the
//!    same DS-CNN trained from scratch with the same budget (the baseline);
//! 5. `quantize --out` (float vs int8 in the runtime, and the `.onnx`) of both;
//! 6. `scenes`: scenes laid out from the test-split clips, never trained on;
//! 7. both taggers through the runtime's streaming tagger on those scenes and
//!    on the bundled `scene01`/`scene02`, scored by event and segment F1.
//!
//! Everything lands in `--out` (default `runs/demo`), with `report.md` and
//! its PNGs. Finished stages are reused on a rerun ([`stages`]); `--fresh`
//! starts over.

mod report;
mod stages;
mod tagging;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::probe::ProbeOptions;
use super::probe_suite::default_bundled;
use super::student_args::StudentTraining;
use super::{calibrated, distill, pretrain, probe_suite, quantize, scenes, train_tagger};
use crate::data::scenes::SceneSplit;
use crate::device::DeviceArgs;
use crate::edge::tagger_head::THRESHOLD_RANGE;
use crate::io::atomic_write;
use crate::matpac::Preset;
use stages::{Stages, Took};
use tagging::{SetScore, draw_scene, score_set};

/// Arguments of `matpac demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bundled data folder: `manifest.csv` (labelled clips), `unlabelled/`, `scenes/`
    /// (default: `data/bundled` here, else the repository's).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output folder: every stage's output, `report.md` and its PNGs.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// Pretraining updates of each encoder (preset `tiny`, batch 8).
    #[arg(long, default_value_t = 200)]
    pub steps: u64,
    /// Distillation epochs.
    #[arg(long, default_value_t = 20)]
    pub distill_epochs: usize,
    /// Tagger training epochs (each of fresh augmented windows).
    #[arg(long, default_value_t = 30)]
    pub tagger_epochs: usize,
    /// Student size: `default` or `tiny`.
    #[arg(long, default_value = "default")]
    pub student: String,
    /// Scenes built from the test-split clips to score the taggers on.
    #[arg(long, default_value_t = 10)]
    pub scenes: usize,
    /// Feature cache folder (default: ~/.cache/matpac-edge).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Start over: delete `--out` first.
    #[arg(long)]
    pub fresh: bool,
    /// Hide progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// Parses the student flags alone, for their defaults.
#[derive(clap::Parser)]
struct StudentFlags {
    #[command(flatten)]
    training: StudentTraining,
}

/// Everything the report shows.
pub struct Results {
    /// Updates of each pretraining run.
    pub steps: u64,
    /// Probe-suite markdown table.
    pub probe_table: String,
    /// Distillation figures.
    pub distill: distill::Summary,
    /// The tagger (from the distilled student): training figures, float vs int8.
    pub tagger: (train_tagger::Summary, quantize::Summary),
    /// The same DS-CNN trained from scratch.
    pub scratch: (train_tagger::Summary, quantize::Summary),
    /// The exported tagger.
    pub export: calibrated::Written,
    /// Event metrics of both taggers.
    pub scores: Scores,
    /// `(stage, seconds in this run)`.
    pub timings: Vec<(String, Took)>,
}

/// Event metrics of the two taggers on the two sets of scenes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    /// Test-split scenes: `(tagger, from scratch)`.
    pub test: (SetScore, SetScore),
    /// `scene01` + `scene02` of the bundled data: `(tagger, from scratch)`.
    pub bundled: (SetScore, SetScore),
    /// The PNG of `scene01` with the tagger's events (file name in the output folder).
    pub png: String,
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let data = args.data.clone().unwrap_or_else(default_bundled);
    for need in ["manifest.csv", "unlabelled", "scenes"] {
        anyhow::ensure!(
            data.join(need).exists(),
            "{}: no {need}; --data must be a folder laid out as data/bundled",
            data.display()
        );
    }
    if args.fresh && args.out.exists() {
        std::fs::remove_dir_all(&args.out)
            .with_context(|| format!("removing {}", args.out.display()))?;
    }
    let out = &args.out;
    std::fs::create_dir_all(out.join("stages"))
        .with_context(|| format!("creating {}", out.display()))?;
    let unlabelled = data.join("unlabelled");
    let mut timings = Vec::new();
    let mut stages = Stages::new(out);
    // The student flags' defaults, with the demo's preset and epochs.
    let training = |epochs: usize| StudentTraining {
        preset: args.student.clone(),
        epochs,
        ..<StudentFlags as clap::Parser>::parse_from(["demo"]).training
    };

    for (name, title, lambda) in [
        ("matpac", "1/9 MATPAC pretraining (tiny, λ = 0.5)", None),
        (
            "lambda0",
            "2/9 pretraining without classification (λ = 0)",
            Some("lambda=0"),
        ),
    ] {
        let settings = format!(
            "data {} steps {} {lambda:?}",
            unlabelled.display(),
            args.steps
        );
        let ((), took) = stages.run(
            &format!("pretrain_{name}"),
            title,
            settings,
            &[out.join(name)],
            || {
                pretrain::run(pretrain::Args {
                    data: unlabelled.clone(),
                    preset: Preset::Tiny,
                    out: out.join(name),
                    steps: Some(args.steps),
                    resume: true,
                    config: None,
                    // The schedules (warm-up, cosine, EMA ramps) span exactly `--steps`.
                    overrides: [format!("train.total_steps={}", args.steps)]
                        .into_iter()
                        .chain(lambda.map(String::from))
                        .collect(),
                    cache: args.cache.clone(),
                    quiet: args.quiet,
                    device: DeviceArgs::default(),
                })
            },
        )?;
        timings.push((title.to_string(), took));
    }

    let title = "3/9 linear probe: MATPAC vs λ = 0 vs random init vs no encoder";
    let settings = format!("data {}", data.display());
    let (probe_table, took) = stages.run("probe", title, settings, &[out.join("probe")], || {
        probe_suite::run(probe_suite::Args {
            matpac: Some(out.join("matpac")),
            matpac_plus_plus: None,
            lambda0: Some(out.join("lambda0")),
            preset: Preset::Tiny,
            init_seed: 0,
            bundled: Some(data.clone()),
            corpora: None,
            data: Vec::new(),
            out: out.join("probe"),
            opts: ProbeOptions {
                quiet: args.quiet,
                ..ProbeOptions::default()
            },
        })
    })?;
    timings.push((title.to_string(), took));

    let title = "4/9 distillation into the DS-CNN student";
    let settings = format!("student {} epochs {}", args.student, args.distill_epochs);
    let (distill, took) = stages.run("distill", title, settings, &[out.join("student")], || {
        distill::run(distill::Args {
            teacher: out.join("matpac"),
            data: unlabelled.clone(),
            out: out.join("student"),
            training: training(args.distill_epochs),
            cosine_weight: 1.0,
            kl_weight: 1.0,
            probe: Some(data.clone()),
            cache: None,
            no_cache: false,
            device: DeviceArgs::default(),
        })
    })?;
    timings.push((title.to_string(), took));

    let mut taggers = Vec::new();
    for (name, title, init) in [
        (
            "tagger",
            "5/9 tagger: the distilled student fine-tuned on the labelled clips",
            Some(out.join("student")),
        ),
        (
            "scratch",
            "6/9 baseline: the same DS-CNN trained from scratch, same budget",
            None,
        ),
    ] {
        let settings = format!(
            "student {} epochs {} thresholds {THRESHOLD_RANGE:?} init {}",
            args.student,
            args.tagger_epochs,
            init.is_some()
        );
        let (summary, took) = stages.run(name, title, settings, &[out.join(name)], || {
            train_tagger::run(train_tagger::Args {
                data: data.clone(),
                out: out.join(name),
                training: training(args.tagger_epochs),
                min_threshold: THRESHOLD_RANGE.0,
                max_threshold: THRESHOLD_RANGE.1,
                init: init.clone(),
                freeze_backbone: false,
                no_augment: false,
                augment_set: Vec::new(),
                val_scenes: 8,
                device: DeviceArgs::default(),
            })
        })?;
        timings.push((title.to_string(), took));
        taggers.push(summary);
    }

    let title = "7/9 int8 quantisation and export of both";
    let model_of = |name: &str| out.join(format!("{name}.onnx"));
    let outputs = [model_of("tagger"), model_of("scratch")];
    // One calibration each: `quantize --out` also writes the `.onnx`, as `export` would.
    let (quant, took) = stages.run("quantize", title, String::new(), &outputs, || {
        ["tagger", "scratch"]
            .into_iter()
            .map(|name| {
                quantize::run(quantize::Args {
                    student: out.join(name),
                    data: data.clone(),
                    calibration: "99.99".into(),
                    max_windows: 512,
                    out: Some(model_of(name)),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    timings.push((title.to_string(), took));
    let [tagger_q, scratch_q]: [quantize::Summary; 2] = quant
        .try_into()
        .map_err(|_| anyhow::anyhow!("the quantisation stage records two models"))?;
    let export = tagger_q
        .written
        .clone()
        .context("quantize --out wrote no model")?;

    let title = "8/9 scenes from the test-split clips";
    let scene_dir = out.join("scenes");
    let settings = format!("count {}", args.scenes);
    let outputs = std::slice::from_ref(&scene_dir);
    let (index, took) = stages.run("scenes", title, settings, outputs, || {
        scenes::run(scenes::Args {
            data: data.clone(),
            split: SceneSplit::Test,
            out: scene_dir.clone(),
            count: args.scenes,
            seed: 0,
            split_seed: 0,
            duration: 20.0,
            background: None,
            snr: None,
        })
        .map(|rows| rows.into_iter().map(|r| r.scene).collect::<Vec<String>>())
    })?;
    timings.push((title.to_string(), took));

    let title = "9/9 both taggers on the scenes (runtime's streaming tagger)";
    let test_scenes: Vec<PathBuf> = index
        .iter()
        .map(|scene| scene_dir.join(format!("{scene}.wav")))
        .collect();
    let bundled_scenes = bundled_scenes(&data.join("scenes"))?;
    let (scores, took) = stages.run("tag", title, String::new(), &[], || {
        let score = |scenes: &[PathBuf]| -> anyhow::Result<(SetScore, SetScore)> {
            Ok((
                score_set(&model_of("tagger"), scenes)?,
                score_set(&model_of("scratch"), scenes)?,
            ))
        };
        let png = "scene01_events.png".to_string();
        if let Some(first) = bundled_scenes.first() {
            draw_scene(&model_of("tagger"), first, &out.join(&png))?;
        }
        Ok(Scores {
            test: score(&test_scenes)?,
            bundled: score(&bundled_scenes)?,
            png,
        })
    })?;
    timings.push((title.to_string(), took));

    let [tagger_t, scratch_t]: [train_tagger::Summary; 2] = taggers
        .try_into()
        .map_err(|_| anyhow::anyhow!("two taggers were trained"))?;
    let results = Results {
        steps: args.steps,
        probe_table,
        distill,
        tagger: (tagger_t, tagger_q),
        scratch: (scratch_t, scratch_q),
        export,
        scores,
        timings,
    };
    let md = report::markdown(&results, out);
    let file = out.join("report.md");
    atomic_write(&file, |w| std::io::Write::write_all(w, md.as_bytes()))?;
    println!("\n{md}");
    eprintln!(
        "demo finished in {:.0} s. Everything is in {}:\n  report.md              this report\n  tagger.onnx            the int8 tagger (runtime, tract, onnxruntime)\n  scratch.onnx           the same DS-CNN trained from scratch (baseline)\n  matpac/, lambda0/      pretraining runs (checkpoint, metrics.csv, metrics.png)\n  probe/                 probe results and confusion matrices\n  student/, tagger/      student checkpoints\n  scenes/                the test-split scenes with their references\n  {}   scene01's spectrogram with its events",
        t0.elapsed().as_secs_f64(),
        out.display(),
        results.scores.png
    );
    Ok(())
}

/// The bundled scenes (`sceneNN.flac` with `sceneNN.csv`), in name order.
fn bundled_scenes(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "flac") && p.with_extension("csv").is_file())
        .collect();
    found.sort();
    Ok(found)
}
