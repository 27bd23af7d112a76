//! Weights as safetensors, for the PyTorch reference (`bench/`) and other tools.
//!
//! Names are Burn's module paths prefixed by `student.` or `teacher.`
//! (`student.encoder.blocks.0.attn.qkv.weight`, `teacher.head.last_v`, …) and
//! layouts are Burn's: a Linear weight is `[in, out]` (PyTorch's transposed),
//! LayerNorm's are `gamma`/`beta`, the patch projection is the flattened conv
//! `[p², D]`. The centre is stored as `centre` `[K]`. Written atomically with
//! the `safetensors` crate; [`write_safetensors`] also writes the encoder in
//! the reference's own layout (`matpac export-encoder`).

use std::collections::HashMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use safetensors::tensor::{Dtype, TensorView, serialize};

use super::MatpacError;
use super::checkpoint::write_atomic;
use super::train::Trainer;

/// A named f32 tensor: name, shape (outermost first), row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Name (safetensors key).
    pub name: String,
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// The dotted Burn module path of the parameter a visitor or mapper is at
/// (`encoder.blocks.0.norm1.gamma`), kept from its enter/exit calls.
#[derive(Default)]
pub(crate) struct ModulePath(Vec<String>);

impl ModulePath {
    /// Descends into `name`.
    pub(crate) fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    /// Leaves the innermost module.
    pub(crate) fn exit(&mut self) {
        self.0.pop();
    }
    /// The path, empty parts skipped.
    pub(crate) fn name(&self) -> String {
        self.0
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(".")
    }
}

struct Named {
    path: ModulePath,
    out: Vec<NamedTensor>,
}

impl ModuleVisitor for Named {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let values = t.into_data().try_to_vec::<f32>().expect("f32 parameters");
        self.out.push(NamedTensor {
            name: self.path.name(),
            shape,
            values,
        });
    }
}

/// Every float parameter of `module`, named by its Burn module path
/// prefixed by `prefix` (none when empty).
pub fn named_params<M: Module>(module: &M, prefix: &str) -> Vec<NamedTensor> {
    let mut path = ModulePath::default();
    path.enter(prefix);
    let mut v = Named {
        path,
        out: Vec::new(),
    };
    module.visit(&mut v);
    v.out
}

/// Serialises f32 tensors in the safetensors format (the `safetensors`
/// crate), with `{"format": "pt"}` metadata as PyTorch's writer adds.
pub fn safetensors_bytes(tensors: &[NamedTensor]) -> Result<Vec<u8>, MatpacError> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            TensorView::new(Dtype::F32, t.shape.clone(), b)
                .map(|v| (t.name.clone(), v))
                .map_err(|e| MatpacError::Shape(format!("{}: {e}", t.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    serialize(views, Some(meta)).map_err(|e| MatpacError::Shape(e.to_string()))
}

/// Writes `tensors` to `path` as safetensors, atomically.
pub fn write_safetensors(tensors: &[NamedTensor], path: &Path) -> Result<(), MatpacError> {
    write_atomic(path, &safetensors_bytes(tensors)?)
}

/// Writes the student, the teacher and the centre of `trainer` to `path`.
pub fn export_safetensors(trainer: &Trainer, path: &Path) -> Result<(), MatpacError> {
    let mut all = named_params(&trainer.student, "student");
    all.extend(named_params(&trainer.teacher, "teacher"));
    all.push(NamedTensor {
        name: "centre".into(),
        shape: vec![trainer.centre.value.len()],
        values: trainer.centre.value.clone(),
    });
    write_safetensors(&all, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matpac::MatpacConfig;
    use burn::tensor::Device;

    #[test]
    fn names_follow_module_paths_and_the_file_parses() {
        let tr = Trainer::new(MatpacConfig::tiny(), &Device::flex().autodiff()).unwrap();
        let params = named_params(&tr.student, "student");
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        for want in [
            "student.patch_embed.proj.weight",
            "student.cls_token",
            "student.encoder.blocks.1.attn.qkv.weight",
            "student.encoder.norm.gamma",
            "student.predictor.mask_token",
            "student.head.last_v",
        ] {
            assert!(names.contains(&want), "{want} not in {names:?}");
        }
        let qkv = params
            .iter()
            .find(|p| p.name == "student.encoder.blocks.0.attn.qkv.weight")
            .unwrap();
        assert_eq!(qkv.shape, vec![64, 192], "Burn layout [in, out]");
        let bytes = safetensors_bytes(&params).unwrap();
        let back = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(back.len(), params.len());
        let view = back
            .tensor("student.encoder.blocks.0.attn.qkv.weight")
            .unwrap();
        assert_eq!(view.shape(), [64, 192]);
        let first = f32::from_le_bytes(view.data()[..4].try_into().unwrap());
        assert_eq!(first, qkv.values[0]);
    }
}
