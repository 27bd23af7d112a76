//! Clip embeddings of a frozen encoder (a trained checkpoint or a random
//! initialisation), cached on disk.
//!
//! The embedding is the pretraining code's own ([`Trainer::embed_clip`],
//! defined in `docs/architecture.md`, "Clip embedding") on the float log-mel
//! front end the encoder's configuration records (`[frontend]`, e.g. n_fft 400
//! for `paper`); this module only decodes clips, transposes the log-mel to
//! `[n_mels, n_frames]` and caches.
//! Cache key: the encoder (hash of the checkpoint file's bytes, or the random
//! initialisation's configuration and seed), the front-end configuration, and
//! every clip's path, size and modification time; a changed clip or checkpoint
//! gives a new entry. Entries: `DIR/emb-<key>.npy` (`[clips, width]`, written
//! atomically) and `DIR/emb-<key>.paths.txt`.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use burn::tensor::Device;
use matpac_runtime::frontend::FrontendConfig;
use rayon::prelude::*;

use super::EvalError;
use crate::audio::load_audio;
use crate::data::splits::fnv1a;
use crate::frontend::{FloatFrontend, LogMel};
use crate::io::{atomic_write, read_npy_f32, write_npy_f32};
use crate::matpac::run::checkpoint_path;
use crate::matpac::{MatpacConfig, Trainer, checkpoint};

/// Clips decoded at once (in parallel) before they are embedded one by one.
const DECODE_CHUNK: usize = 64;

/// What computes a [`ClipEncoder`]'s embedding.
enum Kind {
    /// A MATPAC encoder (checkpoint or random initialisation).
    Matpac(Box<Trainer>),
    /// No encoder: per-band mean, standard deviation and maximum of the
    /// log-mel over the clip (`[3 · mels]`), the baseline every learned
    /// representation must beat.
    LogMelStats(Box<MatpacConfig>),
}

/// A frozen encoder that turns a log-mel into a clip embedding.
pub struct ClipEncoder {
    kind: Kind,
    /// Identity for the cache key.
    pub id: String,
    /// Human-readable description (checkpoint path or `random init (preset …)`).
    pub description: String,
}

impl ClipEncoder {
    /// The student encoder of a run folder (or a checkpoint file), on `device`.
    pub fn from_checkpoint(path: &Path, device: &Device) -> Result<Self, EvalError> {
        let file = if path.is_dir() {
            checkpoint_path(path)
        } else {
            path.to_path_buf()
        };
        let bytes = std::fs::read(&file).map_err(|source| EvalError::Io {
            path: file.clone(),
            source,
        })?;
        let trainer = checkpoint::load(&file, device)?;
        Ok(Self {
            id: format!("checkpoint:{:016x}:{}", fnv1a(&bytes), bytes.len()),
            description: format!("{} (update {})", file.display(), trainer.step),
            kind: Kind::Matpac(Box::new(trainer)),
        })
    }

    /// A randomly initialised encoder of configuration `cfg` (weights from
    /// `cfg.train.seed`), on `device`.
    pub fn random_init(cfg: MatpacConfig, device: &Device) -> Result<Self, EvalError> {
        let id = format!("random:{:016x}", fnv1a(cfg.to_toml().as_bytes()));
        let description = format!(
            "random init (D {}, depth {}, seed {})",
            cfg.model.encoder_dim, cfg.model.encoder_depth, cfg.train.seed
        );
        Ok(Self {
            kind: Kind::Matpac(Box::new(Trainer::new(cfg, device)?)),
            id,
            description,
        })
    }

    /// No encoder at all: per-band mean, standard deviation and maximum of the
    /// float log-mel of `cfg`'s front end (the same features the encoders see).
    pub fn log_mel_stats(cfg: MatpacConfig) -> Self {
        Self {
            id: format!(
                "log-mel-stats:{:016x}",
                fnv1a(
                    toml::to_string(&cfg.frontend)
                        .unwrap_or_default()
                        .as_bytes()
                )
            ),
            description: "no encoder: per-band mean, std and max of the log-mel".into(),
            kind: Kind::LogMelStats(Box::new(cfg)),
        }
    }

    /// The MATPAC model behind this encoder (`None` for the statistics baseline).
    pub fn matpac(&self) -> Option<&Trainer> {
        match &self.kind {
            Kind::Matpac(t) => Some(t),
            Kind::LogMelStats(_) => None,
        }
    }

    /// The encoder's configuration (for the statistics baseline: the one
    /// whose front end it uses).
    pub fn config(&self) -> &MatpacConfig {
        match &self.kind {
            Kind::Matpac(t) => &t.cfg,
            Kind::LogMelStats(cfg) => cfg,
        }
    }

