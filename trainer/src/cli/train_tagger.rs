//! `matpac train-tagger DATA --out DIR`: the DS-CNN student with a sigmoid
//! head on labelled clips, per-class thresholds chosen on a group-disjoint
//! validation part of the training side; saves a student checkpoint. With
//! `--init S --freeze-backbone` only the head is trained, on frozen embeddings
//! of the student `S`.

use super::student_args::StudentTraining;
use crate::data::dataset::Dataset;
use crate::data::readers;
use crate::device::DeviceArgs;
use crate::edge::augment::{AugmentConfig, ClipPool, draw_epoch};
use crate::edge::checkpoint::{self, StudentInfo, save};
use crate::edge::features::FeatureStats;
use crate::edge::pipeline::{SplitWindows, standardise};
use crate::edge::scene_thresholds::{Choice, DEFAULT_VAL_SCENES, tune_on_validation_scenes};
use crate::edge::student::{Student, StudentConfig};
use crate::edge::tagger_head::{
    EpochReport, LabelledWindows, THRESHOLD_RANGE, TaggerTrainConfig, TrainWindows,
    choose_thresholds, fine_tune, micro_f1, scores, top1, train, train_head, with_new_head,
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
    report_split(&ds, &split, &student);
    let tc = TaggerTrainConfig {
        epochs: args.training.epochs,
        batch: args.training.batch,
        lr: args.training.lr,
        seed: args.training.seed,
        freeze_backbone: args.freeze_backbone,
        ..Default::default()
    };
    let augmented = augmented_clips(&args, &ds, &split, &frontend, student.n_frames)?;
    let windows = train_windows(&augmented, &split, &frontend, student.n_frames, tc.seed);
    let [fit_w, val_w, test_w] = &split.windows;
    let (model, _) = match init {
        Some((model, _, _)) if tc.freeze_backbone => {
            train_head(model, &student, &tc, fit_w, val_w, &device, log_epoch)
        }
        Some((model, _, _)) => fine_tune(model, &student, &tc, windows, val_w, &device, log_epoch),
        None => train(&student, &tc, windows, val_w, &device, log_epoch),
    };
    let plain = device.inner();
    let val_s = scores(&model, &student, &val_w.x, &plain);
    let window_thresholds =
        choose_thresholds(&val_s, &val_w.y, (args.min_threshold, args.max_threshold));
    let scene_choice = scene_tuning(
        &args,
        &model,
        &student,
        &split,
        &ds,
        &frontend,
        &window_thresholds,
        &plain,
    )?;
    let thresholds = scene_choice
        .as_ref()
        .map_or(window_thresholds, |c| c.thresholds.clone());
    let (val_top1, val_f1) = (
        top1(&val_s, &val_w.y),
        micro_f1(&val_s, &val_w.y, &thresholds),
    );
    println!("validation: top-1 {val_top1:.3}, micro-F1 {val_f1:.3} (thresholds chosen here)");
    let test = test_scores(&model, &student, test_w, &thresholds, &plain);
    let info = StudentInfo {
        student,
        features: split.stats,
        class_names: ds.labels.clone(),
        thresholds,
        tagger: scene_choice.as_ref().map(|c| c.tagger),
        provenance: provenance(&args, split.fit.len()),
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

/// Prints the split's clip and window counts and the student's size.
fn report_split(ds: &Dataset, split: &SplitWindows, student: &StudentConfig) {
    let [fit_w, val_w, test_w] = &split.windows;
    eprintln!(
        "{}: {} labels; clips fit {} / val {} / test {}; windows fit {} / val {} / test {}; features mean {:.3} std {:.3}",
        ds.name,
        ds.labels.len(),
        split.fit.len(),
        split.val.len(),
        split.test.len(),
        fit_w.x.len(),
        val_w.x.len(),
        test_w.x.len(),
        split.stats.mean,
        split.stats.std
    );
    eprintln!("{}", student.stats());
}

/// One line per epoch.
fn log_epoch(r: &EpochReport) {
    eprintln!(
        "epoch {:>3}: train loss {:.4}  val loss {:.4}",
        r.epoch, r.train_loss, r.val_loss
    )
}

/// The fitting clips to draw augmented windows from, with the settings
/// (`--augment-set` over the defaults); `None` with `--no-augment` or
/// `--freeze-backbone`.
fn augmented_clips(
    args: &Args,
    ds: &Dataset,
    split: &SplitWindows,
    frontend: &FrontendConfig,
    n_frames: usize,
) -> anyhow::Result<Option<(ClipPool, AugmentConfig)>> {
    if args.no_augment || args.freeze_backbone {
        return Ok(None);
    }
    let cfg = args
        .augment_set
        .iter()
        .try_fold(AugmentConfig::default(), |c, kv| c.set(kv))
        .map_err(anyhow::Error::msg)?;
    let pool = ClipPool::from_dataset(ds, &split.fit, frontend, n_frames, &cfg.speeds)?;
    eprintln!(
        "augmented: {} fresh windows per epoch from {} clips",
        cfg.windows_per_epoch,
        pool.len()
    );
    Ok(Some((pool, cfg)))
}

/// Fresh standardised windows each epoch from `augmented`, else the fixed
/// fitting windows.
fn train_windows<'a>(
    augmented: &'a Option<(ClipPool, AugmentConfig)>,
    split: &'a SplitWindows,
    frontend: &'a FrontendConfig,
    n_frames: usize,
    seed: u64,
) -> TrainWindows<'a> {
    match augmented {
        Some((pool, cfg)) => TrainWindows::Drawn {
            n: cfg.windows_per_epoch,
            draw: Box::new(move |epoch| {
                let mut w = draw_epoch(pool, cfg, frontend, n_frames, seed, epoch)
                    .expect("the front end accepted this configuration above");
                standardise(&mut w, &split.stats);
                w
            }),
        },
        None => TrainWindows::Fixed(&split.windows[0]),
    }
}

