//! Per-class thresholds and the score smoothing, chosen on validation scenes
//! by event-based F1.
//!
//! Window-level thresholds (the F1 optimum over single windows) say little
//! about what the streaming tagger does on a recording: whether a short sound
//! fires in the one or two windows that hold it, whether a long one splits
//! into several events, whether the tail of a loud sound triggers a class it
//! resembles. So the student scores validation scenes (clips of held-out
//! groups laid on timelines) window by window at the tagger's stride, the
//! runtime's own [`EventDetector`] turns the scores into events for a grid of
//! thresholds, smoothing lengths and top-k limits (how many classes may start
//! an event in one window), and each class keeps the threshold with its best
//! event F1 on those scenes; the smoothing and top-k are the pair with the
//! best micro event F1 after that.

use super::augment::add_noise;
use super::features::{FeatureStats, clip_windows};
use super::student::{Student, StudentConfig};
use super::tagger_head::scores;
use crate::audio::{AudioError, to_pcm_i16};
use crate::data::dataset::Dataset;
use crate::data::scenes::{SceneConfig, compose, load_clips};
use crate::eval::event_metrics::{FileMetrics, MetricsConfig, evaluate};
use crate::eval::events::TimedEvent;
use crate::frontend::FrontendError;
use crate::matpac::rng::Rng;
use burn::tensor::Device;
use indicatif::ProgressBar;
use matpac_runtime::frontend::FrontendConfig;
use matpac_runtime::tagger::{EventDetector, TaggerConfig};

/// Most classes the host detector handles.
const MAX_CLASSES: usize = 256;

/// The thresholds tried: `0.05, 0.10, …, 0.95` within `range` (inclusive), each
/// the f32 nearest its decimal (as a literal `0.45` is).
pub fn threshold_grid(range: (f32, f32)) -> Vec<f32> {
    (1..=19)
        .map(|k| k as f32 / 20.0)
        .filter(|t| (range.0 - 1e-6..=range.1 + 1e-6).contains(t))
        .collect()
}

/// Smoothing lengths tried (windows).
pub const SMOOTHING_CHOICES: [usize; 3] = [1, 2, 3];

/// Top-k limits tried (0: no limit).
pub const TOP_K_CHOICES: [usize; 3] = [0, 1, 2];

/// Validation scenes laid out by default: enough that every class has a few
/// dozen events to choose its threshold on (with fewer, the thresholds move
/// with each draw of the scenes more than with the recipe; `docs/training.md`).
pub const DEFAULT_VAL_SCENES: usize = 32;

/// One scene's window scores at the tagger's timing, with its reference.
#[derive(Debug, Clone)]
pub struct ScoredScene {
    /// End sample of each window.
    pub ends: Vec<u64>,
    /// Sigmoid scores `[windows][classes]`.
    pub scores: Vec<Vec<f32>>,
    /// Reference events.
    pub truth: Vec<TimedEvent>,
    /// Length, seconds.
    pub duration: f64,
}

/// Scores `pcm` window by window, every `stride_frames` frames as the
/// streaming tagger does (window `k` covers frames `k·S .. k·S + T`).
#[allow(clippy::too_many_arguments)]
pub fn score_scene(
    student: &Student,
    config: &StudentConfig,
    stats: &FeatureStats,
    frontend: &FrontendConfig,
    pcm: &[i16],
    truth: Vec<TimedEvent>,
    stride_frames: usize,
    device: &Device,
) -> Result<ScoredScene, FrontendError> {
    let windows: Vec<Vec<f32>> = clip_windows(frontend, pcm, config.n_frames, stride_frames)?
        .iter()
        .map(|w| stats.apply(w))
        .collect();
    let hop = frontend.hop_length as u64;
    let ends = (0..windows.len() as u64)
        .map(|k| {
            (k * stride_frames as u64 + config.n_frames as u64 - 1) * hop
                + frontend.win_length as u64
        })
        .collect();
    Ok(ScoredScene {
        ends,
        scores: scores(student, config, &windows, device),
        truth,
        duration: pcm.len() as f64 / f64::from(frontend.sample_rate),
    })
}

/// The events the runtime's detector reports for `scene` with these thresholds.
pub fn detect(
    scene: &ScoredScene,
    thresholds: &[f32],
    tagger: TaggerConfig,
    frontend: &FrontendConfig,
    window_frames: usize,
    labels: &[String],
) -> Vec<TimedEvent> {
    let mut detector =
        EventDetector::<MAX_CLASSES>::new(tagger, frontend, window_frames, thresholds)
            .expect("thresholds and tagger settings checked by the caller");
    let mut events = Vec::new();
    for (&end, s) in scene.ends.iter().zip(&scene.scores) {
        detector.push(end, s, |e| events.push(e));
    }
    detector.finish(|e| events.push(e));
    let seconds = |s: u64| s as f64 / f64::from(frontend.sample_rate);
    events
        .into_iter()
        .map(|e| TimedEvent {
            onset: seconds(e.onset),
            offset: seconds(e.offset),
            label: labels[e.class].clone(),
            score: e.score,
        })
        .collect()
}