    /// The float front end that makes this encoder's input: the one its
    /// checkpoint (or random initialisation's configuration) records.
    pub fn frontend(&self) -> &FrontendConfig {
        &self.config().frontend
    }

    /// Clip embedding of a log-mel (`[n_frames, n_mels]`, the front end's layout).
    pub fn embed(&self, mel: &LogMel) -> Vec<f32> {
        let trainer = match &self.kind {
            Kind::Matpac(t) => t,
            Kind::LogMelStats(_) => return band_statistics(mel),
        };
        trainer.embed_clip(&mel.mel_major(), mel.n_mels, mel.n_frames)
    }
}

/// Per-band mean, standard deviation and maximum over the frames of `mel`,
/// `[3 · n_mels]` (means, then stds, then maxima).
pub fn band_statistics(mel: &LogMel) -> Vec<f32> {
    let m = mel.n_mels;
    let n = mel.n_frames.max(1) as f64;
    let (mut sum, mut sq, mut max) = (vec![0f64; m], vec![0f64; m], vec![f32::MIN; m]);
    for row in mel.data.chunks_exact(m) {
        for (j, &v) in row.iter().enumerate() {
            sum[j] += f64::from(v);
            sq[j] += f64::from(v) * f64::from(v);
            max[j] = max[j].max(v);
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(s, mu)| (s / n - mu * mu).max(0.0).sqrt() as f32);
    mean.iter()
        .map(|&v| v as f32)
        .chain(std)
        .chain(max)
        .collect()
}

/// Embeddings of a list of clips, `[n, width]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Values.
    pub data: Vec<f32>,
    /// Width of one embedding.
    pub width: usize,
    /// Whether they came from the cache.
    pub from_cache: bool,
    /// Cache file (if caching).
    pub file: Option<PathBuf>,
}

/// Default cache folder: `$HOME/.cache/matpac-edge/embeddings`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".matpac-cache/embeddings"),
        |h| PathBuf::from(h).join(".cache/matpac-edge/embeddings"),
    )
}

/// Cache key of `encoder_id` on `clips` with front end `fe`.
pub fn cache_key(encoder_id: &str, fe: &FrontendConfig, clips: &[PathBuf]) -> u64 {
    let mut text = format!(
        "{encoder_id}\n{}\n",
        toml::to_string(fe).unwrap_or_default()
    );
    for p in clips {
        let (size, mtime) = std::fs::metadata(p).map_or((0, 0), |m| {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            (m.len(), t)
        });
        text.push_str(&format!("{}\t{size}\t{mtime}\n", p.display()));
    }
    fnv1a(text.as_bytes())
}

/// Embeds `clips` (or reads them from `cache`), one row per clip in order.
pub fn embed_clips(
    encoder: &ClipEncoder,
    clips: &[PathBuf],
    cache: Option<&Path>,
    progress: bool,
) -> Result<Embeddings, EvalError> {
    let fe = *encoder.frontend();
    let file = cache.map(|dir| {
        dir.join(format!(
            "emb-{:016x}.npy",
            cache_key(&encoder.id, &fe, clips)
        ))
    });
    if let Some(f) = file.as_ref().filter(|f| f.is_file())
        && let Ok((shape, data)) = read_npy_f32(f)
        && shape.len() == 2
        && shape[0] == clips.len()
    {
        return Ok(Embeddings {
            data,
            width: shape[1],
            from_cache: true,
            file,
        });
    }
    let frontend = FloatFrontend::new(&fe)?;
    let bar = crate::progress::bar(
        clips.len() as u64,
        progress,
        "embedding {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}]",
    );
    let mut data = Vec::new();
    let mut width = 0;
    for chunk in clips.chunks(DECODE_CHUNK) {
        let mels: Vec<Result<LogMel, EvalError>> = chunk
            .par_iter()
            .map(|p| {
                let samples = load_audio(p, fe.sample_rate)?;
                let mel = frontend.log_mel(&samples);
                if mel.n_frames == 0 {
                    return Err(EvalError::TooShort(p.clone()));
                }
                Ok(mel)
            })
            .collect();
        for mel in mels {
            let e = encoder.embed(&mel?);
            width = e.len();
            data.extend(e);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    if let Some(f) = &file {
        let io = |source| EvalError::Io {
            path: f.clone(),
            source,
        };
        write_npy_f32(f, &[clips.len(), width], &data).map_err(io)?;
        let list: String = clips.iter().map(|p| format!("{}\n", p.display())).collect();
        atomic_write(&f.with_extension("paths.txt"), |w| {
            std::io::Write::write_all(w, list.as_bytes())
        })
        .map_err(io)?;
    }
    Ok(Embeddings {
        data,
        width,
        from_cache: false,
        file,
    })
}
