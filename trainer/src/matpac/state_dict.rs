//! The encoder in the reference implementation's PyTorch state-dict layout,
//! both ways: the key names and tensor layouts of its published checkpoints
//! (`docs/published-weights.md`), our Burn parameters written in that layout
//! (for `export-encoder`) and overwritten from it (for `import-official`).
//!
//! | reference key | shape | ours |
//! |---|---|---|
//! | `patch_embed.proj.weight` | `[D, 1, p, p]` | `patch_embed.proj.weight` `[p², D]` (transposed) |
//! | `patch_embed.proj.bias` | `[D]` | `patch_embed.proj.bias` |
//! | `cls_token` | `[1, 1, D]` | `cls_token` |
//! | `pos_embed` | `[1, 1 + L, D]` | the fixed sin-cos table (not a parameter) |
//! | `student_encoder.blocks.i.{norm1,norm2}.{weight,bias}` | `[D]` | `encoder.blocks.i.{norm1,norm2}.{gamma,beta}` |
//! | `student_encoder.blocks.i.attn.{qkv,proj}.weight`, `mlp.{fc1,fc2}.weight` | `[out, in]` | `[in, out]` (transposed) |
//! | `student_encoder.blocks.i.….bias` | `[out]` | same |
//! | `student_encoder.norm.{weight,bias}` | `[D]` | `encoder.norm.{gamma,beta}` |

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};

use super::export::{ModulePath, NamedTensor, named_params};
use super::model::Student;

/// Width of one attention head in the reference's ViT encoders (ViT-B: 768 / 12).
pub const REFERENCE_HEAD_DIM: usize = 64;

/// Key of the position table.
pub const POS_EMBED: &str = "pos_embed";

/// How one of our parameters is stored in the reference layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Same values, same shape.
    Same,
    /// A Linear weight: ours `[in, out]`, the reference's `[out, in]`.
    Transposed,
    /// The patch projection: ours `[p², D]`, the reference's conv `[D, 1, p, p]`.
    PatchConv,
}

/// The reference key and layout of the `Student` parameter at Burn module
/// path `path` (`encoder.blocks.0.norm1.gamma`), or `None` for parameters
/// the published encoder does not hold (predictor, heads).
fn reference_key(path: &str) -> Option<(String, Layout)> {
    match path {
        "patch_embed.proj.weight" => return Some((path.into(), Layout::PatchConv)),
        "patch_embed.proj.bias" | "cls_token" => return Some((path.into(), Layout::Same)),
        _ => {}
    }
    let rest = path.strip_prefix("encoder.")?;
    let (stem, leaf) = rest.rsplit_once('.')?;
    let is_norm = stem == "norm" || stem.ends_with(".norm1") || stem.ends_with(".norm2");
    let (leaf, layout) = match (leaf, is_norm) {
        ("gamma", true) => ("weight", Layout::Same),
        ("beta", true) => ("bias", Layout::Same),
        ("weight", false) => ("weight", Layout::Transposed),
        ("bias", false) => ("bias", Layout::Same),
        _ => return None,
    };
    Some((format!("student_encoder.{stem}.{leaf}"), layout))
}

/// Shape in the reference layout of a tensor whose shape is `ours`.
fn reference_shape(ours: &[usize], layout: Layout) -> Vec<usize> {
    match (layout, ours) {
        (Layout::Same, _) => ours.to_vec(),
        (Layout::Transposed, [i, o]) => vec![*o, *i],
        (Layout::PatchConv, [pp, d]) => {
            let p = pp.isqrt();
            vec![*d, 1, p, p]
        }
        _ => unreachable!("2-D weights only"),
    }
}

/// Transposes a row-major `[rows, cols]` matrix.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Values of ours (shape `ours`) in the reference layout.
fn to_reference(values: &[f32], ours: &[usize], layout: Layout) -> Vec<f32> {
    match layout {
        Layout::Same => values.to_vec(),
        Layout::Transposed | Layout::PatchConv => transpose(values, ours[0], ours[1]),
    }
}

/// Values of the reference layout in ours (shape `ours`).
fn from_reference(values: &[f32], ours: &[usize], layout: Layout) -> Vec<f32> {
    match layout {
        Layout::Same => values.to_vec(),
        Layout::Transposed | Layout::PatchConv => transpose(values, ours[1], ours[0]),
    }
}

/// The student's encoder (patch projection, CLS, blocks, final norm) and its
/// position table, in the reference's keys and layouts: the tensors of a
/// published checkpoint, in the order the reference's `state_dict()` lists them.
pub fn encoder_state(student: &Student) -> Vec<NamedTensor> {
    let mut out: Vec<NamedTensor> = named_params(student, "")
        .into_iter()
        .filter_map(|t| {
            let (name, layout) = reference_key(&t.name)?;
            Some(NamedTensor {
                name,
                shape: reference_shape(&t.shape, layout),
                values: to_reference(&t.values, &t.shape, layout),
            })
        })
        .collect();
    let (nf, nt) = student.grid;
    out.push(NamedTensor {
        name: POS_EMBED.into(),
        shape: vec![1, 1 + nf * nt, student.dim()],
        values: student.pos.clone(),
    });
    let rank = |k: &str| match k {
        "cls_token" => 0,
        POS_EMBED => 1,
        k if k.starts_with("patch_embed.") => 2,
        _ => 3,
    };
    out.sort_by_key(|t| rank(&t.name)); // stable: blocks keep their order
    out
}

