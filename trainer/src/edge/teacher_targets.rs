//! Distillation data: every window of a clip list as the student sees it
//! (the runtime's fixed-point features) beside the frozen teacher's targets
//! for the same frames (its clip embedding on its own float front end, and
//! optionally its pseudo-class distribution).
//!
//! The teacher is the expensive part (a ViT-B runs billions of operations per
//! window), so its targets are computed once, in batches of windows, and
//! cached on disk, keyed like the embedding cache
//! ([`crate::eval::embed::cache_key`]: the checkpoint's bytes, the teacher's
//! front end, every clip's path, size and modification time) plus the window
//! geometry and whether pseudo-classes are included. Entries:
//! `DIR/distill-<key>.npy` (`[windows, D]`) and `DIR/distill-<key>.probs.npy`
//! (`[windows, K]`), written atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use matpac_runtime::frontend::FrontendConfig;

use super::distill::DistillTargets;
use super::features::clip_windows;
use crate::audio::{AudioError, load_audio, to_pcm_i16};
use crate::eval::embed::{ClipEncoder, cache_key};
use crate::frontend::{FloatFrontend, FrontendError, LogMel};
use crate::io::{read_npy_f32, write_npy_f32};

/// Teacher windows encoded in one batch.
const BATCH: usize = 32;

/// Errors while preparing distillation data.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    /// A clip could not be decoded.
    #[error("{path}: {source}")]
    Audio {
        /// The clip.
        path: PathBuf,
        /// Cause.
        source: AudioError,
    },
    /// A front-end configuration was rejected.
    #[error(transparent)]
    Frontend(#[from] FrontendError),
    /// The teacher is not a MATPAC encoder.
    #[error("the teacher must be a MATPAC checkpoint (run folder or checkpoint file)")]
    NotMatpac,
    /// The cache could not be written.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Windows and the teacher's targets for them, row `i` of each for window `i`.
#[derive(Debug, Clone, PartialEq)]
pub struct DistillData {
    /// Student input per window: fixed-point log-mel `[n_frames × n_mels]`.
    pub windows: Vec<Vec<f32>>,
    /// Teacher targets.
    pub targets: DistillTargets,
    /// Whether the targets came from the cache.
    pub from_cache: bool,
    /// Teacher windows per second when they were computed (`None` from the cache).
    pub windows_per_second: Option<f64>,
}

/// Window geometry and what to compute.
#[derive(Debug, Clone)]
pub struct WindowPlan {
    /// The student's front end (fixed point).
    pub student: FrontendConfig,
    /// The teacher's float front end, framing audio as the student's does.
    pub teacher: FrontendConfig,
    /// Frames per window.
    pub n_frames: usize,
    /// Frames between window starts.
    pub hop_frames: usize,
    /// Also compute the teacher's pseudo-class distributions.
    pub pseudo_classes: bool,
}

fn audio_err(path: &Path) -> impl FnOnce(AudioError) -> TargetsError + '_ {
    move |source| TargetsError::Audio {
        path: path.to_path_buf(),
        source,
    }
}

/// Decoded clips: the student's windows and the teacher's log-mel of the same audio.
struct Decoded {
    /// Student windows of every clip, in order.
    windows: Vec<Vec<f32>>,
    /// The teacher's float log-mel of each clip.
    mels: Vec<LogMel>,
    /// Windows per clip.
    per_clip: Vec<usize>,
}

/// The student windows of `clips` (each clip zero-padded to one window) and
/// the float log-mel of the same audio for the teacher.
fn decode(plan: &WindowPlan, clips: &[PathBuf]) -> Result<Decoded, TargetsError> {
    let float = FloatFrontend::new(&plan.teacher)?;
    let fe = &plan.student;
    let need = fe.win_length + (plan.n_frames - 1) * fe.hop_length;
    let (mut windows, mut mels, mut per_clip) = (Vec::new(), Vec::new(), Vec::new());
    for path in clips {
        let mut samples = load_audio(path, fe.sample_rate).map_err(audio_err(path))?;
        if samples.len() < need {
            samples.resize(need, 0.0);
        }
        let w = clip_windows(fe, &to_pcm_i16(&samples), plan.n_frames, plan.hop_frames)?;
        per_clip.push(w.len());
        windows.extend(w);
        mels.push(float.log_mel(&samples));
    }
    Ok(Decoded {
        windows,
        mels,
        per_clip,
    })
}

