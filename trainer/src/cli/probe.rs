//! `matpac probe (--checkpoint RUN_DIR | --random-init [--preset P]) --data D`:
//! linear probe on frozen clip embeddings over the data set's splits (given
//! split column, folds, or group folds). Prints one line per split and, last,
//! `accuracy MEAN ± STD over K splits`; appends a row to the results CSV and
//! draws the confusion matrix (summed over splits).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::data::dataset::Dataset;
use crate::data::{readers, splits};
use crate::device::DeviceArgs;
use crate::eval::embed::{ClipEncoder, default_cache_dir, embed_clips};
use crate::eval::probe::{ProbeConfig, Task};
use crate::eval::report::{ResultRow, append_result, confusion_png};
use crate::eval::run::{ProbeOutcome, probe_dataset};
use crate::matpac::{MatpacConfig, Preset};

/// Probe settings shared by `probe` and `probe-suite`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeOptions {
    /// Use K group folds instead of the data set's own split or folds.
    #[arg(long, value_name = "K")]
    pub folds: Option<usize>,
    /// Seed of the group folds (the splits' and those choosing the probe's L2 strength).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Embedding cache folder (default: ~/.cache/matpac-edge/embeddings).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Where the encoder runs.
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl Default for ProbeOptions {
    /// The command line's defaults (parsed from an empty command line, so they cannot drift).
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            opts: ProbeOptions,
        }
        <Defaults as clap::Parser>::parse_from(["probe"]).opts
    }
}

impl ProbeOptions {
    /// The probe's training settings.
    pub fn probe_config(&self) -> ProbeConfig {
        ProbeConfig {
            seed: self.seed,
            ..ProbeConfig::default()
        }
    }
}

/// Arguments of `matpac probe`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("encoder").required(true).args(["checkpoint", "random_init"])))]
pub struct Args {
    /// Run folder of `matpac pretrain` (or its checkpoint file).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Probe a randomly initialised encoder (the baseline) instead.
    #[arg(long)]
    pub random_init: bool,
    /// Architecture of the random encoder.
    #[arg(long, value_enum, default_value = "small", requires = "random_init")]
    pub preset: Preset,
    /// Seed of the random encoder's weights.
    #[arg(long, default_value_t = 0, requires = "random_init")]
    pub init_seed: u64,
    /// Data set: a CSV (`path,label[;label…][,split][,group][,fold]`), a folder
    /// with `manifest.csv`, an ESC-50 or UrbanSound8K folder, or a folder per class.
    #[arg(long)]
    pub data: PathBuf,
    /// Results CSV to append to (default: RUN_DIR/probe_results.csv, or
    /// runs/random-init/probe_results.csv with --random-init).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Confusion-matrix PNG (default: beside the results CSV).
    #[arg(long)]
    pub confusion: Option<PathBuf>,
    /// Probe settings.
    #[command(flatten)]
    pub opts: ProbeOptions,
}

/// A random encoder of `cfg` with weights from `seed`, on `device`.
pub fn random_encoder(
    mut cfg: MatpacConfig,
    seed: u64,
    device: DeviceArgs,
) -> anyhow::Result<ClipEncoder> {
    cfg.train.seed = seed;
    Ok(ClipEncoder::random_init(cfg, &device.device()?)?)
}

/// Reads `data`, embeds it with `encoder` (cached) and probes it. Prints one line per split.
pub fn probe_data(
    encoder: &ClipEncoder,
    data: &Path,
    opts: &ProbeOptions,
) -> anyhow::Result<(Dataset, ProbeOutcome)> {
    let ds = readers::open(data)?;
    let plan = splits::plan(&ds, opts.folds, opts.seed)?;
    let cache = (!opts.no_cache).then(|| opts.cache.clone().unwrap_or_else(default_cache_dir));
    eprintln!(
        "{}: {} clips, {} labels{}, {} split(s); encoder {}",
        ds.name,
        ds.clips.len(),
        ds.labels.len(),
        if ds.is_multi_label() {
            " (multi-label)"
        } else {
            ""
        },
        plan.len(),
        encoder.description
    );
    let emb = embed_clips(encoder, &ds.paths(), cache.as_deref(), !opts.quiet)
        .with_context(|| format!("embedding {}", data.display()))?;
    if emb.from_cache
        && let Some(f) = &emb.file
    {
        eprintln!("embeddings from cache {}", f.display());
    }
    let out = probe_dataset(&ds, &emb.data, emb.width, &plan, &opts.probe_config())?;
    for s in &out.splits {
        let map = s.map.map_or_else(String::new, |m| format!(", mAP {m:.4}"));
        println!(
            "{}: accuracy {:.2} %{map} (fit {}, test {}; L2 {:.0e} chosen on {} group folds)",
            s.name,
            100.0 * s.accuracy,
            s.n_fit,
            s.n_test,
            s.l2,
            s.n_folds
        );
    }
    Ok((ds, out))
}

/// Appends the results row and draws the confusion matrix.
pub fn write_reports(
    ds: &Dataset,
    data: &Path,
    encoder: &ClipEncoder,
    out: &ProbeOutcome,
    results: &Path,
    confusion: &Path,
) -> anyhow::Result<()> {
    let row = ResultRow {
        data: data.display().to_string(),
        encoder: encoder.description.clone(),
        encoder_id: encoder.id.clone(),
        task: match out.task {
            Task::SingleLabel => "single-label".into(),
            Task::MultiLabel => "multi-label".into(),
        },
        clips: ds.clips.len(),
        classes: ds.labels.len(),
        accuracies: out.accuracies(),
        maps: out.maps(),
    };
    append_result(results, &row)?;
    let title = format!("{} — {}", ds.name, encoder.description);
    if !confusion_png(confusion, &ds.labels, &out.confusion, &title)? {
        eprintln!("warning: no usable font; the confusion matrix has no labels");
    }
    eprintln!(
        "results → {}, confusion matrix → {}",
        results.display(),
        confusion.display()
    );
    Ok(())
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (encoder, tag, default_dir) = match &args.checkpoint {
        Some(ckpt) => {
            let dir = if ckpt.is_dir() {
                ckpt.clone()
            } else {
                ckpt.parent().unwrap_or(Path::new(".")).to_path_buf()
            };
            let tag = dir
                .file_name()
                .map_or_else(|| "checkpoint".into(), |n| n.to_string_lossy().into_owned());
            let device = args.opts.device.device()?;
            (ClipEncoder::from_checkpoint(ckpt, &device)?, tag, dir)
        }
        None => (
            random_encoder(
                MatpacConfig::preset(args.preset),
                args.init_seed,
                args.opts.device,
            )?,
            "random-init".into(),
            PathBuf::from("runs/random-init"),
        ),
    };
    let (ds, out) = probe_data(&encoder, &args.data, &args.opts)?;
    let results = args
        .results
        .unwrap_or_else(|| default_dir.join("probe_results.csv"));
    let confusion = args.confusion.unwrap_or_else(|| {
        results
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("confusion_{}_{tag}.png", ds.name))
    });
    write_reports(&ds, &args.data, &encoder, &out, &results, &confusion)?;
    let maps = out.maps();
    if !maps.is_empty() {
        let (m, s) = crate::eval::probe::mean_std(&maps);
        println!("mAP {m:.4} ± {s:.4}");
    }
    println!("{}", out.summary());
    Ok(())
}
