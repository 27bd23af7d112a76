//! The demo's nine stages, one method each: every stage calls its own
//! subcommand's `run` with the demo's settings through [`Stages`] (reused
//! when an earlier run did it with the same settings) and records its time.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::stages::{Stages, Took};
use super::tagging::{draw_scene, score_set};
use super::{Args, Scores, StudentFlags};
use crate::cli::probe::ProbeOptions;
use crate::cli::probe_suite::default_bundled;
use crate::cli::student_args::StudentTraining;
use crate::cli::{distill, pretrain, probe_suite, quantize, scenes, train_tagger};
use crate::data::scenes::SceneSplit;
use crate::device::DeviceArgs;
use crate::edge::scene_thresholds::DEFAULT_VAL_SCENES;
use crate::edge::tagger_head::THRESHOLD_RANGE;
use crate::matpac::Preset;

/// The two taggers the demo trains: the distilled student and the
/// from-scratch baseline (output folder names).
const TAGGERS: [&str; 2] = ["tagger", "scratch"];

/// One demo run: its settings, folders, stage records and timings.
pub(super) struct Demo<'a> {
    args: &'a Args,
    /// The bundled data folder.
    data: PathBuf,
    stages: Stages,
    /// `(stage title, seconds in this run)`, in order.
    pub timings: Vec<(String, Took)>,
}

impl<'a> Demo<'a> {
    /// Checks the data folder's layout and creates (or, with `--fresh`,
    /// recreates) the output folder.
    pub fn prepare(args: &'a Args) -> anyhow::Result<Self> {
        let data = args.data.clone().unwrap_or_else(default_bundled);
        for need in ["manifest.csv", "unlabelled", "scenes"] {
            anyhow::ensure!(
                data.join(need).exists(),
                "{}: no {need}; --data must be a folder laid out as data/bundled",
                data.display()
            );
        }
        let out = &args.out;
        if args.fresh && out.exists() {
            std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
        }
        std::fs::create_dir_all(out.join("stages"))
            .with_context(|| format!("creating {}", out.display()))?;
        Ok(Self {
            args,
            data,
            stages: Stages::new(out),
            timings: Vec::new(),
        })
    }

    /// `--out`/`name`.
    fn out(&self, name: &str) -> PathBuf {
        self.args.out.join(name)
    }

    /// The exported model of tagger `name`.
    fn model_of(&self, name: &str) -> PathBuf {
        self.out(&format!("{name}.onnx"))
    }

    /// The student flags' defaults, with the demo's preset and `epochs`.
    fn training(&self, epochs: usize) -> StudentTraining {
        StudentTraining {
            preset: self.args.student.clone(),
            epochs,
            ..<StudentFlags as clap::Parser>::parse_from(["demo"]).training
        }
    }

    /// Runs one stage through [`Stages::run`] and records its time.
    fn stage<T: Serialize + DeserializeOwned>(
        &mut self,
        key: &str,
        title: &str,
        settings: String,
        outputs: &[PathBuf],
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let (value, took) = self.stages.run(key, title, settings, outputs, f)?;
        self.timings.push((title.to_string(), took));
        Ok(value)
    }

    /// Stages 1–2: MATPAC (λ = 0.5) and λ = 0 pretraining of `tiny` on `unlabelled/`.
    pub fn pretrain(&mut self) -> anyhow::Result<()> {
        let unlabelled = self.data.join("unlabelled");
        let (steps, cache, quiet) = (self.args.steps, self.args.cache.clone(), self.args.quiet);
        for (name, title, lambda) in [
            ("matpac", "1/9 MATPAC pretraining (tiny, λ = 0.5)", None),
            (
                "lambda0",
                "2/9 pretraining without classification (λ = 0)",
                Some("lambda=0"),
            ),
        ] {
            let settings = format!("data {} steps {steps} {lambda:?}", unlabelled.display());
            let out = self.out(name);
            self.stage(
                &format!("pretrain_{name}"),
                title,
                settings,
                std::slice::from_ref(&out),
                || {
                    pretrain::run(pretrain::Args {
                        data: unlabelled.clone(),
                        preset: Preset::Tiny,
                        out: out.clone(),
                        steps: Some(steps),
                        resume: true,
                        config: None,
                        // The schedules (warm-up, cosine, EMA ramps) span exactly `--steps`.
                        overrides: [format!("train.total_steps={steps}")]
                            .into_iter()
                            .chain(lambda.map(String::from))
                            .collect(),
                        cache: cache.clone(),
                        quiet,
                        device: DeviceArgs::default(),
                    })
                },
            )?;
        }
        Ok(())
    }

    /// Stage 3: the probe suite (MATPAC, λ = 0, random init, log-mel
    /// statistics) on the labelled clips; returns its markdown table.
    pub fn probe(&mut self) -> anyhow::Result<String> {
        let title = "3/9 linear probe: MATPAC vs λ = 0 vs random init vs no encoder";
        let args = probe_suite::Args {
            matpac: Some(self.out("matpac")),
            matpac_plus_plus: None,
            lambda0: Some(self.out("lambda0")),
            preset: Preset::Tiny,
            init_seed: 0,
            bundled: Some(self.data.clone()),
            corpora: None,
            data: Vec::new(),
            out: self.out("probe"),
            opts: ProbeOptions {
                quiet: self.args.quiet,
                ..ProbeOptions::default()
            },
        };
        let settings = format!("data {}", self.data.display());
        let outputs = [args.out.clone()];
        self.stage("probe", title, settings, &outputs, || {
            probe_suite::run(args)
        })
    }

