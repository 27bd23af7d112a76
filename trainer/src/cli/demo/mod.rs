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
mod steps;
mod tagging;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use super::student_args::StudentTraining;
use super::{calibrated, distill, quantize, train_tagger};
use crate::io::atomic_write;
use stages::Took;
use steps::Demo;
use tagging::SetScore;

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
    let mut demo = Demo::prepare(&args)?;
    demo.pretrain()?;
    let probe_table = demo.probe()?;
    let distill = demo.distill()?;
    let [tagger_t, scratch_t] = demo.taggers()?;
    let [tagger_q, scratch_q] = demo.quantize()?;
    let export = tagger_q
        .written
        .clone()
        .context("quantize --out wrote no model")?;
    let test_scenes = demo.scenes()?;
    let scores = demo.tag(&test_scenes)?;
    let results = Results {
        steps: args.steps,
        probe_table,
        distill,
        tagger: (tagger_t, tagger_q),
        scratch: (scratch_t, scratch_q),
        export,
        scores,
        timings: demo.timings,
    };
    let out = &args.out;
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