/// Thresholds, smoothing and top-k chosen on `--val-scenes` validation
/// scenes; `None` when there are none or no held-out clips.
#[allow(clippy::too_many_arguments)]
fn scene_tuning(
    args: &Args,
    model: &Student,
    student: &StudentConfig,
    split: &SplitWindows,
    ds: &Dataset,
    frontend: &FrontendConfig,
    fallback: &[f32],
    device: &Device,
) -> anyhow::Result<Option<Choice>> {
    if args.val_scenes == 0 || !split.has_held_out() {
        return Ok(None);
    }
    let choice = tune_on_validation_scenes(
        model,
        student,
        &split.stats,
        frontend,
        ds,
        &split.val,
        args.val_scenes,
        args.training.seed,
        fallback,
        (args.min_threshold, args.max_threshold),
        device,
    )?;
    eprintln!(
        "validation scenes ({}): event F1 {:.3} with smoothing {}, top-k {} and per-class thresholds {:?}",
        args.val_scenes,
        choice.metrics.event.f1(),
        choice.tagger.smoothing_windows,
        choice.tagger.top_k,
        choice.thresholds
    );
    Ok(Some(choice))
}

/// Top-1, micro-F1 and the window count on the test windows, printed; `None`
/// without test clips.
fn test_scores(
    model: &Student,
    student: &StudentConfig,
    test_w: &LabelledWindows,
    thresholds: &[f32],
    device: &Device,
) -> Option<(f64, f64, usize)> {
    if test_w.x.is_empty() {
        return None;
    }
    let s = scores(model, student, &test_w.x, device);
    let r = (
        top1(&s, &test_w.y),
        micro_f1(&s, &test_w.y, thresholds),
        s.len(),
    );
    println!(
        "test: top-1 {:.3}, micro-F1 {:.3} ({} windows)",
        r.0, r.1, r.2
    );
    Some(r)
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