    /// Stage 4: the DS-CNN student distilled from the MATPAC encoder on
    /// `unlabelled/`, with the student-vs-teacher probe.
    pub fn distill(&mut self) -> anyhow::Result<distill::Summary> {
        let title = "4/9 distillation into the DS-CNN student";
        let args = distill::Args {
            teacher: self.out("matpac"),
            data: self.data.join("unlabelled"),
            out: self.out("student"),
            training: self.training(self.args.distill_epochs),
            cosine_weight: 1.0,
            kl_weight: 1.0,
            probe: Some(self.data.clone()),
            cache: None,
            no_cache: false,
            device: DeviceArgs::default(),
        };
        let settings = format!(
            "student {} epochs {}",
            self.args.student, self.args.distill_epochs
        );
        let outputs = [args.out.clone()];
        self.stage("distill", title, settings, &outputs, || distill::run(args))
    }

    /// Stages 5–6: the distilled student fine-tuned as a tagger, and the same
    /// DS-CNN trained from scratch with the same budget.
    pub fn taggers(&mut self) -> anyhow::Result<[train_tagger::Summary; 2]> {
        let student = Some(self.out("student"));
        let mut summaries = Vec::new();
        for (name, title, init) in [
            (
                TAGGERS[0],
                "5/9 tagger: the distilled student fine-tuned on the labelled clips",
                student,
            ),
            (
                TAGGERS[1],
                "6/9 baseline: the same DS-CNN trained from scratch, same budget",
                None,
            ),
        ] {
            let settings = format!(
                "student {} epochs {} thresholds {THRESHOLD_RANGE:?} init {}",
                self.args.student,
                self.args.tagger_epochs,
                init.is_some()
            );
            let args = train_tagger::Args {
                data: self.data.clone(),
                out: self.out(name),
                training: self.training(self.args.tagger_epochs),
                min_threshold: THRESHOLD_RANGE.0,
                max_threshold: THRESHOLD_RANGE.1,
                init,
                freeze_backbone: false,
                no_augment: false,
                augment_set: Vec::new(),
                val_scenes: DEFAULT_VAL_SCENES,
                device: DeviceArgs::default(),
            };
            let outputs = [args.out.clone()];
            summaries
                .push(self.stage(name, title, settings, &outputs, || train_tagger::run(args))?);
        }
        summaries
            .try_into()
            .map_err(|_| anyhow::anyhow!("two taggers were trained"))
    }

    /// Stage 7: int8 quantisation of both taggers; `quantize --out` also
    /// writes each `.onnx`, as `export` would (one calibration each).
    pub fn quantize(&mut self) -> anyhow::Result<[quantize::Summary; 2]> {
        let title = "7/9 int8 quantisation and export of both";
        let jobs = TAGGERS.map(|name| quantize::Args {
            student: self.out(name),
            data: self.data.clone(),
            calibration: "99.99".into(),
            max_windows: 512,
            out: Some(self.model_of(name)),
        });
        let outputs = TAGGERS.map(|name| self.model_of(name));
        let summaries = self.stage("quantize", title, String::new(), &outputs, || {
            jobs.into_iter()
                .map(quantize::run)
                .collect::<anyhow::Result<Vec<_>>>()
        })?;
        summaries
            .try_into()
            .map_err(|_| anyhow::anyhow!("the quantisation stage records two models"))
    }

    /// Stage 8: scenes laid out from the test-split clips; returns their audio files.
    pub fn scenes(&mut self) -> anyhow::Result<Vec<PathBuf>> {
        let title = "8/9 scenes from the test-split clips";
        let scene_dir = self.out("scenes");
        let args = scenes::Args {
            data: self.data.clone(),
            split: SceneSplit::Test,
            out: scene_dir.clone(),
            count: self.args.scenes,
            seed: 0,
            split_seed: 0,
            duration: 20.0,
            background: None,
            snr: None,
        };
        let settings = format!("count {}", self.args.scenes);
        let outputs = [scene_dir.clone()];
        let index = self.stage("scenes", title, settings, &outputs, || {
            scenes::run(args).map(|rows| rows.into_iter().map(|r| r.scene).collect::<Vec<_>>())
        })?;
        Ok(index
            .iter()
            .map(|scene| scene_dir.join(format!("{scene}.wav")))
            .collect())
    }

    /// Stage 9: both taggers through the runtime's streaming tagger on
    /// `test_scenes` and on the bundled scenes, and the PNG of `scene01`.
    pub fn tag(&mut self, test_scenes: &[PathBuf]) -> anyhow::Result<Scores> {
        let title = "9/9 both taggers on the scenes (runtime's streaming tagger)";
        let bundled = bundled_scenes(&self.data.join("scenes"))?;
        let [tagger, scratch] = TAGGERS.map(|name| self.model_of(name));
        let png = "scene01_events.png".to_string();
        let png_path = self.out(&png);
        self.stage("tag", title, String::new(), &[], || {
            let score = |scenes: &[PathBuf]| -> anyhow::Result<_> {
                Ok((score_set(&tagger, scenes)?, score_set(&scratch, scenes)?))
            };
            if let Some(first) = bundled.first() {
                draw_scene(&tagger, first, &png_path)?;
            }
            Ok(Scores {
                test: score(test_scenes)?,
                bundled: score(&bundled)?,
                png,
            })
        })
    }
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