/// The reference keys and shapes that [`encoder_state`] of `student` yields:
/// what a checkpoint for this architecture must hold.
pub fn expected_keys(student: &Student) -> Vec<(String, Vec<usize>)> {
    encoder_state(student)
        .into_iter()
        .map(|t| (t.name, t.shape))
        .collect()
}

struct Load<'a> {
    path: ModulePath,
    tensors: &'a HashMap<String, NamedTensor>,
}

impl ModuleMapper for Load<'_> {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.exit();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some((key, layout)) = reference_key(&self.path.name()) else {
            return param;
        };
        let Some(src) = self.tensors.get(&key) else {
            return param;
        };
        param.map(|t| {
            let ours = t.dims();
            let grad = t.is_require_grad();
            let values = from_reference(&src.values, &ours, layout);
            Tensor::from_data(TensorData::new(values, ours), &t.device()).set_require_grad(grad)
        })
    }
}

/// Overwrites every encoder parameter of `module` (a `Student`, or any module
/// whose paths start as the student's, such as the teacher's `encoder`
/// under `prefix` `"encoder"`) with the tensor of the same reference key in
/// `tensors`. The caller has checked keys and shapes ([`expected_keys`]);
/// parameters without a tensor are left as they are.
pub fn load_encoder<M: Module>(
    module: M,
    prefix: &str,
    tensors: &HashMap<String, NamedTensor>,
) -> M {
    let mut path = ModulePath::default();
    if !prefix.is_empty() {
        path.enter(prefix);
    }
    module.map(&mut Load { path, tensors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matpac::config::MatpacConfig;
    use crate::matpac::model::build;
    use crate::matpac::rng::Rng;
    use burn::tensor::Device;

    #[test]
    fn keys_follow_the_reference_names() {
        assert_eq!(
            reference_key("encoder.blocks.3.norm1.gamma"),
            Some(("student_encoder.blocks.3.norm1.weight".into(), Layout::Same))
        );
        assert_eq!(
            reference_key("encoder.blocks.0.attn.qkv.weight"),
            Some((
                "student_encoder.blocks.0.attn.qkv.weight".into(),
                Layout::Transposed
            ))
        );
        assert_eq!(
            reference_key("encoder.norm.beta"),
            Some(("student_encoder.norm.bias".into(), Layout::Same))
        );
        assert_eq!(reference_key("predictor.blocks.0.norm1.gamma"), None);
        assert_eq!(reference_key("head.last_v"), None);
    }

    #[test]
    fn a_tiny_encoder_lists_every_reference_tensor_once_with_its_shape() {
        let cfg = MatpacConfig::tiny();
        let (student, _) = build(&cfg, &mut Rng::new(1), &Device::flex());
        let keys = expected_keys(&student);
        let d = cfg.model.encoder_dim;
        let p = cfg.model.patch_size;
        let depth = cfg.model.encoder_depth;
        // 4 globals + 12 per block + 2 for the final norm.
        assert_eq!(keys.len(), 4 + 12 * depth + 2);
        let shape = |k: &str| keys.iter().find(|(n, _)| n == k).map(|(_, s)| s.clone());
        assert_eq!(shape("patch_embed.proj.weight"), Some(vec![d, 1, p, p]));
        assert_eq!(
            shape("student_encoder.blocks.0.mlp.fc1.weight"),
            Some(vec![d * cfg.model.mlp_ratio, d])
        );
        assert_eq!(
            shape("pos_embed"),
            Some(vec![1, 1 + cfg.n_freq_patches() * cfg.n_time_patches(), d])
        );
        assert_eq!(keys[0].0, "cls_token");
    }

    #[test]
    fn writing_then_loading_the_reference_layout_restores_every_weight() {
        let cfg = MatpacConfig::tiny();
        let (a, _) = build(&cfg, &mut Rng::new(1), &Device::flex());
        let (b, _) = build(&cfg, &mut Rng::new(2), &Device::flex());
        let state: HashMap<String, NamedTensor> = encoder_state(&a)
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        let b = load_encoder(b, "", &state);
        assert_eq!(encoder_state(&b), encoder_state(&a));
        // The predictor is not part of the published encoder: untouched.
        let pred = |s: &Student| -> Vec<f32> {
            s.predictor.blocks[0]
                .attn
                .qkv
                .weight
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_ne!(pred(&b), pred(&a));
    }
}
