//! `matpac pretrain --data DIR --preset tiny|small|paper --out RUN_DIR [--steps N] [--resume] [--config FILE] [--set KEY=VALUE]…`

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use matpac_runtime::frontend::FrontendConfig;

use crate::audio::load_audio;
use crate::data::feature_cache::{CropSource, FeatureCache, Features};
use crate::device::DeviceArgs;
use crate::frontend::FloatFrontend;
use crate::io::atomic_write;
use crate::matpac::checkpoint;
use crate::matpac::run::{RunOptions, checkpoint_path, run as run_loop};
use crate::matpac::{MatpacConfig, Preset, Trainer};

/// Arguments of `matpac pretrain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder of unlabelled audio (searched recursively; WAV, FLAC, OGG; any rate).
    #[arg(long)]
    pub data: PathBuf,
    /// Hyper-parameter preset.
    #[arg(long, value_enum, default_value = "small")]
    pub preset: Preset,
    /// Run folder: checkpoint.mpk, metrics.csv, metrics.png, config.toml, skipped.txt.
    #[arg(long)]
    pub out: PathBuf,
    /// Stop after this many updates in total (default: the configuration's total_steps;
    /// the schedules always span total_steps).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Continue from RUN_DIR/checkpoint.mpk (its configuration wins over the flags).
    #[arg(long)]
    pub resume: bool,
    /// TOML file overriding any part of the preset (`[model]`, `[train]`, `[frontend]` tables).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one hyper-parameter, e.g. `--set lambda=0 --set train.batch_size=32
    /// --set frontend.n_fft=400`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Feature cache folder (default: ~/.cache/matpac-edge).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Where to train.
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Audio files under `dir`, sorted.
pub fn audio_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    crate::data::readers::walk_audio(dir, &mut out)
        .with_context(|| format!("listing {}", dir.display()))?;
    out.sort();
    Ok(out)
}

/// Default feature cache folder.
pub fn default_cache() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".matpac-cache"),
        |h| PathBuf::from(h).join(".cache/matpac-edge"),
    )
}

/// Loads (or computes and caches) the features of every file of `data`.
pub fn load_features(
    data: &Path,
    cache: Option<PathBuf>,
    fe: &FrontendConfig,
) -> anyhow::Result<FeatureCache> {
    let files = audio_files(data)?;
    if files.is_empty() {
        bail!("no WAV/FLAC/OGG files under {}", data.display());
    }
    let frontend = FloatFrontend::new(fe)?;
    let id = toml::to_string(fe).context("front-end configuration")?;
    let extract = |p: &Path| -> Result<Features, String> {
        let samples = load_audio(p, fe.sample_rate).map_err(|e| e.to_string())?;
        let m = frontend.log_mel(&samples);
        Ok(Features {
            n_frames: m.n_frames,
            n_mels: m.n_mels,
            data: m.data,
        })
    };
    let cache = FeatureCache::build(
        &files,
        &id,
        fe.n_mels,
        &cache.unwrap_or_else(default_cache),
        extract,
    )?;
    eprintln!(
        "features: {} clips ({} decoded now, {} from {}), {} skipped; mean {:.3}, std {:.3}",
        cache.clips.len(),
        cache.computed,
        cache.clips.len() - cache.computed,
        cache.dir.display(),
        cache.failed.len(),
        cache.mean,
        cache.std
    );
    Ok(cache)
}

/// The configuration of a new run: the preset, then `--config`, then the data
/// set's statistics (`data_stats`, mean and std), then the `--set` overrides.
fn new_config(args: &Args, data_stats: Option<(f32, f32)>) -> anyhow::Result<MatpacConfig> {
    let mut cfg = MatpacConfig::preset(args.preset);
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        cfg = cfg.apply_toml(&text)?;
    }
    if let Some((mean, std)) = data_stats {
        cfg.model.input_mean = mean;
        cfg.model.input_std = std;
    }
    for o in &args.overrides {
        cfg = cfg.set(o)?;
    }
    Ok(cfg)
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ckpt = checkpoint_path(&args.out);
    let resume = args.resume && ckpt.exists();
    if !args.resume && ckpt.exists() {
        bail!(
            "{} exists: pass --resume to continue it, or choose another --out",
            ckpt.display()
        );
    }
    // The run's front end: the checkpoint's when resuming, else the configuration's.
    let fe = if resume {
        checkpoint::load_config(&ckpt)?.frontend
    } else {
        new_config(&args, None)?.frontend
    };
    let cache = load_features(&args.data, args.cache.clone(), &fe)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    if !cache.failed.is_empty() {
        let report = args.out.join("skipped.txt");
        atomic_write(&report, |w| w.write_all(cache.failure_report().as_bytes()))
            .with_context(|| format!("writing {}", report.display()))?;
        eprintln!(
            "skipped {} unreadable file(s): see {}",
            cache.failed.len(),
            report.display()
        );
    }
    let device = args.device.device()?.autodiff();
    let mut trainer = if resume {
        let t = checkpoint::load(&ckpt, &device)?;
        eprintln!("resuming {} at update {}", ckpt.display(), t.step);
        t
    } else {
        if args.resume {
            eprintln!("no checkpoint at {}: starting a new run", ckpt.display());
        }
        Trainer::new(new_config(&args, Some((cache.mean, cache.std)))?, &device)?
    };
    debug_assert_eq!(trainer.cfg.frontend, fe);
    eprintln!(
        "pretraining: encoder {}×{}, predictor {}×{}, K {}, batch {}, peak lr {:.3e} (= {} × {}/{}), {} updates, n_fft {}",
        trainer.cfg.model.encoder_depth,
        trainer.cfg.model.encoder_dim,
        trainer.cfg.model.predictor_depth,
        trainer.cfg.model.predictor_dim,
        trainer.cfg.model.n_classes,
        trainer.cfg.train.batch_size,
        trainer.cfg.peak_lr(),
        trainer.cfg.train.base_lr,
        trainer.cfg.train.batch_size,
        trainer.cfg.train.base_batch_size,
        trainer.cfg.train.total_steps,
        fe.n_fft
    );
    let fill = fe.log_eps.ln();
    let next = trainer.step * trainer.cfg.train.batch_size as u64;
    let mut source = CropSource::new(&cache, fill, trainer.cfg.train.seed, next);
    let opts = RunOptions {
        out_dir: args.out.clone(),
        until_step: args.steps,
        progress: !args.quiet,
    };
    let stats = run_loop(&mut trainer, &mut source, &opts)?;
    if let Some(last) = stats.last() {
        eprintln!(
            "update {}: loss {:.4} (pred {:.4}, cls {:.4}); checkpoint {}",
            last.step + 1,
            last.loss,
            last.loss_pred,
            last.loss_cls,
            ckpt.display()
        );
    }
    Ok(())
}
