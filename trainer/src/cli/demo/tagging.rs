//! The demo's last stage: exported taggers run by the runtime's streaming
//! tagger over sets of scenes with reference events, scored with the
//! event-based and segment-based metrics (`docs/event-metrics.md`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::cli::tag;
use crate::eval::event_metrics::{Counts, FileMetrics, MetricsConfig, evaluate};
use crate::eval::events::reference_for;
use matpac_runtime::Model;
use matpac_runtime::tagger::TaggerConfig;

/// Counts and scores of one metric.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
    /// F1.
    pub f1: f64,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
}

impl From<&Counts> for Score {
    fn from(c: &Counts) -> Self {
        Self {
            tp: c.tp,
            fp: c.fp,
            fn_: c.fn_,
            f1: c.f1(),
            precision: c.precision(),
            recall: c.recall(),
        }
    }
}

/// One model on one set of scenes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetScore {
    /// Scenes scored.
    pub files: usize,
    /// Event-based, micro over files and classes.
    pub event: Score,
    /// Segment-based (1 s), micro.
    pub segment: Score,
    /// Event-based per class `(class, score)`.
    pub per_class: Vec<(String, Score)>,
}

/// Tags every file of `files` with `model` (its metadata's tagger settings)
/// and sums the metrics against each file's reference.
pub fn score_set(model_path: &Path, files: &[PathBuf]) -> anyhow::Result<SetScore> {
    with_model(model_path, |model, config| {
        let mut total = FileMetrics::default();
        for file in files {
            let tags = tag::tag_file(model, config, file)?;
            let truth = reference_for(file, None)?
                .with_context(|| format!("{}: no reference events beside it", file.display()))?;
            let duration = tags.pcm.len() as f64 / f64::from(tags.sample_rate);
            total.add(&evaluate(
                &truth,
                &tags.timed,
                duration,
                &MetricsConfig::default(),
            ));
        }
        Ok(SetScore {
            files: files.len(),
            event: Score::from(&total.event),
            segment: Score::from(&total.segment),
            per_class: total
                .event_per_class
                .iter()
                .map(|(c, k)| (c.clone(), Score::from(k)))
                .collect(),
        })
    })
}

/// Draws `scene` with `model`'s detections and its reference into `png`.
pub fn draw_scene(model_path: &Path, scene: &Path, png: &Path) -> anyhow::Result<()> {
    with_model(model_path, |model, config| {
        let tags = tag::tag_file(model, config, scene)?;
        let truth = reference_for(scene, None)?.unwrap_or_default();
        tag::spectrogram_png(png, &tags, &truth, &scene.display().to_string())
    })
}

/// Calls `f` with the parsed model at `path` and the tagger settings its metadata sets.
fn with_model<T>(
    path: &Path,
    f: impl FnOnce(&Model<'_>, TaggerConfig) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let model = Model::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let config =
        TaggerConfig::for_model(&model).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    f(&model, config)
}
