//! Published MATPAC weights in: the reference implementation's encoder
//! state dict (`matpac_10_2048.pt` and its kin, `docs/published-weights.md`)
//! read without Python through Burn's PyTorch reader, checked tensor by
//! tensor, and turned into a [`Trainer`] whose student (and teacher) encoder
//! hold those weights, so every command that takes a run folder accepts it.
//!
//! The architecture is read off the shapes: width from `cls_token`, depth
//! from the block indices, patch side from the patch projection, crop length
//! from `pos_embed`, MLP ratio from the first block; heads default to
//! width / 64 as in the reference's ViT-B. The front end and normalisation
//! are the reference inference code's (the `paper` preset's). The predictor
//! and classification heads are not published: they keep a fresh
//! initialisation (the `paper` preset's shapes for a ViT-B, the `small`
//! preset's otherwise) and the run starts at update 0.

use std::collections::HashMap;
use std::path::Path;

use burn::store::pytorch_reader::{DType, PytorchReader, Tensor as TorchTensor};
use burn::tensor::Device;

use super::MatpacError;
use super::config::MatpacConfig;
use super::export::NamedTensor;
use super::state_dict::{POS_EMBED, REFERENCE_HEAD_DIM, expected_keys, load_encoder};
use super::train::Trainer;

/// State-dict prefixes the reference's inference wrapper may save beside the
/// encoder and that carry no weights of ours (its torchaudio front end).
const IGNORED_PREFIXES: &[&str] = &["log_mel."];

/// Largest difference allowed between the checkpoint's `pos_embed` and our
/// sin-cos table: both are the same f64 formula rounded to f32, so they
/// differ by a few f32 rounding steps at most.
const POS_EMBED_TOLERANCE: f32 = 1e-5;

/// The architecture a published state dict describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficialShape {
    /// Encoder width `D`.
    pub width: usize,
    /// Transformer blocks.
    pub depth: usize,
    /// Attention heads.
    pub heads: usize,
    /// MLP hidden width / `D`.
    pub mlp_ratio: usize,
    /// Patch side, frames and mel bands.
    pub patch: usize,
    /// Frames of one chunk (the training crop), a multiple of `patch`.
    pub n_frames: usize,
}

