//! `matpac train-tagger DATA --out DIR`: the DS-CNN student with a sigmoid
//! head on labelled clips, per-class thresholds chosen on a group-disjoint
//! validation part of the training side; saves a student checkpoint. With
//! `--init S --freeze-backbone` only the head is trained, on frozen embeddings
//! of the student `S`.

use super::student_args::StudentTraining;
use crate::data::readers;
use crate::device::DeviceArgs;
use crate::edge::augment::{AugmentConfig, ClipPool, draw_epoch};
use crate::edge::checkpoint::{self, StudentInfo, save};
use crate::edge::features::FeatureStats;
use crate::edge::pipeline::{SplitWindows, standardise};
use crate::edge::scene_thresholds::{DEFAULT_VAL_SCENES, tune_on_validation_scenes};
use crate::edge::student::{Student, StudentConfig};
use crate::edge::tagger_head::{
    EpochReport, THRESHOLD_RANGE, TaggerTrainConfig, TrainWindows, choose_thresholds, fine_tune,
    micro_f1, scores, top1, train, train_head, with_new_head,
};
use burn::tensor::Device;
use matpac_runtime::frontend::FrontendConfig;
use std::path::{Path, PathBuf};

/// Arguments of `matpac train-tagger`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labelled data: folder-per-class, ESC-50/UrbanSound8K folder, or a CSV `path,label[;label…][,split,group]`.
    pub data: PathBuf,
    /// Output folder (student.toml + student.bpk).
    #[arg(long)]
    pub out: PathBuf,
    /// Student size (ignored with `--init`) and optimisation.
    #[command(flatten)]
    pub training: StudentTraining,
    /// Lowest per-class threshold (the F1-optimal one on validation is clamped to
    /// `[min, max]`).
    #[arg(long, default_value_t = THRESHOLD_RANGE.0)]
    pub min_threshold: f32,
    /// Highest per-class threshold.
    #[arg(long, default_value_t = THRESHOLD_RANGE.1)]
    pub max_threshold: f32,
    /// Start from this student checkpoint (e.g. from `matpac distill`): its
    /// architecture and feature statistics, a new head.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Train only the sigmoid head, on frozen embeddings of the `--init`
    /// student (each window embedded once; backbone and BatchNorm statistics
    /// unchanged) instead of fine-tuning it end to end: much faster. Needs `--init`.
    /// The head alone wants a higher `--lr` and more `--epochs` than fine-tuning.
    #[arg(long)]
    pub freeze_backbone: bool,
    /// Train on windows cut from the clips as they are (each clip from the
    /// window's start, silence after it) instead of fresh scene-like windows
    /// each epoch (random placement, gain, a second clip, background noise,
    /// time/mel masks; see docs/training.md).
    #[arg(long)]
    pub no_augment: bool,
    /// One augmentation setting, `KEY=VALUE` (repeatable), e.g.
    /// `--augment-set second_clip=0` or `--augment-set windows_per_epoch=2048`.
    #[arg(long = "augment-set", value_name = "KEY=VALUE")]
    pub augment_set: Vec<String>,
    /// Validation scenes (20 s each, from the held-out validation clips) on
    /// which the per-class thresholds and the smoothing are chosen by event
    /// F1; 0 keeps the window-level thresholds.
    #[arg(long, default_value_t = DEFAULT_VAL_SCENES)]
    pub val_scenes: usize,
    /// Where to train.
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// What `matpac train-tagger` measured (window level; thresholds from validation).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Validation top-1 accuracy.
    pub val_top1: f64,
    /// Validation micro-F1.
    pub val_f1: f64,
    /// Test `(top-1, micro-F1, windows)`, when the data has a test side.
    pub test: Option<(f64, f64, usize)>,
    /// Event F1 on the validation scenes with the chosen thresholds and smoothing.
    #[serde(default)]
    pub val_scene_f1: Option<f64>,
}

