//! `matpac distill --teacher RUN_DIR --data DIR_OR_CSV --out DIR`: the DS-CNN
//! student distilled from a frozen MATPAC encoder on unlabelled audio. Each
//! ~1 s window gets the teacher's clip embedding (the float front end its
//! checkpoint records, e.g. n_fft 400, on the same frames); the student sees
//! the runtime's fixed-point features of the same window and learns them
//! through a projection (cosine loss). Saves a student checkpoint for
//! `matpac train-tagger --init`.
//!
//! The KL term's target is the teacher's pseudo-class distribution of the
//! same window ([`crate::matpac::Trainer::pseudo_classes`]); `--kl-weight 0`
//! turns it off, and it is off for a teacher whose head was never trained
//! (`import-official`). Teacher targets are computed once and cached
//! ([`crate::edge::teacher_targets`]). With `--probe DATA` the student's linear-probe accuracy is
//! reported next to the teacher's, both on DATA's splits.

use super::embed::clip_list;
use super::probe::{ProbeOptions, probe_data};
use super::student_args::StudentTraining;
use crate::data::{readers, splits};
use crate::device::DeviceArgs;
use crate::edge::checkpoint::{StudentInfo, save};
use crate::edge::distill::{DistillConfig, DistillTargets, distill};
use crate::edge::features::FeatureStats;
use crate::edge::pipeline::{HOP_FRAMES, student_clip_embeddings};
use crate::edge::teacher_targets::{WindowPlan, distill_data};
use crate::eval::embed::{ClipEncoder, default_cache_dir};
use crate::eval::run::probe_dataset;
use crate::matpac::run::checkpoint_path;
use anyhow::Context;
use burn::tensor::Device;
use matpac_runtime::frontend::FrontendConfig;
use std::path::{Path, PathBuf};

/// Arguments of `matpac distill`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// MATPAC run folder or checkpoint file (the frozen teacher).
    #[arg(long)]
    pub teacher: PathBuf,
    /// Unlabelled audio: a folder or a CSV whose first column is the path.
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder (student.toml + student.bpk).
    #[arg(long)]
    pub out: PathBuf,
    /// Student size and optimisation.
    #[command(flatten)]
    pub training: StudentTraining,
    /// Weight of the cosine loss to the teacher's embedding.
    #[arg(long, default_value_t = DistillConfig::default().cosine_weight)]
    pub cosine_weight: f64,
    /// Weight of the KL loss to the teacher's pseudo-class distribution (0: off).
    #[arg(long, default_value_t = DistillConfig::default().kl_weight)]
    pub kl_weight: f64,
    /// Labelled data set: report the student's linear-probe accuracy next to the teacher's.
    #[arg(long)]
    pub probe: Option<PathBuf>,
    /// Teacher-target cache folder (default: ~/.cache/matpac-edge/embeddings).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Do not read or write the teacher-target cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Where the teacher runs and the student trains.
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// The KL weight to use: `requested`, or 0 (with a warning) when the
/// teacher's classification head has never been trained (a checkpoint at
/// update 0: `import-official` or a fresh initialisation), whose
/// pseudo-classes carry no information.
fn kl_weight_for(teacher: &ClipEncoder, requested: f64) -> f64 {
    let untrained = teacher.matpac().is_some_and(|t| t.step == 0);
    if untrained && requested > 0.0 {
        eprintln!(
            "note: the teacher's classification head is untrained (update 0); \
             distilling its embedding only (KL weight 0)"
        );
        return 0.0;
    }
    requested
}

/// What `matpac distill` measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Training windows.
    pub windows: usize,
    /// Mean cosine distance to the teacher's embedding after the last epoch.
    pub cosine_distance: f64,
    /// Student parameters.
    pub params: usize,
    /// Student multiply-accumulates per window.
    pub macs: usize,
    /// `(teacher, student)` linear-probe test accuracy (mean over splits) with `--probe`.
    pub probe: Option<(f64, f64)>,
}

/// Computes teacher targets, distils, saves.
pub fn run(args: Args) -> anyhow::Result<Summary> {
    // The student's own head is not trained here (`train-tagger --init` replaces it).
    let student = args.training.student(1)?;
    let device = args.device.device()?;
    let (ckpt, teacher) = load_teacher(&args.teacher, &device)?;
    let kl_weight = kl_weight_for(&teacher, args.kl_weight);
    // Student: the runtime's fixed-point front end (n_fft 512, what the device runs).
    // Teacher: the float front end its checkpoint was trained on, on the same frames.
    let fe = FrontendConfig::default();
    let plan = WindowPlan {
        student: fe,
        teacher: teacher_frontend(teacher.frontend(), &fe)?,
        n_frames: student.n_frames,
        hop_frames: HOP_FRAMES,
        pseudo_classes: kl_weight > 0.0,
    };
    let (windows, targets, stats) = standardised_windows(&args, &teacher, &plan)?;
    eprintln!("{}", student.stats());
    let dc = DistillConfig {
        epochs: args.training.epochs,
        batch: args.training.batch,
        lr: args.training.lr,
        seed: args.training.seed,
        cosine_weight: args.cosine_weight,
        kl_weight,
        ..Default::default()
    };
    let (model, reports) = distill(
        &student,
        &dc,
        &windows,
        &targets,
        &device.clone().autodiff(),
        |r| {
            eprintln!(
                "epoch {:>3}: loss {:.4}  cosine distance {:.4}",
                r.epoch, r.train_loss, r.val_loss
            )
        },
    );
    let info = StudentInfo {
        student,
        features: stats,
        class_names: Vec::new(),
        thresholds: Vec::new(),
        tagger: None,
        provenance: format!(
            "matpac-trainer {} distill from {} on {} ({} windows), {} epochs, seed {}",
            env!("CARGO_PKG_VERSION"),
            ckpt.display(),
            args.data.display(),
            windows.len(),
            args.training.epochs,
            args.training.seed
        ),
    };
    save(&args.out, &info, &model)?;
    eprintln!("→ {}", args.out.display());
    let probe = match &args.probe {
        Some(data) => Some(probe_both(
            &teacher,
            &info,
            &model,
            data,
            args.training.seed,
        )?),
        None => None,
    };
    let stats = info.student.stats();
    Ok(Summary {
        windows: windows.len(),
        cosine_distance: reports.last().map_or(f64::NAN, |r| r.val_loss),
        params: stats.params,
        macs: stats.macs,
        probe,
    })
}

