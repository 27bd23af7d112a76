//! `matpac embed --checkpoint RUN_DIR --data DIR_OR_CSV --out EMB.npy`: clip
//! embeddings of the pretrained student encoder (as `docs/architecture.md`,
//! "Clip embedding", defines them), one row per clip in input order; the clip
//! paths go to `EMB.paths.txt`. The features come from the float front end the
//! checkpoint records.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::audio::load_audio;
use crate::frontend::FloatFrontend;
use crate::io::{atomic_write, read_records, write_npy_f32};
use crate::matpac::checkpoint;
use crate::matpac::run::checkpoint_path;

use super::pretrain::audio_files;

/// Arguments of `matpac embed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run folder of `matpac pretrain` (or its checkpoint file).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Folder of audio (recursive, sorted), or a CSV whose first column is a clip path
    /// (relative to the CSV's folder or its `audio/` sibling, as ESC-50); a header row
    /// whose first field is not a file is skipped.
    #[arg(long)]
    pub data: PathBuf,
    /// Output `.npy`, f32 `[clips, n_freq_patches × width]`.
    #[arg(long)]
    pub out: PathBuf,
    /// Where the encoder runs.
    #[command(flatten)]
    pub device: crate::device::DeviceArgs,
}

/// Clip paths of a folder or a CSV.
pub fn clip_list(data: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if data.is_dir() {
        return audio_files(data);
    }
    let mut reader = csv::ReaderBuilder::new();
    reader
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All);
    let records =
        read_records(data, &reader).with_context(|| format!("reading {}", data.display()))?;
    let base = data.parent().unwrap_or(Path::new("."));
    let resolve = |name: &str| -> Option<PathBuf> {
        let p = Path::new(name);
        [
            p.to_path_buf(),
            base.join(p),
            base.join("audio").join(p),
            base.join("../audio").join(p),
        ]
        .into_iter()
        .find(|c| c.is_file())
    };
    let mut out = Vec::new();
    for (i, (line, record)) in records.iter().enumerate() {
        let first = record.get(0).unwrap_or_default();
        match resolve(first) {
            Some(p) => out.push(p),
            None if i == 0 => continue, // header
            None => bail!("{}:{line}: no audio file `{first}`", data.display()),
        }
    }
    Ok(out)
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let ckpt = if args.checkpoint.is_dir() {
        checkpoint_path(&args.checkpoint)
    } else {
        args.checkpoint.clone()
    };
    let trainer = checkpoint::load(&ckpt, &args.device.device()?)?;
    // The features the checkpoint was trained on (n_fft 512 if it predates the record).
    let fe = trainer.cfg.frontend;
    let frontend = FloatFrontend::new(&fe)?;
    let clips = clip_list(&args.data)?;
    if clips.is_empty() {
        bail!("no clips in {}", args.data.display());
    }
    let mut rows = Vec::new();
    let mut width = 0;
    for path in &clips {
        let samples = load_audio(path, fe.sample_rate)
            .with_context(|| format!("decoding {}", path.display()))?;
        let mel = frontend.log_mel(&samples);
        let (t, m) = (mel.n_frames, mel.n_mels);
        if t == 0 {
            bail!("{}: shorter than one frame", path.display());
        }
        let e = trainer.embed_clip(&mel.mel_major(), m, t);
        width = e.len();
        rows.extend(e);
    }
    write_npy_f32(&args.out, &[clips.len(), width], &rows)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let list = args.out.with_extension("paths.txt");
    let names: String = clips.iter().map(|p| format!("{}\n", p.display())).collect();
    atomic_write(&list, |w| w.write_all(names.as_bytes()))
        .with_context(|| format!("writing {}", list.display()))?;
    eprintln!(
        "{} clips × {width} → {} (paths: {})",
        clips.len(),
        args.out.display(),
        list.display()
    );
    Ok(())
}
