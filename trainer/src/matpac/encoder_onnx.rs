//! The float encoder as ONNX (opset 17), for onnxruntime, tract and other
//! tools: normalised log-mel `x` `[batch, 1, n_mels, n_frames]` in, where
//! `n_frames` is the training crop (positions are fixed at export; shorter
//! inputs go through `embed`), per-patch embeddings `tokens`
//! `[batch, n_freq · n_time, D]` out (last layer after the final norm, CLS
//! dropped, frequency-major): [`Student::encode`] without CLS and without
//! the standardisation, which the caller applies.
//!
//! Graph: Conv 16×16/16 → flatten → + positions → [CLS ‖ tokens] → blocks
//! (LayerNormalization, MatMul + Add, multi-head attention as Reshape /
//! Transpose / MatMul / Softmax, GELU as `x · ½ (1 + erf(x / √2))`) → final
//! LayerNormalization → drop CLS. Weights come from the reference-layout
//! state dict ([`super::state_dict::encoder_state`]).

use std::collections::HashMap;

use prost::Message;

use super::config::MatpacConfig;
use super::export::NamedTensor;
use super::model::Student;
use super::state_dict::{POS_EMBED, encoder_state};
use crate::edge::onnx_proto::{
    ATTR_FLOAT, AttributeProto, FLOAT, GraphProto, ModelProto, NodeProto, OperatorSetId, attr_int,
    attr_ints, f32_tensor, i64_tensor, value_info_dims,
};

/// ONNX opset: 17 is the first with `LayerNormalization`.
const OPSET: i64 = 17;
/// Name of the graph input.
pub const INPUT: &str = "x";
/// Name of the graph output.
pub const OUTPUT: &str = "tokens";

/// A graph under construction.
struct Builder {
    graph: GraphProto,
    n: usize,
}

impl Builder {
    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.n += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.n);
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: out.clone(),
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
        out
    }

    fn f32(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        self.graph.initializer.push(f32_tensor(name, dims, values));
        name.into()
    }

    fn i64(&mut self, name: &str, values: &[i64]) -> String {
        self.graph
            .initializer
            .push(i64_tensor(name, &[values.len()], values));
        name.into()
    }

    fn scalar(&mut self, name: &str, v: f32) -> String {
        self.graph.initializer.push(f32_tensor(name, &[], &[v]));
        name.into()
    }

    /// `x · Wᵀ + b` for a reference-layout Linear (`W` `[out, in]`).
    fn linear(&mut self, x: &str, w: &NamedTensor, b: &NamedTensor) -> String {
        let (o, i) = (w.shape[0], w.shape[1]);
        let mut wt = vec![0.0f32; w.values.len()];
        for r in 0..o {
            for c in 0..i {
                wt[c * o + r] = w.values[r * i + c];
            }
        }
        let wn = self.f32(&format!("{}.t", w.name), &[i, o], &wt);
        let bn = self.f32(&b.name, &b.shape, &b.values);
        let y = self.node("MatMul", &[x, &wn], vec![]);
        self.node("Add", &[&y, &bn], vec![])
    }

    fn layer_norm(&mut self, x: &str, g: &NamedTensor, b: &NamedTensor, eps: f32) -> String {
        let gn = self.f32(&g.name, &g.shape, &g.values);
        let bn = self.f32(&b.name, &b.shape, &b.values);
        self.node(
            "LayerNormalization",
            &[x, &gn, &bn],
            vec![
                attr_int("axis", -1),
                AttributeProto {
                    name: "epsilon".into(),
                    r#type: ATTR_FLOAT,
                    f: Some(eps),
                    ..Default::default()
                },
            ],
        )
    }
}

