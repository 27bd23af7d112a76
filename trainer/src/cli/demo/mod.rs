//! `matpac demo`: the whole pipeline on the bundled data, in the order a user
//! would run it by hand, each stage through the same code as its own
//! subcommand:
//!
//! 1. `pretrain --preset tiny` on `unlabelled/` (MATPAC, λ = 0.5), then the
//!    same run with λ = 0 (the ablation baseline);
//! 2. `probe-suite`: linear probe of MATPAC, λ = 0 and a random-init encoder on
//!    the labelled clips;
//! 3. `distill`: the DS-CNN student from the MATPAC encoder on `unlabelled/`,
//!    with the student-vs-teacher probe;
//! 4. `train-tagger --init` on the labelled clips;
//! 5. `quantize` (float vs int8 in the runtime) and `export` (the `.onnx`);
//! 6. `tag`: the runtime's streaming tagger on a scene with known events.
//!
//! Everything lands in `--out` (default `runs/demo`), with `report.md` and
//! its PNGs. Each finished stage records its figures and settings in
//! `stages/NAME.json`; a second run reuses them (and the feature and
//! embedding caches) and only redoes what is missing or what runs with other
//! settings (then every later stage too); `--fresh` starts over.

mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::probe::ProbeOptions;
use super::probe_suite::default_bundled;
use super::student_args::StudentTraining;
use super::{distill, export, pretrain, probe_suite, quantize, tag, train_tagger};
use crate::edge::tagger_head::THRESHOLD_RANGE;
use crate::eval::events::read_events_csv;
use crate::io::atomic_write;
use crate::matpac::Preset;
use matpac_runtime::Model;
use matpac_runtime::tagger::TaggerConfig;

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
    /// Tagger training epochs.
    #[arg(long, default_value_t = 30)]
    pub tagger_epochs: usize,
    /// Student size: `default` (≈ 32 k params) or `tiny`.
    #[arg(long, default_value = "default")]
    pub student: String,
    /// Clip to tag; reference events are read from the `.csv` beside it
    /// (default: DATA/scenes/scene01.flac).
    #[arg(long)]
    pub scene: Option<PathBuf>,
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

/// How long a stage took in this run (`None`: reused from an earlier run).
pub type Took = Option<f64>;

/// Parses the student flags alone, for their defaults.
#[derive(clap::Parser)]
struct StudentFlags {
    #[command(flatten)]
    training: StudentTraining,
}

/// A finished stage as stored in `OUT/stages/NAME.json`.
#[derive(Serialize, serde::Deserialize)]
struct Record<T> {
    /// The settings of this stage and of every stage before it.
    settings: String,
    /// What the stage measured.
    value: T,
}

/// The demo's stages, in order. A stage's result is reused while its
/// settings and those of every earlier stage are the ones it ran with;
/// otherwise its outputs are deleted and it runs again.
struct Stages {
    dir: PathBuf,
    chain: String,
}

impl Stages {
    fn new(out: &Path) -> Self {
        Self {
            dir: out.join("stages"),
            chain: String::new(),
        }
    }

