//! The student as a Burn module (convolutions with optional BatchNorm,
//! depthwise-separable blocks, pooling, linear head), and its folding into a
//! [`FloatNet`].

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::config::{ConvGeom, StudentConfig};
use super::float_net::{FloatConv, FloatLinear, FloatNet};

/// Convolution, optional BatchNorm, ReLU.
#[derive(Module, Debug)]
pub struct ConvBn {
    /// The convolution.
    pub conv: Conv2d,
    /// BatchNorm after it.
    pub bn: Option<BatchNorm>,
}

impl ConvBn {
    /// `relu(bn(conv(x)))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        let y = match &self.bn {
            Some(bn) => bn.forward(y),
            None => y,
        };
        relu(y)
    }

    /// Folds BatchNorm (running statistics) into the convolution:
    /// `w' = w·γ/σ`, `b' = (b − μ)·γ/σ + β` with `σ = √(var + ε)`.
    fn fold(&self, geom: &ConvGeom) -> FloatConv {
        let mut w = self
            .conv
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 weights");
        let m = geom.out_chw[0];
        let mut b = match &self.conv.bias {
            Some(b) => b.val().into_data().try_to_vec::<f32>().expect("f32 bias"),
            None => vec![0.0; m],
        };
        if let Some(bn) = &self.bn {
            let v = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().expect("f32 batch norm");
            let (gamma, beta) = (v(bn.gamma.val()), v(bn.beta.val()));
            let (mean, var) = (v(bn.running_mean.value()), v(bn.running_var.value()));
            let per = w.len() / m;
            for c in 0..m {
                let k = gamma[c] / (var[c] + bn.epsilon as f32).sqrt();
                w[c * per..(c + 1) * per].iter_mut().for_each(|x| *x *= k);
                b[c] = (b[c] - mean[c]) * k + beta[c];
            }
        }
        FloatConv {
            geom: geom.clone(),
            w,
            b,
        }
    }
}

/// Depthwise 3×3 then pointwise 1×1.
#[derive(Module, Debug)]
pub struct DsBlock {
    /// Depthwise convolution.
    pub dw: ConvBn,
    /// Pointwise convolution.
    pub pw: ConvBn,
}

/// The DS-CNN student.
#[derive(Module, Debug)]
pub struct Student {
    /// Strided stem convolution.
    pub stem: ConvBn,
    /// Depthwise-separable blocks.
    pub blocks: Vec<DsBlock>,
    /// Linear head on the pooled embedding.
    pub head: Linear,
}

impl Student {
    /// `[B, 1, T, M] → [B, C]`: the pooled embedding (mean over time and mel).
    pub fn embed(&self, x: Tensor<4>) -> Tensor<2> {
        let mut y = self.stem.forward(x);
        for b in &self.blocks {
            y = b.pw.forward(b.dw.forward(y));
        }
        let [n, c, h, w] = y.dims();
        y.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
    }

    /// `[B, 1, T, M] → [B, n_outputs]` logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.embed(x))
    }

    /// BatchNorm folded, weights copied out as f32 (see [`FloatNet`]).
    pub fn to_float_net(&self, config: &StudentConfig) -> FloatNet {
        let geoms = config.conv_geometry();
        let mut convs = vec![self.stem.fold(&geoms[0])];
        for (b, g) in self.blocks.iter().zip(geoms[1..].chunks(2)) {
            convs.push(b.dw.fold(&g[0]));
            convs.push(b.pw.fold(&g[1]));
        }
        let v = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().expect("f32 head");
        let head_w = v(self.head.weight.val());
        let head_b = match &self.head.bias {
            Some(b) => b
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32 head bias"),
            None => vec![0.0; config.n_outputs],
        };
        FloatNet {
            in_shape: [config.n_frames, config.n_mels],
            convs,
            head: FloatLinear {
                k: config.embedding_dim(),
                n: config.n_outputs,
                w: head_w,
                b: head_b,
            },
        }
    }
}

impl StudentConfig {
    /// Builds the Burn module (Burn's default initialisers, seeded by `device`).
    pub fn init(&self, device: &Device) -> Student {
        let geoms = self.conv_geometry();
        let conv_bn = |g: &ConvGeom| {
            let conv = Conv2dConfig::new([g.in_chw[0], g.out_chw[0]], g.kernel)
                .with_stride(g.stride)
                .with_groups(g.group)
                .with_padding(PaddingConfig2d::Explicit(
                    g.pads[0], g.pads[1], g.pads[0], g.pads[1],
                ))
                .with_bias(!self.batch_norm)
                .init(device);
            let bn = self
                .batch_norm
                .then(|| BatchNormConfig::new(g.out_chw[0]).init(device));
            ConvBn { conv, bn }
        };
        let stem = conv_bn(&geoms[0]);
        let blocks = geoms[1..]
            .chunks(2)
            .map(|p| DsBlock {
                dw: conv_bn(&p[0]),
                pw: conv_bn(&p[1]),
            })
            .collect();
        let head = LinearConfig::new(self.embedding_dim(), self.n_outputs).init(device);
        Student { stem, blocks, head }
    }
}