/// The encoder of `student` (configuration `cfg`) as a serialised ONNX model.
pub fn encoder_onnx(student: &Student, cfg: &MatpacConfig) -> Vec<u8> {
    let state: HashMap<String, NamedTensor> = encoder_state(student)
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let t = |k: &str| &state[k];
    let m = &cfg.model;
    let (d, h, p) = (m.encoder_dim, m.encoder_heads, m.patch_size);
    let (nf, nt) = (cfg.n_freq_patches(), cfg.n_time_patches());
    let eps = m.layer_norm_eps as f32;
    let mut b = Builder {
        graph: GraphProto {
            name: "matpac_encoder".into(),
            ..Default::default()
        },
        n: 0,
    };
    // Patch embedding: Conv → [B, D, nf, nt] → [B, D, L] → [B, L, D].
    let w = t("patch_embed.proj.weight");
    let wn = b.f32(&w.name, &w.shape, &w.values);
    let bias = t("patch_embed.proj.bias");
    let bn = b.f32(&bias.name, &bias.shape, &bias.values);
    let conv = b.node(
        "Conv",
        &[INPUT, &wn, &bn],
        vec![
            attr_ints("kernel_shape", &[p as i64, p as i64]),
            attr_ints("strides", &[p as i64, p as i64]),
        ],
    );
    let flat_shape = b.i64("shape_bdl", &[0, d as i64, -1]);
    let flat = b.node("Reshape", &[&conv, &flat_shape], vec![]);
    let tokens = b.node("Transpose", &[&flat], vec![attr_ints("perm", &[0, 2, 1])]);
    // Positions (the table without its CLS row) and CLS (its position is zero).
    let pos = t(POS_EMBED);
    let pn = b.f32("pos_patches", &[1, nf * nt, d], &pos.values[d..]);
    let tokens = b.node("Add", &[&tokens, &pn], vec![]);
    let cls = t("cls_token");
    let cls_values: Vec<f32> = cls
        .values
        .iter()
        .zip(&pos.values[..d])
        .map(|(c, q)| c + q)
        .collect();
    let cn = b.f32("cls_with_pos", &[1, 1, d], &cls_values);
    // Expand CLS to [B, 1, D]: B from the input's shape.
    let shape = b.node("Shape", &[INPUT], vec![]);
    let (s0, s1) = (b.i64("start0", &[0]), b.i64("end1", &[1]));
    let batch = b.node("Slice", &[&shape, &s0, &s1], vec![]);
    let one_d = b.i64("one_d", &[1, d as i64]);
    let cls_shape = b.node("Concat", &[&batch, &one_d], vec![attr_int("axis", 0)]);
    let cls_b = b.node("Expand", &[&cn, &cls_shape], vec![]);
    let mut x = b.node("Concat", &[&cls_b, &tokens], vec![attr_int("axis", 1)]);

    let hd = d / h;
    let qkv_shape = b.i64("shape_qkv", &[0, 0, 3, h as i64, hd as i64]);
    let merge_shape = b.i64("shape_merge", &[0, 0, d as i64]);
    let scale = b.scalar("attn_scale", (hd as f32).powf(-0.5));
    let (half, one) = (b.scalar("half", 0.5), b.scalar("one", 1.0));
    let inv_sqrt2 = b.scalar("inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2);
    let idx: Vec<String> = (0..3)
        .map(|i| {
            b.graph
                .initializer
                .push(i64_tensor(&format!("index{i}"), &[], &[i]));
            format!("index{i}")
        })
        .collect();
    for i in 0..m.encoder_depth {
        let k = |s: &str| format!("student_encoder.blocks.{i}.{s}");
        let y = b.layer_norm(&x, t(&k("norm1.weight")), t(&k("norm1.bias")), eps);
        let qkv = b.linear(&y, t(&k("attn.qkv.weight")), t(&k("attn.qkv.bias")));
        let qkv = b.node("Reshape", &[&qkv, &qkv_shape], vec![]);
        let qkv = b.node(
            "Transpose",
            &[&qkv],
            vec![attr_ints("perm", &[2, 0, 3, 1, 4])],
        );
        let q = b.node("Gather", &[&qkv, &idx[0]], vec![attr_int("axis", 0)]);
        let kk = b.node("Gather", &[&qkv, &idx[1]], vec![attr_int("axis", 0)]);
        let v = b.node("Gather", &[&qkv, &idx[2]], vec![attr_int("axis", 0)]);
        let q = b.node("Mul", &[&q, &scale], vec![]);
        let kt = b.node("Transpose", &[&kk], vec![attr_ints("perm", &[0, 1, 3, 2])]);
        let scores = b.node("MatMul", &[&q, &kt], vec![]);
        let attn = b.node("Softmax", &[&scores], vec![attr_int("axis", -1)]);
        let y = b.node("MatMul", &[&attn, &v], vec![]);
        let y = b.node("Transpose", &[&y], vec![attr_ints("perm", &[0, 2, 1, 3])]);
        let y = b.node("Reshape", &[&y, &merge_shape], vec![]);
        let y = b.linear(&y, t(&k("attn.proj.weight")), t(&k("attn.proj.bias")));
        x = b.node("Add", &[&x, &y], vec![]);
        let y = b.layer_norm(&x, t(&k("norm2.weight")), t(&k("norm2.bias")), eps);
        let y = b.linear(&y, t(&k("mlp.fc1.weight")), t(&k("mlp.fc1.bias")));
        let e = b.node("Mul", &[&y, &inv_sqrt2], vec![]);
        let e = b.node("Erf", &[&e], vec![]);
        let e = b.node("Add", &[&e, &one], vec![]);
        let e = b.node("Mul", &[&e, &half], vec![]);
        let y = b.node("Mul", &[&y, &e], vec![]);
        let y = b.linear(&y, t(&k("mlp.fc2.weight")), t(&k("mlp.fc2.bias")));
        x = b.node("Add", &[&x, &y], vec![]);
    }
    let x = b.layer_norm(
        &x,
        t("student_encoder.norm.weight"),
        t("student_encoder.norm.bias"),
        eps,
    );
    let (s1b, big, axis1) = (
        b.i64("start1", &[1]),
        b.i64("end_max", &[i64::MAX]),
        b.i64("axis1", &[1]),
    );
    let out = b.node("Slice", &[&x, &s1b, &big, &axis1], vec![]);
    b.graph.node.last_mut().expect("slice node").output = vec![OUTPUT.into()];
    debug_assert_eq!(out, b.graph.node.last().expect("node").name);
    b.graph.input.push(value_info_dims(
        INPUT,
        FLOAT,
        &[None, Some(1), Some(m.n_mels), Some(m.n_frames)],
    ));
    b.graph.output.push(value_info_dims(
        OUTPUT,
        FLOAT,
        &[None, Some(nf * nt), Some(d)],
    ));
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetId {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "matpac-trainer".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "MATPAC encoder: normalised log-mel in, per-patch embeddings out".into(),
        graph: Some(b.graph),
        metadata_props: Vec::new(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matpac::Trainer;
    use crate::matpac::rng::Rng;
    use burn::module::Module;
    use burn::tensor::{Device, Tensor, TensorData};
    use tract_onnx::prelude::*;

    /// tract and Burn run the same f32 graph with different summation orders
    /// (GEMM blocking, softmax and LayerNorm reductions): rounding only.
    const TOLERANCE: f32 = 1e-4;

    #[test]
    fn tract_runs_the_exported_encoder_as_burn_does() {
        let cfg = MatpacConfig::tiny();
        let tr = Trainer::new(cfg.clone(), &Device::flex()).unwrap();
        let student = tr.student.valid();
        let m = &cfg.model;
        let (b, f, t) = (2, m.n_mels, m.n_frames);
        let mut rng = Rng::new(3);
        let raw: Vec<f32> = (0..b * f * t)
            .map(|_| (rng.normal() * 3.0 - 7.0) as f32)
            .collect();
        let (mean, std) = (m.input_mean, m.input_std);
        let want = student
            .encode(Tensor::<3>::from_data(
                TensorData::new(raw.clone(), [b, f, t]),
                &Device::flex(),
            ))
            .narrow(1, 1, cfg.n_patches());
        let want: Vec<f32> = want.into_data().try_to_vec().unwrap();
        let x: Vec<f32> = raw.iter().map(|v| (v - mean) / std).collect();
        let onnx = encoder_onnx(&student, &cfg);
        let model = tract_onnx::onnx()
            .model_for_read(&mut &onnx[..])
            .unwrap()
            .with_input_fact(0, f32::fact([b, 1, f, t]).into())
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let input = tract_ndarray::Array4::from_shape_vec((b, 1, f, t), x).unwrap();
        let out = model.run(tvec!(input.into_tensor().into())).unwrap();
        assert_eq!(out[0].shape(), [b, cfg.n_patches(), m.encoder_dim]);
        let got = out[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= TOLERANCE, "max |tract − burn| = {worst}");
    }
}