/// One scene's 16-bit PCM and its reference events.
pub type LabelledScene = (Vec<i16>, Vec<TimedEvent>);

/// `count` validation scenes (20 s, over coloured noise 30 dB below the
/// events) made of the single-label clips `idx` of `ds`, as 16-bit PCM with
/// their reference events.
pub fn validation_scenes(
    ds: &Dataset,
    idx: &[usize],
    frontend: &FrontendConfig,
    count: usize,
    seed: u64,
) -> Result<Vec<LabelledScene>, AudioError> {
    let clips = load_clips(ds, idx, frontend.sample_rate, &ProgressBar::hidden())?;
    let config = SceneConfig {
        sample_rate: frontend.sample_rate,
        snr_db: Some(30.0),
        ..SceneConfig::default()
    };
    let mut rng = Rng::new(seed ^ 0x7363_656e_6573);
    let rate = f64::from(frontend.sample_rate);
    Ok((0..count)
        .map(|_| {
            let mut noise = vec![0f32; (config.duration * rate) as usize];
            add_noise(&mut noise, 0.01, &mut rng);
            let (samples, events) = compose(&clips, Some(&noise), &config, &mut rng);
            let truth = events
                .into_iter()
                .map(|e| TimedEvent {
                    onset: e.onset_sample as f64 / rate,
                    offset: e.offset_sample as f64 / rate,
                    label: e.label,
                    score: 1.0,
                })
                .collect();
            (to_pcm_i16(&samples), truth)
        })
        .collect())
}