/// The teacher of `--teacher` (a run folder or its checkpoint file): the
/// checkpoint's path and its clip encoder on `device`.
fn load_teacher(teacher: &Path, device: &Device) -> anyhow::Result<(PathBuf, ClipEncoder)> {
    let ckpt = if teacher.is_dir() {
        checkpoint_path(teacher)
    } else {
        teacher.to_path_buf()
    };
    let encoder = ClipEncoder::from_checkpoint(&ckpt, device)
        .with_context(|| format!("loading {}", ckpt.display()))?;
    Ok((ckpt, encoder))
}

/// The student's windows of every clip of `--data` (standardised with their
/// own statistics, returned) and the teacher's targets for them (cached).
fn standardised_windows(
    args: &Args,
    teacher: &ClipEncoder,
    plan: &WindowPlan,
) -> anyhow::Result<(Vec<Vec<f32>>, DistillTargets, FeatureStats)> {
    let clips = clip_list(&args.data)?;
    let cache = (!args.no_cache).then(|| args.cache.clone().unwrap_or_else(default_cache_dir));
    let data = distill_data(teacher, plan, &clips, cache.as_deref(), true)?;
    let (windows, targets) = (data.windows, data.targets);
    if windows.is_empty() {
        anyhow::bail!("no audio in {}", args.data.display());
    }
    match data.windows_per_second {
        Some(rate) => eprintln!(
            "teacher targets: {} windows at {rate:.1} windows/s",
            windows.len()
        ),
        None => eprintln!("teacher targets from the cache"),
    }
    let stats = FeatureStats::from_windows(&windows);
    let windows: Vec<Vec<f32>> = windows.iter().map(|w| stats.apply(w)).collect();
    eprintln!(
        "{} clips → {} windows; teacher embedding width {}",
        clips.len(),
        windows.len(),
        targets.embedding[0].len()
    );
    Ok((windows, targets, stats))
}

/// The teacher's float front end (`teacher`, from its checkpoint), checked to
/// frame the audio as the student's fixed-point one (`student`) does: same
/// sample rate, window and hop, so frame `k` of one is frame `k` of the other.
/// `n_fft`, the mel bands and ε may differ (the `paper` preset's n_fft 400).
pub fn teacher_frontend(
    teacher: &FrontendConfig,
    student: &FrontendConfig,
) -> anyhow::Result<FrontendConfig> {
    let framing = |c: &FrontendConfig| (c.sample_rate, c.win_length, c.hop_length);
    if framing(teacher) != framing(student) {
        anyhow::bail!(
            "the teacher's front end (sample rate, window, hop) {:?} frames audio \
             differently from the student's {:?}: distillation needs the same frames",
            framing(teacher),
            framing(student)
        );
    }
    Ok(*teacher)
}

/// Linear-probe test accuracy (mean over `data`'s splits) of the teacher's
/// clip embeddings and of the student's pooled embeddings, same splits and
/// probe settings.
fn probe_both(
    teacher: &ClipEncoder,
    info: &StudentInfo,
    model: &crate::edge::student::Student,
    data: &std::path::Path,
    seed: u64,
) -> anyhow::Result<(f64, f64)> {
    let opts = ProbeOptions {
        seed,
        ..ProbeOptions::default()
    };
    let (_, t) = probe_data(teacher, data, &opts)?;
    let ds = readers::open(data)?;
    let plan = splits::plan(&ds, opts.folds, opts.seed)?;
    let net = model.to_float_net(&info.student);
    let x = student_clip_embeddings(
        &net,
        &info.features,
        &FrontendConfig::default(),
        &info.student,
        &ds.paths(),
    )?;
    let s = probe_dataset(
        &ds,
        &x,
        info.student.embedding_dim(),
        &plan,
        &opts.probe_config(),
    )?;
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (ta, sa) = (mean(t.accuracies()), mean(s.accuracies()));
    println!(
        "linear probe on {}: teacher {:.1} %, student {:.1} % ({:+.1} points)",
        ds.name,
        100.0 * ta,
        100.0 * sa,
        100.0 * (sa - ta)
    );
    Ok((ta, sa))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_teacher_keeps_its_own_n_fft_but_must_share_the_frames() {
        let student = FrontendConfig::default();
        let paper = FrontendConfig {
            n_fft: 400,
            ..student
        };
        assert_eq!(teacher_frontend(&paper, &student).unwrap().n_fft, 400);
        assert_eq!(teacher_frontend(&student, &student).unwrap(), student);
        let other_hop = FrontendConfig {
            hop_length: 320,
            ..student
        };
        assert!(teacher_frontend(&other_hop, &student).is_err());
    }
}
