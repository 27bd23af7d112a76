//! The training loop: updates, metrics, checkpoints, progress bar.

use std::path::{Path, PathBuf};

use super::MatpacError;
use super::checkpoint;
use super::metrics::{MetricsCsv, plot};
use super::train::{BatchSource, StepStats, Trainer};

/// File names inside a run folder.
pub const CHECKPOINT: &str = "checkpoint.mpk";
/// Metrics CSV.
pub const METRICS_CSV: &str = "metrics.csv";
/// Loss plot.
pub const METRICS_PNG: &str = "metrics.png";
/// The run's configuration, for reading (the checkpoint holds its own copy).
pub const CONFIG_TOML: &str = "config.toml";

/// Where and how long to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run folder (checkpoint, metrics, config).
    pub out_dir: PathBuf,
    /// Stop once this many updates are done in total (default: `total_steps`).
    pub until_step: Option<u64>,
    /// Show a progress bar.
    pub progress: bool,
}

/// Path of the checkpoint of a run folder.
pub fn checkpoint_path(run_dir: &Path) -> PathBuf {
    run_dir.join(CHECKPOINT)
}

/// Writes the run's readable `config.toml` into `dir`.
fn write_config(trainer: &Trainer, dir: &Path) -> Result<(), MatpacError> {
    checkpoint::write_atomic(&dir.join(CONFIG_TOML), trainer.cfg.to_toml().as_bytes())
}

/// Writes `trainer` as a run folder (`config.toml` and the checkpoint) that
/// every command taking a run folder accepts.
pub fn save_run(trainer: &Trainer, dir: &Path) -> Result<(), MatpacError> {
    write_config(trainer, dir)?;
    checkpoint::save(trainer, &checkpoint_path(dir))
}

/// Runs updates until `until_step` (or `total_steps`), writing a metrics row every
/// `log_every` updates, a checkpoint every `checkpoint_every` updates and at the end,
/// and the PNG at the end. A non-finite loss or gradient stops the run with
/// [`MatpacError::NonFinite`] before that update is applied; the checkpoint on disk
/// is the last good one.
pub fn run(
    trainer: &mut Trainer,
    source: &mut dyn BatchSource,
    opts: &RunOptions,
) -> Result<Vec<StepStats>, MatpacError> {
    let dir = &opts.out_dir;
    std::fs::create_dir_all(dir).map_err(|source| MatpacError::Io {
        path: dir.clone(),
        source,
    })?;
    write_config(trainer, dir)?;
    let end = opts
        .until_step
        .unwrap_or(trainer.cfg.train.total_steps)
        .min(trainer.cfg.train.total_steps);
    let mut csv = MetricsCsv::open(&dir.join(METRICS_CSV), trainer.step)?;
    let bar = crate::progress::bar(
        end,
        opts.progress,
        "{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
    );
    bar.set_position(trainer.step);
    let (every_log, every_ckpt) = (
        trainer.cfg.train.log_every,
        trainer.cfg.train.checkpoint_every,
    );
    let batch = trainer.cfg.train.batch_size as f64;
    let mut out = Vec::new();
    while trainer.step < end {
        let s = trainer.step_from(source)?;
        bar.set_message(format!(
            "loss {:.4} (pred {:.4}, cls {:.4}) lr {:.2e} H {:.2} {:.1} clips/s",
            s.loss,
            s.loss_pred,
            s.loss_cls,
            s.lr,
            s.teacher_entropy,
            batch / s.seconds.max(1e-9)
        ));
        bar.inc(1);
        if s.step % every_log == 0 || trainer.step == end {
            csv.append(&s)?;
        }
        if trainer.step.is_multiple_of(every_ckpt) && trainer.step < end {
            checkpoint::save(trainer, &checkpoint_path(dir))?;
        }
        out.push(s);
    }
    checkpoint::save(trainer, &checkpoint_path(dir))?;
    bar.finish();
    if let Err(e) = plot(&dir.join(METRICS_CSV), &dir.join(METRICS_PNG)) {
        eprintln!(
            "warning: could not draw {}: {e}",
            dir.join(METRICS_PNG).display()
        );
    }
    Ok(out)
}