/// Thresholds, smoothing and top-k of `model` chosen on `count` validation
/// scenes of the clips `val` ([`validation_scenes`], [`score_scene`] at the
/// default tagger stride, [`choose`]); `fallback` are the window-level
/// thresholds kept for classes without validation events.
#[allow(clippy::too_many_arguments)]
pub fn tune_on_validation_scenes(
    model: &Student,
    student: &StudentConfig,
    stats: &FeatureStats,
    frontend: &FrontendConfig,
    ds: &Dataset,
    val: &[usize],
    count: usize,
    seed: u64,
    fallback: &[f32],
    range: (f32, f32),
    device: &Device,
) -> Result<Choice, SceneTuningError> {
    let scored = validation_scenes(ds, val, frontend, count, seed)?
        .into_iter()
        .map(|(pcm, truth)| {
            score_scene(
                model,
                student,
                stats,
                frontend,
                &pcm,
                truth,
                TaggerConfig::default().stride_frames,
                device,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(choose(
        &scored,
        &ds.labels,
        TaggerConfig::default(),
        frontend,
        student.n_frames,
        fallback,
        range,
    ))
}

/// Why validation scenes could not be made or scored.
#[derive(Debug, thiserror::Error)]
pub enum SceneTuningError {
    /// A validation clip could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The front end rejected a scene.
    #[error(transparent)]
    Frontend(#[from] FrontendError),
}

/// What [`choose`] picked and how it scores on the scenes it was chosen on.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Per-class thresholds.
    pub thresholds: Vec<f32>,
    /// The tagger settings (smoothing, top-k; the rest as given).
    pub tagger: TaggerConfig,
    /// Metrics over all scenes with these settings.
    pub metrics: FileMetrics,
}

/// Metrics over `scenes` with `thresholds`.
fn evaluate_all(
    scenes: &[ScoredScene],
    thresholds: &[f32],
    tagger: TaggerConfig,
    frontend: &FrontendConfig,
    window_frames: usize,
    labels: &[String],
) -> FileMetrics {
    let mut total = FileMetrics::default();
    for scene in scenes {
        let detected = detect(scene, thresholds, tagger, frontend, window_frames, labels);
        total.add(&evaluate(
            &scene.truth,
            &detected,
            scene.duration,
            &MetricsConfig::default(),
        ));
    }
    total
}

/// Per class the grid threshold with the best event F1 on `scenes` (the
/// middle of the best run of equal F1 values), for each smoothing length of
/// [`SMOOTHING_CHOICES`] and top-k limit of [`TOP_K_CHOICES`]; returns the
/// setting with the best micro event F1 (the first of equals: no limit and
/// less smoothing first).
/// A class without reference events in the scenes keeps `fallback[c]`. Only
/// thresholds within `range` are tried: with a handful of validation events
/// per class the F1 optimum can sit very low and then fires on every sound
/// that resembles the class.
pub fn choose(
    scenes: &[ScoredScene],
    labels: &[String],
    base: TaggerConfig,
    frontend: &FrontendConfig,
    window_frames: usize,
    fallback: &[f32],
    range: (f32, f32),
) -> Choice {
    let grid = threshold_grid(range);
    let mut best: Option<Choice> = None;
    let settings = TOP_K_CHOICES
        .iter()
        .flat_map(|&top_k| SMOOTHING_CHOICES.map(|s| (s, top_k)));
    for (smoothing, top_k) in settings {
        let tagger = TaggerConfig {
            smoothing_windows: smoothing,
            top_k,
            ..base
        };
        // F1 of every class at every grid threshold (classes are independent).
        let per_threshold: Vec<FileMetrics> = grid
            .iter()
            .map(|&t| {
                let all = vec![t; labels.len()];
                evaluate_all(scenes, &all, tagger, frontend, window_frames, labels)
            })
            .collect();
        let thresholds: Vec<f32> = labels
            .iter()
            .enumerate()
            .map(|(c, label)| {
                let f1: Vec<Option<f64>> = per_threshold
                    .iter()
                    .map(|m| {
                        m.event_per_class
                            .get(label)
                            .filter(|k| k.tp + k.fn_ > 0)
                            .map(|k| k.f1())
                    })
                    .collect();
                let Some(top) = f1.iter().flatten().copied().reduce(f64::max) else {
                    return fallback[c];
                };
                let at_top: Vec<usize> = (0..grid.len())
                    .filter(|&i| f1[i].is_some_and(|v| v >= top - 1e-12))
                    .collect();
                grid[at_top[at_top.len() / 2]]
            })
            .collect();
        let metrics = evaluate_all(scenes, &thresholds, tagger, frontend, window_frames, labels);
        if best
            .as_ref()
            .is_none_or(|b| metrics.event.f1() > b.metrics.event.f1() + 1e-12)
        {
            best = Some(Choice {
                thresholds,
                tagger,
                metrics,
            });
        }
    }
    best.expect("SMOOTHING_CHOICES is not empty")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(onset: f64, offset: f64, label: &str) -> TimedEvent {
        TimedEvent::reference(onset, offset, label)
    }

    /// Two classes; class `a` scores 0.6 in the windows of its events and 0.3
    /// elsewhere, class `b` 0.45 on its events and 0.35 elsewhere: the chosen
    /// thresholds must separate both, which no single threshold does.
    #[test]
    fn each_class_gets_a_threshold_that_separates_its_events() {
        let fe = FrontendConfig::default();
        let (t, stride) = (98usize, 50usize);
        let labels = vec!["a".to_string(), "b".to_string()];
        let end = |k: u64| (k * stride as u64 + t as u64 - 1) * 160 + 400;
        let n = 40u64;
        // Events of a in windows 5 and 25; of b in windows 15 and 32.
        let (a_at, b_at) = ([5u64, 25], [15u64, 32]);
        let scores = (0..n)
            .map(|k| {
                vec![
                    if a_at.contains(&k) { 0.6 } else { 0.3 },
                    if b_at.contains(&k) { 0.45 } else { 0.35 },
                ]
            })
            .collect();
        // Reference onsets where the detector's estimate lands: within the collar.
        let onset = |k: u64| (end(k) - (15_920 + 8000) / 2) as f64 / 16_000.0;
        let truth = a_at
            .iter()
            .map(|&k| ev(onset(k), onset(k) + 0.5, "a"))
            .chain(b_at.iter().map(|&k| ev(onset(k), onset(k) + 0.5, "b")))
            .collect();
        let scene = ScoredScene {
            ends: (0..n).map(end).collect(),
            scores,
            truth,
            duration: end(n) as f64 / 16_000.0,
        };
        let c = choose(
            std::slice::from_ref(&scene),
            &labels,
            TaggerConfig::default(),
            &fe,
            t,
            &[0.5, 0.5],
            (0.0, 1.0),
        );
        assert_eq!(
            c.tagger.smoothing_windows, 1,
            "smoothing halves the one-window peaks"
        );
        assert_eq!(c.tagger.top_k, 0, "no limit is tried first and suffices");
        assert!(c.thresholds[0] > 0.3 && c.thresholds[0] <= 0.6, "{c:?}");
        assert!(c.thresholds[1] > 0.35 && c.thresholds[1] <= 0.45, "{c:?}");
        assert_eq!(c.metrics.event.f1(), 1.0, "{c:?}");
        // Thresholds are kept within the range given, even where lower ones would do.
        let c = choose(
            &[scene],
            &labels,
            TaggerConfig::default(),
            &fe,
            t,
            &[0.5, 0.5],
            (0.5, 0.9),
        );
        assert!(
            c.thresholds.iter().all(|&x| (0.5..=0.9).contains(&x)),
            "{c:?}"
        );
    }
}
