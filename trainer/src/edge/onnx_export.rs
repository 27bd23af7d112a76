//! ONNX export of a [`QuantModel`] in QOperator form, standard domain,
//! opset 13, exactly the subset `matpac_runtime::model` reads:
//!
//! ```text
//! x f32 [1,1,T,M] ─ QuantizeLinear ─ QLinearConv (stem, ReLU folded: y_zp = −128)
//!   ─ QLinearConv (dw, group = C) ─ QLinearConv (pw) ─ … ─ DequantizeLinear
//!   ─ GlobalAveragePool ─ QuantizeLinear ─ Flatten [1,C]
//!   ─ QLinearMatMul [C,N] ─ DequantizeLinear ─ Add (float bias) ─ Sigmoid ─ y f32 [1,N]
//! ```
//!
//! (`Embedding` output: `Flatten ─ DequantizeLinear ─ y f32 [1,C]`.) Weights
//! are int8 per output channel with zero points 0, biases int32 in
//! accumulator units. Metadata: see [`ExportMeta`].

use super::onnx_proto::*;
use super::quantize::{ActQuant, QuantModel};
use matpac_runtime::frontend::FrontendConfig;
use matpac_runtime::metadata as keys;
use matpac_runtime::tagger::TaggerConfig;
use prost::Message;
use std::io::Write;
use std::path::Path;

/// Graph input name.
pub const INPUT_NAME: &str = "log_mel";
/// Graph output name.
pub const OUTPUT_NAME: &str = "scores";

/// Why a model could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The metadata is inconsistent with the model.
    #[error("export: {0}")]
    Invalid(String),
    /// The runtime rejected the exported model.
    #[error("export: the runtime rejects the exported model: {0}")]
    Runtime(matpac_runtime::Error),
    /// Writing failed.
    #[error("export: {0}")]
    Io(#[from] std::io::Error),
}

/// What the graph outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OutputKind {
    /// `sigmoid(logits)`: multi-label tag scores `[1, N]`.
    Sigmoid,
    /// Logits `[1, N]`.
    Logits,
    /// The pooled embedding `[1, C]` (no head).
    Embedding,
}

impl OutputKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
            Self::Logits => "logits",
            Self::Embedding => "embedding",
        }
    }
}

/// Metadata written into `metadata_props`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportMeta {
    /// Front end the features come from.
    pub frontend: FrontendConfig,
    /// Class names in output order (none for an embedding).
    pub class_names: Vec<String>,
    /// Per-class thresholds on the sigmoid score.
    pub thresholds: Vec<f32>,
    /// The tagger settings the model carries (smoothing, top-k; `None`: the
    /// runtime's defaults).
    pub tagger: Option<TaggerConfig>,
    /// Feature mean (natural log).
    pub feature_mean: f32,
    /// Feature standard deviation.
    pub feature_std: f32,
    /// Free text: what trained the model, on what, when.
    pub provenance: String,
    /// What the graph outputs.
    pub output: OutputKind,
}

/// Where a partial export ends (for per-layer error reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// After convolution `i`: its dequantised output `[1, C, H, W]`.
    Conv(usize),
    /// The dequantised pooled embedding `[1, C]`.
    Pool,
    /// Logits `[1, N]`.
    Logits,
}

struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    counter: usize,
}

impl Graph {
    fn fresh(&mut self, stem: &str) -> String {
        self.counter += 1;
        format!("{stem}_{}", self.counter)
    }

    fn init(&mut self, t: TensorProto) -> String {
        let name = t.name.clone();
        self.inits.push(t);
        name
    }

    /// Scalar scale and zero-point initialisers.
    fn qparams(&mut self, stem: &str, q: ActQuant) -> (String, String) {
        let s = self.init(f32_tensor(&format!("{stem}_scale"), &[], &[q.scale]));
        let z = self.init(i8_tensor(
            &format!("{stem}_zero_point"),
            &[],
            &[q.zero_point],
        ));
        (s, z)
    }

    fn op(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
        out: Option<&str>,
    ) -> String {
        let out = out.map_or_else(|| self.fresh(&op.to_lowercase()), str::to_string);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: format!("{op}_{out}"),
            op_type: op.into(),
            domain: String::new(),
            attribute: attrs,
        });
        out
    }
}