fn read_cached(file: &Path, rows: usize) -> Option<Vec<Vec<f32>>> {
    let (shape, data) = read_npy_f32(file).ok()?;
    (shape.len() == 2 && shape[0] == rows && shape[1] > 0)
        .then(|| data.chunks_exact(shape[1]).map(<[f32]>::to_vec).collect())
}

fn write_rows(file: &Path, rows: &[Vec<f32>]) -> Result<(), TargetsError> {
    let width = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.concat();
    write_npy_f32(file, &[rows.len(), width], &flat).map_err(|source| TargetsError::Io {
        path: file.to_path_buf(),
        source,
    })
}

/// Windows of `clips` and `teacher`'s targets for them, from `cache` when an
/// entry for exactly these inputs exists (and written there otherwise).
pub fn distill_data(
    teacher: &ClipEncoder,
    plan: &WindowPlan,
    clips: &[PathBuf],
    cache: Option<&Path>,
    progress: bool,
) -> Result<DistillData, TargetsError> {
    let trainer = teacher.matpac().ok_or(TargetsError::NotMatpac)?;
    let Decoded {
        windows,
        mels,
        per_clip,
    } = decode(plan, clips)?;
    let id = format!(
        "{}\ndistill: frames {} hop {} student {:?} pseudo-classes {}",
        teacher.id, plan.n_frames, plan.hop_frames, plan.student, plan.pseudo_classes
    );
    let files = cache.map(|dir| {
        let stem = format!("distill-{:016x}", cache_key(&id, &plan.teacher, clips));
        (
            dir.join(format!("{stem}.npy")),
            dir.join(format!("{stem}.probs.npy")),
        )
    });
    if let Some((emb, probs)) = &files
        && let Some(embedding) = read_cached(emb, windows.len())
    {
        let probs = if plan.pseudo_classes {
            read_cached(probs, windows.len())
        } else {
            None
        };
        if probs.is_some() == plan.pseudo_classes {
            return Ok(DistillData {
                windows,
                targets: DistillTargets { embedding, probs },
                from_cache: true,
                windows_per_second: None,
            });
        }
    }
    let bar = crate::progress::bar(
        windows.len() as u64,
        progress,
        "teacher targets {bar:30} {pos}/{len} windows [{elapsed_precise}<{eta_precise}] {per_sec}",
    );
    let started = Instant::now();
    let (t, m) = (plan.n_frames, plan.teacher.n_mels);
    let mut targets = DistillTargets {
        embedding: Vec::with_capacity(windows.len()),
        probs: plan.pseudo_classes.then(Vec::new),
    };
    // Mel-major windows of the teacher's log-mel, in the student windows' order.
    let teacher_windows = mels
        .iter()
        .zip(&per_clip)
        .flat_map(|(mel, &n)| (0..n).map(move |k| mel.mel_major_frames(k * plan.hop_frames, t)));
    let mut batch = Vec::with_capacity(BATCH);
    let mut flush = |batch: &mut Vec<Vec<f32>>| {
        let refs: Vec<&[f32]> = batch.iter().map(Vec::as_slice).collect();
        targets.embedding.extend(trainer.embed_batch(&refs, m, t));
        if let Some(p) = &mut targets.probs {
            p.extend(trainer.pseudo_classes(&refs, m, t));
        }
        bar.inc(batch.len() as u64);
        batch.clear();
    };
    for w in teacher_windows {
        batch.push(w);
        if batch.len() == BATCH {
            flush(&mut batch);
        }
    }
    if !batch.is_empty() {
        flush(&mut batch);
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if let Some((emb, probs)) = &files {
        write_rows(emb, &targets.embedding)?;
        if let Some(p) = &targets.probs {
            write_rows(probs, p)?;
        }
    }
    Ok(DistillData {
        windows_per_second: Some(targets.embedding.len() as f64 / seconds.max(1e-9)),
        windows,
        targets,
        from_cache: false,
    })
}