impl OfficialShape {
    /// The run configuration: the `paper` preset (front end, normalisation,
    /// schedule) with this encoder; the predictor and heads of `paper` for a
    /// ViT-B, of `small` otherwise.
    pub fn config(&self) -> MatpacConfig {
        let vit_b = self.width == 768 && self.depth == 12;
        let mut c = MatpacConfig::paper();
        if !vit_b {
            let small = MatpacConfig::small().model;
            c.model.predictor_dim = small.predictor_dim;
            c.model.predictor_depth = small.predictor_depth;
            c.model.predictor_heads = small.predictor_heads;
            c.model.head_hidden_dim = small.head_hidden_dim;
            c.model.head_bottleneck_dim = small.head_bottleneck_dim;
            c.model.n_classes = small.n_classes;
        }
        c.model.encoder_dim = self.width;
        c.model.encoder_depth = self.depth;
        c.model.encoder_heads = self.heads;
        c.model.mlp_ratio = self.mlp_ratio;
        c.model.patch_size = self.patch;
        c.model.n_frames = self.n_frames;
        c
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> MatpacError {
    MatpacError::Import {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn shape_of(
    tensors: &HashMap<String, TorchTensor>,
    key: &str,
    path: &Path,
) -> Result<Vec<usize>, MatpacError> {
    tensors.get(key).map(|t| t.shape().to_vec()).ok_or_else(|| {
        bad(
            path,
            format!(
                "missing key `{key}`: not a MATPAC encoder state dict (expected \
                 patch_embed.proj.*, cls_token, pos_embed, student_encoder.*)"
            ),
        )
    })
}

/// Reads the architecture off the tensor shapes (`n_mels` = 80, the reference
/// front end's); `heads` overrides width / 64.
pub fn infer_shape(
    tensors: &HashMap<String, TorchTensor>,
    heads: Option<usize>,
    path: &Path,
) -> Result<OfficialShape, MatpacError> {
    let n_mels = MatpacConfig::paper().model.n_mels;
    let width = match shape_of(tensors, "cls_token", path)?[..] {
        [1, 1, d] if d > 0 => d,
        ref s => {
            return Err(bad(
                path,
                format!("cls_token has shape {s:?}; expected [1, 1, width]"),
            ));
        }
    };
    let patch = match shape_of(tensors, "patch_embed.proj.weight", path)?[..] {
        [d, 1, p, q] if d == width && p == q && p > 0 && n_mels.is_multiple_of(p) => p,
        ref s => {
            return Err(bad(
                path,
                format!(
                    "patch_embed.proj.weight has shape {s:?}; expected [{width}, 1, p, p] \
                     with p dividing {n_mels}"
                ),
            ));
        }
    };
    let n_freq = n_mels / patch;
    let n_frames = match shape_of(tensors, POS_EMBED, path)?[..] {
        [1, l, d] if d == width && l > 1 && (l - 1).is_multiple_of(n_freq) => {
            (l - 1) / n_freq * patch
        }
        ref s => {
            return Err(bad(
                path,
                format!(
                    "pos_embed has shape {s:?}; expected [1, 1 + {n_freq}·time patches, {width}]"
                ),
            ));
        }
    };
    let depth = tensors
        .keys()
        .filter_map(|k| k.strip_prefix("student_encoder.blocks."))
        .filter_map(|k| k.split('.').next()?.parse::<usize>().ok())
        .max()
        .map_or(0, |i| i + 1);
    if depth == 0 {
        return Err(bad(
            path,
            "no student_encoder.blocks.* tensors: not a MATPAC encoder state dict",
        ));
    }
    let mlp_ratio = match shape_of(tensors, "student_encoder.blocks.0.mlp.fc1.weight", path)?[..] {
        [h, d] if d == width && h.is_multiple_of(width) && h > 0 => h / width,
        ref s => {
            return Err(bad(
                path,
                format!(
                    "student_encoder.blocks.0.mlp.fc1.weight has shape {s:?}; expected \
                     [ratio·{width}, {width}]"
                ),
            ));
        }
    };
    let heads = match heads {
        Some(h) => h,
        None if width.is_multiple_of(REFERENCE_HEAD_DIM) => width / REFERENCE_HEAD_DIM,
        None => {
            return Err(bad(
                path,
                format!(
                    "width {width} is not a multiple of {REFERENCE_HEAD_DIM}, so the number of \
                     heads cannot be inferred; give --heads"
                ),
            ));
        }
    };
    if heads == 0 || !width.is_multiple_of(heads) {
        return Err(bad(
            path,
            format!("{heads} heads do not divide width {width}; give --heads"),
        ));
    }
    Ok(OfficialShape {
        width,
        depth,
        heads,
        mlp_ratio,
        patch,
        n_frames,
    })
}

/// Checks that `tensors` hold exactly the `expected` keys with their shapes
/// (ignoring [`IGNORED_PREFIXES`]), as f32 or f64; names the first missing,
/// mis-shaped or unexpected key.
fn check_keys(
    tensors: &HashMap<String, TorchTensor>,
    expected: &[(String, Vec<usize>)],
    path: &Path,
) -> Result<(), MatpacError> {
    for (key, shape) in expected {
        let t = tensors.get(key).ok_or_else(|| {
            bad(
                path,
                format!("missing key `{key}` (expected shape {shape:?})"),
            )
        })?;
        if t.shape() != shape.as_slice() {
            return Err(bad(
                path,
                format!("`{key}` has shape {:?}; expected {shape:?}", t.shape()),
            ));
        }
        if !matches!(t.dtype(), DType::F32 | DType::F64) {
            return Err(bad(
                path,
                format!(
                    "`{key}` is {:?}; expected float32 (convert with `state = {{k: v.float() for k, v in state.items()}}`)",
                    t.dtype()
                ),
            ));
        }
    }
    let mut extra: Vec<&String> = tensors
        .keys()
        .filter(|k| !expected.iter().any(|(e, _)| e == *k))
        .filter(|k| !IGNORED_PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect();
    extra.sort();
    if let Some(k) = extra.first() {
        return Err(bad(
            path,
            format!(
                "unexpected key `{k}` (shape {:?}); an encoder state dict holds only \
                 patch_embed.proj.*, cls_token, pos_embed and student_encoder.*",
                tensors[*k].shape()
            ),
        ));
    }
    Ok(())
}

/// Values of a checked f32/f64 tensor as f32.
fn read_values(t: &TorchTensor, path: &Path) -> Result<Vec<f32>, MatpacError> {
    let bytes = t.read().map_err(|e| bad(path, e.to_string()))?;
    Ok(match t.dtype() {
        DType::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes(b.try_into().expect("4 bytes")))
            .collect(),
    })
}

/// Reads a published MATPAC encoder state dict (`.pt`/`.pth`) into a fresh
/// [`Trainer`] on `device`: student and teacher encoders both hold the
/// published weights; `pos_embed` must be the fixed sin-cos table (its CLS
/// row, zero in the published files, is folded into `cls_token`).
pub fn import_official(
    path: &Path,
    heads: Option<usize>,
    device: &Device,
) -> Result<Trainer, MatpacError> {
    let reader = PytorchReader::new(path)
        .map_err(|e| bad(path, format!("not a readable PyTorch file: {e}")))?;
    let tensors = reader.into_tensors();
    let shape = infer_shape(&tensors, heads, path)?;
    let mut trainer = Trainer::new(shape.config(), device)?;
    let expected = expected_keys(&trainer.student);
    check_keys(&tensors, &expected, path)?;
    let mut state = HashMap::new();
    for (key, shape) in expected {
        let values = read_values(&tensors[&key], path)?;
        state.insert(
            key.clone(),
            NamedTensor {
                name: key,
                shape,
                values,
            },
        );
    }
    let pos = state.remove(POS_EMBED).expect("checked above");
    let d = shape.width;
    let worst = pos.values[d..]
        .iter()
        .zip(&trainer.student.pos[d..])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    if worst.is_nan() || worst > POS_EMBED_TOLERANCE {
        return Err(bad(
            path,
            format!(
                "pos_embed differs from the 2-D sin-cos table by up to {worst:e}; only fixed \
                 sin-cos positions (as the reference trains) are supported"
            ),
        ));
    }
    let cls = state.get_mut("cls_token").expect("checked above");
    cls.values
        .iter_mut()
        .zip(&pos.values[..d])
        .for_each(|(c, p)| *c += p);
    trainer.student = load_encoder(trainer.student, "", &state);
    trainer.teacher.encoder = load_encoder(trainer.teacher.encoder, "encoder", &state);
    Ok(trainer)
}