/// Builds the graph up to `cut`, or the whole graph ending in `kind`.
fn build(q: &QuantModel, cut: Option<Cut>, kind: OutputKind) -> (Graph, String, Vec<usize>) {
    let mut g = Graph {
        nodes: Vec::new(),
        inits: Vec::new(),
        counter: 0,
    };
    let (xs, xz) = g.qparams("input", q.input);
    let mut x = g.op(
        "QuantizeLinear",
        &[INPUT_NAME, &xs, &xz],
        vec![],
        Some("input_q"),
    );
    let (mut xs, mut xz) = (xs, xz);
    for (i, c) in q.convs.iter().enumerate() {
        let geo = &c.float.geom;
        let name = geo.name.replace('.', "_");
        let m = geo.out_chw[0];
        let w_dims = [m, geo.in_chw[0] / geo.group, geo.kernel[0], geo.kernel[1]];
        let w = g.init(i8_tensor(&format!("{name}_w"), &w_dims, &c.w));
        let ws = g.init(f32_tensor(&format!("{name}_w_scale"), &[m], &c.w_scale));
        let wz = g.init(i8_tensor(
            &format!("{name}_w_zero_point"),
            &[m],
            &vec![0; m],
        ));
        let b = g.init(i32_tensor(&format!("{name}_b"), &[m], &c.bias));
        let (ys, yz) = g.qparams(&name, c.y);
        let attrs = vec![
            attr_ints(
                "kernel_shape",
                &[geo.kernel[0] as i64, geo.kernel[1] as i64],
            ),
            attr_ints("strides", &[geo.stride[0] as i64, geo.stride[1] as i64]),
            attr_ints(
                "pads",
                &[
                    geo.pads[0] as i64,
                    geo.pads[1] as i64,
                    geo.pads[0] as i64,
                    geo.pads[1] as i64,
                ],
            ),
            attr_ints("dilations", &[1, 1]),
            attr_int("group", geo.group as i64),
        ];
        x = g.op(
            "QLinearConv",
            &[&x, &xs, &xz, &w, &ws, &wz, &ys, &yz, &b],
            attrs,
            Some(name.as_str()),
        );
        (xs, xz) = (ys, yz);
        if cut == Some(Cut::Conv(i)) {
            let out = g.op(
                "DequantizeLinear",
                &[&x, &xs, &xz],
                vec![],
                Some(OUTPUT_NAME),
            );
            return (g, out, vec![1, m, geo.out_chw[1], geo.out_chw[2]]);
        }
    }
    let c = q.head.k;
    let d = g.op("DequantizeLinear", &[&x, &xs, &xz], vec![], None);
    let p = g.op("GlobalAveragePool", &[&d], vec![], None);
    let (ps, pz) = g.qparams("pool", q.pool);
    let pq = g.op(
        "QuantizeLinear",
        &[&p, &ps, &pz],
        vec![],
        Some("embedding_q"),
    );
    let flat = g.op("Flatten", &[&pq], vec![attr_int("axis", 1)], None);
    if cut == Some(Cut::Pool) || (cut.is_none() && kind == OutputKind::Embedding) {
        let out = g.op(
            "DequantizeLinear",
            &[&flat, &ps, &pz],
            vec![],
            Some(OUTPUT_NAME),
        );
        return (g, out, vec![1, c]);
    }
    let h = &q.head;
    let w = g.init(i8_tensor("head_w", &[h.k, h.n], &h.w));
    let ws = g.init(f32_tensor("head_w_scale", &[h.n], &h.w_scale));
    let wz = g.init(i8_tensor("head_w_zero_point", &[h.n], &vec![0; h.n]));
    let (ys, yz) = g.qparams("head", h.y);
    let mm = g.op(
        "QLinearMatMul",
        &[&flat, &ps, &pz, &w, &ws, &wz, &ys, &yz],
        vec![],
        Some("head"),
    );
    let md = g.op("DequantizeLinear", &[&mm, &ys, &yz], vec![], None);
    let b = g.init(f32_tensor("head_b", &[h.n], &h.bias));
    let sigmoid = cut.is_none() && kind == OutputKind::Sigmoid;
    let logits = g.op("Add", &[&md, &b], vec![], (!sigmoid).then_some(OUTPUT_NAME));
    let out = if sigmoid {
        g.op("Sigmoid", &[&logits], vec![], Some(OUTPUT_NAME))
    } else {
        logits
    };
    (g, out, vec![1, h.n])
}

fn encode(
    q: &QuantModel,
    g: Graph,
    out: &str,
    out_dims: &[usize],
    meta: Vec<(String, String)>,
    doc: &str,
) -> Vec<u8> {
    let [t, m] = q.in_shape;
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetId {
            domain: String::new(),
            version: 13,
        }],
        producer_name: "matpac-trainer".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc.into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: "matpac_student".into(),
            initializer: g.inits,
            input: vec![value_info(INPUT_NAME, FLOAT, &[1, 1, t, m])],
            output: vec![value_info(out, FLOAT, out_dims)],
        }),
        metadata_props: meta
            .into_iter()
            .map(|(key, value)| StringStringEntry { key, value })
            .collect(),
    }
    .encode_to_vec()
}