    /// Runs `f` (whose outputs are `outputs`) unless an earlier run did it with these settings.
    fn run<T: Serialize + DeserializeOwned>(
        &mut self,
        name: &str,
        title: &str,
        settings: String,
        outputs: &[PathBuf],
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, Took)> {
        self.chain = format!("{}|{name}: {settings}", self.chain);
        let file = self.dir.join(format!("{name}.json"));
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(done) = serde_json::from_str::<Record<T>>(&text)
        {
            if done.settings == self.chain {
                eprintln!(
                    "
== {title}: done in an earlier run ({})",
                    file.display()
                );
                return Ok((done.value, None));
            }
            eprintln!(
                "
{title}: settings changed since the last run; redoing it"
            );
            for path in outputs {
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
                removed
                    .or_else(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => Ok(()),
                        _ => Err(e),
                    })
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
        eprintln!(
            "
== {title}"
        );
        let t0 = Instant::now();
        let value = f().with_context(|| format!("demo stage `{name}`"))?;
        let took = t0.elapsed().as_secs_f64();
        let record = Record {
            settings: self.chain.clone(),
            value,
        };
        let json = serde_json::to_string_pretty(&record)?;
        atomic_write(&file, |w| std::io::Write::write_all(w, json.as_bytes()))?;
        eprintln!("== {title}: {took:.0} s");
        Ok((record.value, Some(took)))
    }
}

/// Everything the report shows.
pub struct Results {
    /// Updates of each pretraining run.
    pub steps: u64,
    /// Probe-suite markdown table.
    pub probe_table: String,
    /// Distillation figures.
    pub distill: distill::Summary,
    /// Tagger training figures.
    pub tagger: train_tagger::Summary,
    /// Float vs int8.
    pub quant: quantize::Summary,
    /// The exported file.
    pub export: export::Summary,
    /// Tagging of the scene.
    pub scene: SceneResult,
    /// `(stage, seconds in this run)`.
    pub timings: Vec<(String, Took)>,
}

/// Events found in the scene and the reference.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SceneResult {
    /// The clip.
    pub file: PathBuf,
    /// Detected events `(onset s, offset s, class, score)`.
    pub detected: Vec<(f64, f64, String, f32)>,
    /// Reference events `(onset s, offset s, class)`.
    pub reference: Vec<(f64, f64, String)>,
    /// Tagger stride, seconds.
    pub stride_seconds: f64,
    /// The PNG (file name inside the output folder).
    pub png: String,
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let data = args.data.clone().unwrap_or_else(default_bundled);
    for need in ["manifest.csv", "unlabelled"] {
        anyhow::ensure!(
            data.join(need).exists(),
            "{}: no {need}; --data must be a folder laid out as data/bundled",
            data.display()
        );
    }
    let scene = args
        .scene
        .clone()
        .unwrap_or_else(|| data.join("scenes/scene01.flac"));
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
        ("matpac", "1/7 MATPAC pretraining (tiny, λ = 0.5)", None),
        (
            "lambda0",
            "2/7 pretraining without classification (λ = 0)",
            Some("lambda=0"),
        ),
    ] {
        let settings = format!(
            "data {} steps {} {lambda:?}",
            unlabelled.display(),
            args.steps
        );
        let outputs = [out.join(name)];
        let ((), took) = stages.run(
            &format!("pretrain_{name}"),
            title,
            settings,
            &outputs,
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
                })
            },
        )?;
        timings.push((title.to_string(), took));
    }

    let title = "3/7 linear probe: MATPAC vs λ = 0 vs random init";
    let settings = format!("data {}", data.display());
    let (probe_table, took) = stages.run("probe", title, settings, &[out.join("probe")], || {
        probe_suite::run(probe_suite::Args {
            matpac: Some(out.join("matpac")),
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

    let title = "4/7 distillation into the DS-CNN student";
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
        })
    })?;
    timings.push((title.to_string(), took));

    let title = "5/7 tagger head on the labelled clips";
    let settings = format!(
        "epochs {} thresholds {THRESHOLD_RANGE:?}",
        args.tagger_epochs
    );
    let (tagger, took) = stages.run("tagger", title, settings, &[out.join("tagger")], || {
        train_tagger::run(train_tagger::Args {
            data: data.clone(),
            out: out.join("tagger"),
            training: training(args.tagger_epochs),
            min_threshold: THRESHOLD_RANGE.0,
            max_threshold: THRESHOLD_RANGE.1,
            init: Some(out.join("student")),
            freeze_backbone: false,
        })
    })?;
    timings.push((title.to_string(), took));

    let title = "6/7 int8 quantisation and export";
    let model_path = out.join("tagger.onnx");
    let outputs = [model_path.clone()];
    // One calibration: `quantize --out` also writes the `.onnx`, as `export` would.
    let (quant, took) = stages.run("quantize", title, String::new(), &outputs, || {
        quantize::run(quantize::Args {
            student: out.join("tagger"),
            data: data.clone(),
            calibration: "99.99".into(),
            max_windows: 512,
            out: Some(model_path.clone()),
        })
    })?;
    let export = quant
        .written
        .clone()
        .context("quantize --out wrote no model")?;
    timings.push((title.to_string(), took));

    let title = "7/7 tagging a scene with the runtime's streaming tagger";
    let settings = format!("scene {}", scene.display());
    let (scene, took) = stages.run("tag", title, settings, &[], || {
        tag_scene(&model_path, &scene, out)
    })?;
    timings.push((title.to_string(), took));

    let results = Results {
        steps: args.steps,
        probe_table,
        distill,
        tagger,
        quant,
        export,
        scene,
        timings,
    };
    let md = report::markdown(&results, out);
    let file = out.join("report.md");
    atomic_write(&file, |w| std::io::Write::write_all(w, md.as_bytes()))?;
    println!("\n{md}");
    eprintln!(
        "demo finished in {:.0} s. Everything is in {}:\n  report.md            this report\n  tagger.onnx          the int8 tagger (runtime, tract, onnxruntime)\n  matpac/, lambda0/    pretraining runs (checkpoint, metrics.csv, metrics.png)\n  probe/               probe results and confusion matrices\n  student/, tagger/    student checkpoints\n  {}     the scene's spectrogram with its events",
        t0.elapsed().as_secs_f64(),
        out.display(),
        results.scene.png
    );
    Ok(())
}

