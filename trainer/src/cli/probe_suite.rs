//! `matpac probe-suite [--matpac RUN_DIR] [--matpac-plus-plus RUN_DIR] [--lambda0 RUN_DIR] [--corpora DIR] [--data D]…`:
//! the linear probe on every available task, for each encoder given plus two
//! baselines, the random-init encoder (the MATPAC checkpoint's architecture)
//! and no encoder at all (per-band log-mel statistics), as one markdown
//! table. Tasks: the bundled set, every `DIR/*/manifest.csv` under `--corpora`,
//! and each `--data`.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::probe::{ProbeOptions, probe_data, random_encoder, write_reports};
use crate::eval::embed::ClipEncoder;
use crate::eval::report::{Cell, markdown_table};
use crate::io::atomic_write;
use crate::matpac::{MatpacConfig, Preset};

/// Arguments of `matpac probe-suite`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// MATPAC run folder (λ > 0).
    #[arg(long)]
    pub matpac: Option<PathBuf>,
    /// MATPAC++ run folder (`[mcl]` hypotheses), for a column beside MATPAC's.
    #[arg(long)]
    pub matpac_plus_plus: Option<PathBuf>,
    /// The λ = 0 run folder (latent prediction only), same architecture.
    #[arg(long)]
    pub lambda0: Option<PathBuf>,
    /// Architecture of the random encoder when no --matpac/--lambda0 is given.
    #[arg(long, value_enum, default_value = "small")]
    pub preset: Preset,
    /// Seed of the random encoder's weights.
    #[arg(long, default_value_t = 0)]
    pub init_seed: u64,
    /// The bundled data set (default: data/bundled of this repository).
    #[arg(long)]
    pub bundled: Option<PathBuf>,
    /// Folder of corpora built by tools/corpora (each `*/manifest.csv` is a task).
    #[arg(long)]
    pub corpora: Option<PathBuf>,
    /// More data sets (any layout `matpac probe` reads).
    #[arg(long)]
    pub data: Vec<PathBuf>,
    /// Folder for the results CSV, confusion matrices and `probe_suite.md`.
    #[arg(long, default_value = "runs/probe-suite")]
    pub out: PathBuf,
    /// Probe settings.
    #[command(flatten)]
    pub opts: ProbeOptions,
}

/// The bundled data set: `data/bundled` under the working folder, else the repository's.
pub fn default_bundled() -> PathBuf {
    let here = PathBuf::from("data/bundled");
    if here.join("manifest.csv").is_file() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/bundled")
    }
}

/// The tasks of a suite run, in table order.
pub fn tasks(
    bundled: &Path,
    corpora: Option<&Path>,
    extra: &[PathBuf],
) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if bundled.join("manifest.csv").is_file() || bundled.is_file() {
        out.push(bundled.to_path_buf());
    } else {
        eprintln!("warning: no bundled data set at {}", bundled.display());
    }
    if let Some(dir) = corpora {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("manifest.csv").is_file())
            .collect();
        found.sort();
        if found.is_empty() {
            bail!("{}: no */manifest.csv", dir.display());
        }
        out.extend(found);
    }
    out.extend(extra.iter().cloned());
    Ok(out)
}

/// Runs the command; returns the markdown table it wrote.
pub fn run(args: Args) -> anyhow::Result<String> {
    let device = args.opts.device.device()?;
    let mut encoders: Vec<(String, String, ClipEncoder)> = Vec::new();
    for (title, tag, run) in [
        ("MATPAC", "matpac", &args.matpac),
        ("MATPAC++", "matpac-plus-plus", &args.matpac_plus_plus),
        ("λ = 0", "lambda0", &args.lambda0),
    ] {
        if let Some(dir) = run {
            let encoder = ClipEncoder::from_checkpoint(dir, &device)?;
            encoders.push((title.into(), tag.into(), encoder));
        }
    }
    let cfg = encoders.first().map_or_else(
        || MatpacConfig::preset(args.preset),
        |e| e.2.config().clone(),
    );
    encoders.push((
        "random init".into(),
        "random-init".into(),
        random_encoder(cfg.clone(), args.init_seed, args.opts.device)?,
    ));
    // The yardstick: the same probe on plain log-mel statistics.
    encoders.push((
        "log-mel stats (no encoder)".into(),
        "log-mel-stats".into(),
        ClipEncoder::log_mel_stats(cfg),
    ));
    let bundled = args.bundled.clone().unwrap_or_else(default_bundled);
    let tasks = tasks(&bundled, args.corpora.as_deref(), &args.data)?;
    if tasks.is_empty() {
        bail!("no tasks: give --bundled, --corpora or --data");
    }
    std::fs::create_dir_all(&args.out)?;
    let results = args.out.join("probe_results.csv");
    let mut rows = Vec::new();
    for task in &tasks {
        let mut cells = Vec::new();
        let mut name = task.display().to_string();
        let mut split_desc = String::new();
        for (_, tag, enc) in &encoders {
            match probe_data(enc, task, &args.opts) {
                Ok((ds, out)) => {
                    name = ds.name.clone();
                    split_desc = match out.splits.len() {
                        1 => format!("{} (given)", out.splits.len()),
                        k => format!("{k} folds"),
                    };
                    let png = args.out.join(format!("confusion_{}_{tag}.png", ds.name));
                    write_reports(&ds, task, enc, &out, &results, &png)?;
                    println!("{} / {}: {}", ds.name, enc.description, out.summary());
                    cells.push(Some(Cell {
                        accuracies: out.accuracies(),
                        maps: out.maps(),
                    }));
                }
                Err(e) => {
                    eprintln!("warning: {}: {e:#}", task.display());
                    cells.push(None);
                }
            }
        }
        rows.push((name, split_desc, cells));
    }
    let titles: Vec<String> = encoders.iter().map(|e| e.0.clone()).collect();
    let mut md = String::from(
        "Linear-probe test accuracy, % (mean ± std over splits; mAP for multi-label tasks).\n\n",
    );
    md.push_str(&markdown_table(&titles, &rows));
    md.push('\n');
    for (title, _, enc) in &encoders {
        md.push_str(&format!("- {title}: {}\n", enc.description));
    }
    let file = args.out.join("probe_suite.md");
    atomic_write(&file, |w| std::io::Write::write_all(w, md.as_bytes()))?;
    println!("\n{md}");
    eprintln!("table → {}", file.display());
    Ok(md)
}