/// A partial export ending at `cut` (no metadata), for error reports.
pub fn to_onnx_cut(q: &QuantModel, cut: Cut) -> Vec<u8> {
    let (g, out, dims) = build(q, Some(cut), OutputKind::Logits);
    encode(
        q,
        g,
        &out,
        &dims,
        Vec::new(),
        "partial export for per-layer error reports",
    )
}

/// The `metadata_props` entries of `meta` (checked against the model).
pub fn metadata_entries(
    q: &QuantModel,
    meta: &ExportMeta,
) -> Result<Vec<(String, String)>, ExportError> {
    let bad = |s: &str| Err(ExportError::Invalid(s.into()));
    let sep = keys::LIST_SEPARATOR;
    if meta.output != OutputKind::Embedding {
        if meta.class_names.len() != q.head.n {
            return bad(&format!(
                "{} class names for {} outputs",
                meta.class_names.len(),
                q.head.n
            ));
        }
        if meta.thresholds.len() != q.head.n {
            return bad(&format!(
                "{} thresholds for {} outputs",
                meta.thresholds.len(),
                q.head.n
            ));
        }
    }
    if meta
        .class_names
        .iter()
        .any(|c| c.is_empty() || c.contains(sep) || c.trim() != c)
    {
        return bad(&format!(
            "class names must be non-empty, free of surrounding spaces and contain no '{sep}'"
        ));
    }
    if meta.thresholds.iter().any(|t| !t.is_finite()) {
        return bad("thresholds must be finite");
    }
    if !(meta.feature_mean.is_finite() && meta.feature_std.is_finite() && meta.feature_std > 0.0) {
        return bad("feature mean/std must be finite, std > 0");
    }
    // The device folds standardisation into its feature quantiser: check it accepts them.
    matpac_runtime::frontend::FeatureQuantizer::new(
        meta.feature_mean,
        meta.feature_std,
        q.input.scale,
        q.input.zero_point,
    )
    .map_err(ExportError::Runtime)?;
    meta.frontend
        .validate_fixed()
        .map_err(ExportError::Runtime)?;
    let mut frontend = String::new();
    keys::write_frontend(&meta.frontend, &mut frontend)
        .map_err(|_| ExportError::Invalid("front end".into()))?;
    let join = |v: Vec<String>| v.join(&sep.to_string());
    let tagger = meta.tagger.into_iter().flat_map(|t| {
        [
            (
                keys::SMOOTHING_WINDOWS.into(),
                t.smoothing_windows.to_string(),
            ),
            (keys::TOP_K.into(), t.top_k.to_string()),
        ]
    });
    Ok(vec![
        (keys::FRONTEND.into(), frontend),
        (keys::CLASS_NAMES.into(), join(meta.class_names.clone())),
        (
            keys::THRESHOLDS.into(),
            join(meta.thresholds.iter().map(|t| format!("{t}")).collect()),
        ),
        (keys::FEATURE_MEAN.into(), format!("{}", meta.feature_mean)),
        (keys::FEATURE_STD.into(), format!("{}", meta.feature_std)),
        (keys::INPUT_SCALE.into(), format!("{:e}", q.input.scale)),
        (
            keys::INPUT_ZERO_POINT.into(),
            format!("{}", q.input.zero_point),
        ),
        (keys::OUTPUT_KIND.into(), meta.output.as_str().into()),
        (keys::PROVENANCE.into(), meta.provenance.clone()),
    ]
    .into_iter()
    .chain(tagger)
    .collect())
}

/// The full model with metadata, checked by parsing it with the runtime.
pub fn to_onnx(q: &QuantModel, meta: &ExportMeta) -> Result<Vec<u8>, ExportError> {
    let entries = metadata_entries(q, meta)?;
    let (g, out, dims) = build(q, None, meta.output);
    let doc = "MATPAC edge DS-CNN student, int8 (QOperator). Input: standardised fixed-point log-mel \
               [1, 1, frames, mels]; see metadata_props matpac.*";
    let bytes = encode(q, g, &out, &dims, entries, doc);
    matpac_runtime::model::Model::parse(&bytes).map_err(ExportError::Runtime)?;
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically (temporary file, sync, rename).
pub fn write_onnx(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    crate::io::atomic_write(path, |w| w.write_all(bytes))?;
    Ok(())
}