/// Tags `scene` with the exported model and draws it.
fn tag_scene(model_path: &Path, scene: &Path, out: &Path) -> anyhow::Result<SceneResult> {
    let bytes =
        std::fs::read(model_path).with_context(|| format!("reading {}", model_path.display()))?;
    let model =
        Model::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", model_path.display()))?;
    let config = TaggerConfig::default();
    let tags = tag::tag_file(&model, config, scene)?;
    let truth = match tag::reference_for(scene) {
        Some(csv) => read_events_csv(&csv)?,
        None => Vec::new(),
    };
    for e in &tags.timed {
        println!(
            "{}: onset={:.3} offset={:.3} class={} score={:.3}",
            scene.display(),
            e.onset,
            e.offset,
            e.label,
            e.score
        );
    }
    if !truth.is_empty() {
        eprintln!("{}", tag::describe_match(&truth, &tags.timed));
    }
    let stem = scene
        .file_stem()
        .map_or_else(|| "scene".into(), |s| s.to_string_lossy().into_owned());
    let png = format!("{stem}_events.png");
    tag::spectrogram_png(&out.join(&png), &tags, &truth, &scene.display().to_string())?;
    let hop = matpac_runtime::frontend::FrontendConfig::default().hop_length;
    Ok(SceneResult {
        file: scene.to_path_buf(),
        detected: tags
            .timed
            .iter()
            .map(|e| (e.onset, e.offset, e.label.clone(), e.score))
            .collect(),
        reference: truth
            .iter()
            .map(|e| (e.onset, e.offset, e.label.clone()))
            .collect(),
        stride_seconds: (config.stride_frames * hop) as f64 / f64::from(tags.sample_rate),
        png,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_reused_only_with_the_same_settings_upstream_and_own() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let product = out.join("b.out");
        let run = |first: &str, second: &str, calls: &mut Vec<&'static str>| {
            let mut stages = Stages::new(out);
            let (a, _) = stages
                .run("a", "a", first.into(), &[], || {
                    calls.push("a");
                    Ok(1u32)
                })
                .unwrap();
            let (b, took) = stages
                .run(
                    "b",
                    "b",
                    second.into(),
                    std::slice::from_ref(&product),
                    || {
                        calls.push("b");
                        std::fs::write(&product, "x").unwrap();
                        Ok(a + 1)
                    },
                )
                .unwrap();
            (b, took.is_some())
        };
        let mut calls = Vec::new();
        assert_eq!(run("s1", "t1", &mut calls), (2, true));
        assert_eq!(run("s1", "t1", &mut calls), (2, false), "reused");
        assert_eq!(calls, ["a", "b"]);
        // Own settings changed: only b reruns, its old output removed first.
        std::fs::write(&product, "stale").unwrap();
        calls.clear();
        let mut stages = Stages::new(out);
        stages.run("a", "a", "s1".into(), &[], || Ok(1u32)).unwrap();
        let (_, took) = stages
            .run(
                "b",
                "b",
                "t2".into(),
                std::slice::from_ref(&product),
                || {
                    assert!(
                        !product.exists(),
                        "the stale output is removed before the rerun"
                    );
                    Ok(5u32)
                },
            )
            .unwrap();
        assert!(took.is_some());
        // Upstream settings changed: both rerun.
        assert_eq!(run("s2", "t2", &mut calls), (2, true));
        assert_eq!(calls, ["a", "b"]);
    }
}
