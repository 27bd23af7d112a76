//! Weights as safetensors, for the PyTorch reference (`bench/`) and other tools.
//!
//! Names are Burn's module paths prefixed by `student.` or `teacher.`
//! (`student.encoder.blocks.0.attn.qkv.weight`, `teacher.head.last_v`, …) and
//! layouts are Burn's: a Linear weight is `[in, out]` (PyTorch's transposed),
//! LayerNorm's are `gamma`/`beta`, the patch projection is the flattened conv
//! `[p², D]`. The centre is stored as `centre` `[K]`. Written atomically.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use super::MatpacError;
use super::checkpoint::write_atomic;
use super::train::Trainer;

struct Named {
    prefix: String,
    path: Vec<String>,
    out: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl ModuleVisitor for Named {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let data = t.into_data().try_to_vec::<f32>().expect("f32 parameters");
        let name = std::iter::once(self.prefix.as_str())
            .chain(
                self.path
                    .iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty()),
            )
            .collect::<Vec<_>>()
            .join(".");
        self.out.push((name, shape, data));
    }
}

/// `(name, shape, values)` of every float parameter of `module`, names prefixed by `prefix`.
pub fn named_params<M: Module>(module: &M, prefix: &str) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut v = Named {
        prefix: prefix.to_string(),
        path: Vec::new(),
        out: Vec::new(),
    };
    module.visit(&mut v);
    v.out
}

/// Serialises f32 tensors in the safetensors format (8-byte header length,
/// JSON header with `dtype`/`shape`/`data_offsets`, little-endian data).
pub fn safetensors_bytes(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut offset = 0usize;
    for (i, (name, shape, data)) in tensors.iter().enumerate() {
        let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let end = offset + 4 * data.len();
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            shape.join(",")
        ));
        offset = end;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for (_, _, data) in tensors {
        data.iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    out
}

/// Writes the student, the teacher and the centre of `trainer` to `path`.
pub fn export_safetensors(trainer: &Trainer, path: &Path) -> Result<(), MatpacError> {
    let mut all = named_params(&trainer.student, "student");
    all.extend(named_params(&trainer.teacher, "teacher"));
    let k = trainer.centre.value.len();
    all.push(("centre".into(), vec![k], trainer.centre.value.clone()));
    write_atomic(path, &safetensors_bytes(&all))
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
        let names: Vec<&str> = params.iter().map(|p| p.0.as_str()).collect();
        for want in [
            "student.patch_embed.proj.weight",
            "student.cls_token",
            "student.encoder.blocks.1.attn.qkv.weight",
            "student.encoder.norm.gamma",
            "student.predictor.mask_token",
            "student.head.last_g",
        ] {
            assert!(names.contains(&want), "{want} not in {names:?}");
        }
        let qkv = params
            .iter()
            .find(|p| p.0 == "student.encoder.blocks.0.attn.qkv.weight")
            .unwrap();
        assert_eq!(qkv.1, vec![64, 192], "Burn layout [in, out]");
        let bytes = safetensors_bytes(&params);
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
        assert!(header.starts_with(
            "{\"student.patch_embed.proj.weight\":{\"dtype\":\"F32\",\"shape\":[256,64]"
        ));
        let total: usize = params.iter().map(|p| p.2.len() * 4).sum();
        assert_eq!(bytes.len(), 8 + n + total);
    }
}