/// Trains and saves.
pub fn run(args: Args) -> anyhow::Result<Summary> {
    check_flags(&args)?;
    let ds = readers::open(&args.data)?;
    let frontend = FrontendConfig::default();
    let n = ds.labels.len();
    let device = args.device.device()?.autodiff();
    let init = match &args.init {
        Some(dir) => Some(load_init(dir, n, &device)?),
        None => None,
    };
    let student = match &init {
        Some((_, config, _)) => config.clone(),
        None => args.training.student(n)?,
    };
    let split = SplitWindows::prepare(
        &ds,
        args.training.seed,
        &frontend,
        &student,
        init.as_ref().map(|i| i.2),
    )?;
    let SplitWindows {
        fit, val, stats, ..
    } = &split;
    let [fit_w, val_w, test_w] = &split.windows;
    eprintln!(
        "{}: {} labels; clips fit {} / val {} / test {}; windows fit {} / val {} / test {}; features mean {:.3} std {:.3}",
        ds.name,
        n,
        fit.len(),
        val.len(),
        split.test.len(),
        fit_w.x.len(),
        val_w.x.len(),
        test_w.x.len(),
        stats.mean,
        stats.std
    );
    eprintln!("{}", student.stats());
    let tc = TaggerTrainConfig {
        epochs: args.training.epochs,
        batch: args.training.batch,
        lr: args.training.lr,
        seed: args.training.seed,
        freeze_backbone: args.freeze_backbone,
        ..Default::default()
    };
    let log = |r: &EpochReport| {
        eprintln!(
            "epoch {:>3}: train loss {:.4}  val loss {:.4}",
            r.epoch, r.train_loss, r.val_loss
        )
    };
    let augment = (!args.no_augment && !args.freeze_backbone)
        .then(|| {
            args.augment_set
                .iter()
                .try_fold(AugmentConfig::default(), |c, kv| c.set(kv))
                .map_err(anyhow::Error::msg)
        })
        .transpose()?;
    // The clips the augmented windows are drawn from, with the settings.
    let augmented = match augment {
        Some(cfg) => Some((
            ClipPool::from_dataset(&ds, fit, &frontend, student.n_frames, &cfg.speeds)?,
            cfg,
        )),
        None => None,
    };
    let n_frames = student.n_frames;
    let windows = match &augmented {
        Some((pool, cfg)) => {
            eprintln!(
                "augmented: {} fresh windows per epoch from {} clips",
                cfg.windows_per_epoch,
                pool.len()
            );
            TrainWindows::Drawn {
                n: cfg.windows_per_epoch,
                draw: Box::new(|epoch| {
                    let mut w = draw_epoch(pool, cfg, &frontend, n_frames, tc.seed, epoch)
                        .expect("the front end accepted this configuration above");
                    standardise(&mut w, stats);
                    w
                }),
            }
        }
        None => TrainWindows::Fixed(fit_w),
    };
    let (model, _) = match init {
        Some((model, _, _)) if tc.freeze_backbone => {
            train_head(model, &student, &tc, fit_w, val_w, &device, log)
        }
        Some((model, _, _)) => fine_tune(model, &student, &tc, windows, val_w, &device, log),
        None => train(&student, &tc, windows, val_w, &device, log),
    };
    let plain = device.inner();
    let val_s = scores(&model, &student, &val_w.x, &plain);
    let mut thresholds =
        choose_thresholds(&val_s, &val_w.y, (args.min_threshold, args.max_threshold));
    let scene_choice = if args.val_scenes > 0 && split.has_held_out() {
        let choice = tune_on_validation_scenes(
            &model,
            &student,
            stats,
            &frontend,
            &ds,
            val,
            args.val_scenes,
            args.training.seed,
            &thresholds,
            (args.min_threshold, args.max_threshold),
            &plain,
        )?;
        eprintln!(
            "validation scenes ({}): event F1 {:.3} with smoothing {}, top-k {} and per-class thresholds {:?}",
            args.val_scenes,
            choice.metrics.event.f1(),
            choice.tagger.smoothing_windows,
            choice.tagger.top_k,
            choice.thresholds
        );
        thresholds = choice.thresholds.clone();
        Some(choice)
    } else {
        None
    };
    let (val_top1, val_f1) = (
        top1(&val_s, &val_w.y),
        micro_f1(&val_s, &val_w.y, &thresholds),
    );
    println!("validation: top-1 {val_top1:.3}, micro-F1 {val_f1:.3} (thresholds chosen here)");
    let test = (!test_w.x.is_empty()).then(|| {
        let s = scores(&model, &student, &test_w.x, &plain);
        let r = (
            top1(&s, &test_w.y),
            micro_f1(&s, &test_w.y, &thresholds),
            s.len(),
        );
        println!(
            "test: top-1 {:.3}, micro-F1 {:.3} ({} windows)",
            r.0, r.1, r.2
        );
        r
    });
    let info = StudentInfo {
        student,
        features: *stats,
        class_names: ds.labels.clone(),
        thresholds,
        tagger: scene_choice.as_ref().map(|c| c.tagger),
        provenance: provenance(&args, fit.len()),
    };
    save(&args.out, &info, &model)?;
    eprintln!("→ {}", args.out.display());
    Ok(Summary {
        val_top1,
        val_f1,
        test,
        val_scene_f1: scene_choice.map(|c| c.metrics.event.f1()),
    })
}

/// The flag combinations `run` refuses, before any work.
fn check_flags(args: &Args) -> anyhow::Result<()> {
    if args.freeze_backbone && args.init.is_none() {
        anyhow::bail!(
            "--freeze-backbone trains only the head of an existing student: add --init STUDENT_DIR \
             (e.g. from `matpac distill`), or drop --freeze-backbone to train the whole network"
        );
    }
    if !(0.0..=1.0).contains(&args.min_threshold)
        || args.min_threshold > args.max_threshold
        || args.max_threshold > 1.0
    {
        anyhow::bail!(
            "--min-threshold {} / --max-threshold {}: need 0 ≤ min ≤ max ≤ 1",
            args.min_threshold,
            args.max_threshold
        );
    }
    Ok(())
}

/// The `--init` student with a fresh head of `n_outputs` classes: the
/// model, its configuration and its feature statistics.
fn load_init(
    dir: &Path,
    n_outputs: usize,
    device: &Device,
) -> anyhow::Result<(Student, StudentConfig, FeatureStats)> {
    let (info, model) = checkpoint::load(dir, device)?;
    let config = StudentConfig {
        n_outputs,
        ..info.student
    };
    Ok((with_new_head(model, &config, device), config, info.features))
}

/// The checkpoint's provenance line.
fn provenance(args: &Args, fit_clips: usize) -> String {
    format!(
        "matpac-trainer {} train-tagger on {} ({fit_clips} fit clips), {} epochs, seed {}{}",
        env!("CARGO_PKG_VERSION"),
        args.data.display(),
        args.training.epochs,
        args.training.seed,
        match (&args.init, args.freeze_backbone) {
            // The end-to-end modes keep their earlier provenance (and the
            // demo's exported model its bytes).
            (Some(dir), true) => format!(", head only on the frozen backbone of {}", dir.display()),
            _ => String::new(),
        }
    )
}
