//! The edge student: a DS-CNN over one window of the runtime's fixed-point
//! log-mel features.
//!
//! Input `[B, 1, T, M]` (NCHW with time as H, mel as W; T = 98 frames ≈ 1 s,
//! M = 80), standardised with the dataset's scalar mean/std. A strided stem
//! convolution with few channels cuts the resolution at once (the int8
//! feature window alone is 7.8 KB of a 32 KB arena), then depthwise-separable
//! blocks (3×3 depthwise → ReLU → 1×1 pointwise → ReLU, BatchNorm after each
//! convolution when enabled), a global average pool (the clip embedding) and
//! a linear head (logits; the tagger applies a sigmoid).
//!
//! [`Student::to_float_net`] folds BatchNorm into the convolutions and hands
//! the quantiser a plain-f32 description ([`FloatNet`]) with a reference
//! forward pass.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// One depthwise-separable block: its output channels and the depthwise stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockConfig {
    /// Pointwise output channels.
    pub channels: usize,
    /// Depthwise stride (time, mel).
    pub stride: [usize; 2],
}

/// Student architecture (plain data; [`StudentConfig::init`] builds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StudentConfig {
    /// Frames per window (H).
    pub n_frames: usize,
    /// Mel bands (W).
    pub n_mels: usize,
    /// Stem output channels.
    pub stem_channels: usize,
    /// Stem kernel (time, mel); odd sizes, padded by half on each side.
    pub stem_kernel: [usize; 2],
    /// Stem stride (time, mel).
    pub stem_stride: [usize; 2],
    /// Depthwise kernel (odd, square).
    pub dw_kernel: usize,
    /// The depthwise-separable blocks.
    pub blocks: Vec<BlockConfig>,
    /// Head outputs (classes, or the embedding projection's width).
    pub n_outputs: usize,
    /// BatchNorm after every convolution (folded before quantisation).
    pub batch_norm: bool,
}

impl Default for StudentConfig {
    /// ≈ 32 k parameters, ≈ 2.4 M MACs, ≈ 23 KB int8 arena for 98 × 80 input.
    fn default() -> Self {
        let b = |channels, s| BlockConfig {
            channels,
            stride: [s, s],
        };
        Self {
            n_frames: 98,
            n_mels: 80,
            stem_channels: 16,
            stem_kernel: [5, 5],
            stem_stride: [2, 4],
            dw_kernel: 3,
            blocks: vec![b(32, 2), b(64, 2), b(128, 1), b(128, 1)],
            n_outputs: 15,
            batch_norm: true,
        }
    }
}

impl StudentConfig {
    /// A very small student for tests (same code path).
    pub fn tiny(n_outputs: usize) -> Self {
        let b = |channels, s| BlockConfig {
            channels,
            stride: [s, s],
        };
        Self {
            stem_channels: 4,
            blocks: vec![b(8, 2), b(16, 2)],
            n_outputs,
            ..Self::default()
        }
    }

    /// Checks the geometry (odd kernels, positive sizes, non-empty output).
    pub fn validate(&self) -> Result<(), String> {
        let odd = |k: usize| k % 2 == 1;
        if !(odd(self.stem_kernel[0]) && odd(self.stem_kernel[1]) && odd(self.dw_kernel)) {
            return Err("kernels must have odd sizes".into());
        }
        if self.stem_channels == 0
            || self.n_outputs == 0
            || self.blocks.iter().any(|b| b.channels == 0)
        {
            return Err("channel counts must be positive".into());
        }
        if self.stem_stride.contains(&0) || self.blocks.iter().any(|b| b.stride.contains(&0)) {
            return Err("strides must be positive".into());
        }
        if self.n_frames == 0 || self.n_mels == 0 {
            return Err("input must be non-empty".into());
        }
        Ok(())
    }

    /// Every convolution's geometry, in order (stem, then dw/pw per block).
    pub fn conv_geometry(&self) -> Vec<ConvGeom> {
        let mut out = Vec::new();
        let stem = ConvGeom::new(
            "stem",
            [1, self.n_frames, self.n_mels],
            self.stem_channels,
            self.stem_kernel,
            self.stem_stride,
            1,
        );
        let mut chw = stem.out_chw;
        out.push(stem);
        let k = self.dw_kernel;
        for (i, b) in self.blocks.iter().enumerate() {
            let dw = ConvGeom::new(
                &format!("block{i}.dw"),
                chw,
                chw[0],
                [k, k],
                b.stride,
                chw[0],
            );
            let pw = ConvGeom::new(
                &format!("block{i}.pw"),
                dw.out_chw,
                b.channels,
                [1, 1],
                [1, 1],
                1,
            );
            chw = pw.out_chw;
            out.push(dw);
            out.push(pw);
        }
        out
    }

    /// Channels of the pooled embedding.
    pub fn embedding_dim(&self) -> usize {
        self.blocks
            .last()
            .map_or(self.stem_channels, |b| b.channels)
    }

    /// Parameters, MACs and activation sizes (see [`StudentStats`]).
    pub fn stats(&self) -> StudentStats {
        let convs = self.conv_geometry();
        let in_bytes = self.n_frames * self.n_mels;
        let mut layers: Vec<LayerStats> = convs
            .iter()
            .map(|g| LayerStats {
                name: g.name.clone(),
                out_shape: g.out_chw.to_vec(),
                params: g.weights() + g.out_chw[0],
                macs: g.macs(),
                out_bytes: g.out_len(),
            })
            .collect();
        let c = self.embedding_dim();
        layers.push(LayerStats {
            name: "pool".into(),
            out_shape: vec![c],
            params: 0,
            macs: 0,
            out_bytes: c,
        });
        layers.push(LayerStats {
            name: "head".into(),
            out_shape: vec![self.n_outputs],
            params: c * self.n_outputs + self.n_outputs,
            macs: c * self.n_outputs,
            out_bytes: self.n_outputs,
        });
        // A step's input and output are alive together; nothing else is
        // (straight chain), so the arena is the largest adjacent pair.
        let mut prev = in_bytes;
        let mut arena = 0;
        for l in &layers {
            arena = arena.max(prev + l.out_bytes);
            prev = l.out_bytes;
        }
        StudentStats {
            params: layers.iter().map(|l| l.params).sum(),
            macs: layers.iter().map(|l| l.macs).sum(),
            input_bytes: in_bytes,
            arena_estimate: arena,
            layers,
        }
    }

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

/// The geometry of one convolution (NCHW, batch 1, symmetric padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvGeom {
    /// Layer name (`stem`, `block0.dw`, …).
    pub name: String,
    /// Input channels, height, width.
    pub in_chw: [usize; 3],
    /// Output channels, height, width.
    pub out_chw: [usize; 3],
    /// Kernel (h, w).
    pub kernel: [usize; 2],
    /// Stride (h, w).
    pub stride: [usize; 2],
    /// Padding on each side (h, w) = kernel / 2.
    pub pads: [usize; 2],
    /// Groups (input channels for depthwise).
    pub group: usize,
}

impl ConvGeom {
    fn new(
        name: &str,
        in_chw: [usize; 3],
        out_c: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        group: usize,
    ) -> Self {
        let pads = [kernel[0] / 2, kernel[1] / 2];
        let out = |i: usize| (in_chw[i + 1] + 2 * pads[i] - kernel[i]) / stride[i] + 1;
        Self {
            name: name.into(),
            in_chw,
            out_chw: [out_c, out(0), out(1)],
            kernel,
            stride,
            pads,
            group,
        }
    }

    /// Weight count `M · C/group · kH · kW`.
    pub fn weights(&self) -> usize {
        self.out_chw[0] * self.in_chw[0] / self.group * self.kernel[0] * self.kernel[1]
    }

    /// Multiply-accumulates: one per weight per output position.
    pub fn macs(&self) -> usize {
        self.weights() * self.out_chw[1] * self.out_chw[2]
    }

    /// Output elements.
    pub fn out_len(&self) -> usize {
        self.out_chw.iter().product()
    }
}

/// One layer's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerStats {
    /// Name.
    pub name: String,
    /// Output shape (C, H, W for convolutions).
    pub out_shape: Vec<usize>,
    /// Parameters after BatchNorm folding (weights + bias).
    pub params: usize,
    /// Multiply-accumulates per window.
    pub macs: usize,
    /// Output bytes in int8.
    pub out_bytes: usize,
}

/// Size of a student per window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StudentStats {
    /// Parameters after BatchNorm folding.
    pub params: usize,
    /// Multiply-accumulates per window.
    pub macs: usize,
    /// int8 input window bytes.
    pub input_bytes: usize,
    /// Activation arena in int8 bytes, if the runtime's planner packs the
    /// chain perfectly (the exported model's `arena_len()` is the real figure).
    pub arena_estimate: usize,
    /// Per layer.
    pub layers: Vec<LayerStats>,
}

impl std::fmt::Display for StudentStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<12} {:>16} {:>8} {:>10} {:>8}",
            "layer", "output", "params", "MACs", "bytes"
        )?;
        for l in &self.layers {
            let shape = l
                .out_shape
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("×");
            writeln!(
                f,
                "{:<12} {:>16} {:>8} {:>10} {:>8}",
                l.name, shape, l.params, l.macs, l.out_bytes
            )?;
        }
        write!(
            f,
            "total: {} params, {} MACs/window, int8 arena ≈ {} B (input {} B)",
            self.params, self.macs, self.arena_estimate, self.input_bytes
        )
    }
}

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

/// A convolution with BatchNorm folded in, followed by ReLU.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatConv {
    /// Geometry.
    pub geom: ConvGeom,
    /// Weights `[M, C/group, kH, kW]`.
    pub w: Vec<f32>,
    /// Bias `[M]`.
    pub b: Vec<f32>,
}

impl FloatConv {
    /// `relu(conv(x) + b)` for one `[C, H, W]` input.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let g = &self.geom;
        let [c, h, w] = g.in_chw;
        let [m, oh, ow] = g.out_chw;
        let [kh, kw] = g.kernel;
        let cpg = c / g.group;
        let mpg = m / g.group;
        let mut y = vec![0f32; m * oh * ow];
        for oc in 0..m {
            let grp = oc / mpg;
            let wm = &self.w[oc * cpg * kh * kw..(oc + 1) * cpg * kh * kw];
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = self.b[oc];
                    for ic in 0..cpg {
                        let xc = &x[(grp * cpg + ic) * h * w..(grp * cpg + ic + 1) * h * w];
                        for ky in 0..kh {
                            let iy = (oy * g.stride[0] + ky) as isize - g.pads[0] as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * g.stride[1] + kx) as isize - g.pads[1] as isize;
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                acc += xc[iy as usize * w + ix as usize]
                                    * wm[(ic * kh + ky) * kw + kx];
                            }
                        }
                    }
                    y[(oc * oh + oy) * ow + ox] = acc.max(0.0);
                }
            }
        }
        y
    }
}

/// The linear head, `y = x·W + b` with `W` `[k, n]` row-major (Burn's layout,
/// ONNX `MatMul`'s `B`).
#[derive(Debug, Clone, PartialEq)]
pub struct FloatLinear {
    /// Inputs.
    pub k: usize,
    /// Outputs.
    pub n: usize,
    /// `[k, n]`.
    pub w: Vec<f32>,
    /// `[n]`.
    pub b: Vec<f32>,
}

impl FloatLinear {
    /// `x·W` without the bias.
    pub fn matmul(&self, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; self.n];
        for (i, &xi) in x.iter().enumerate() {
            for (yj, &wij) in y.iter_mut().zip(&self.w[i * self.n..(i + 1) * self.n]) {
                *yj += xi * wij;
            }
        }
        y
    }
}

/// The student as plain f32 layers, BatchNorm folded: what gets quantised.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatNet {
    /// Input `[T, M]` (the model input is `[1, 1, T, M]`).
    pub in_shape: [usize; 2],
    /// Convolutions, each followed by ReLU.
    pub convs: Vec<FloatConv>,
    /// Head.
    pub head: FloatLinear,
}

/// Every intermediate value of one forward pass of a [`FloatNet`].
#[derive(Debug, Clone, PartialEq)]
pub struct Activations {
    /// Output of each convolution (after ReLU).
    pub convs: Vec<Vec<f32>>,
    /// Pooled embedding `[C]`.
    pub pooled: Vec<f32>,
    /// `pooled · W` without the bias `[n]`.
    pub matmul: Vec<f32>,
    /// Logits `[n]`.
    pub logits: Vec<f32>,
}

impl FloatNet {
    /// Reference f32 forward pass of one standardised `[T·M]` window.
    pub fn forward(&self, x: &[f32]) -> Activations {
        let mut convs: Vec<Vec<f32>> = Vec::with_capacity(self.convs.len());
        for conv in &self.convs {
            let y = conv.forward(convs.last().map_or(x, Vec::as_slice));
            convs.push(y);
        }
        let last = convs.last().map_or(x, Vec::as_slice);
        let c = self.head.k;
        let hw = last.len() / c;
        let pooled: Vec<f32> = last
            .chunks(hw)
            .map(|ch| ch.iter().sum::<f32>() / hw as f32)
            .collect();
        let matmul = self.head.matmul(&pooled);
        let logits = matmul
            .iter()
            .zip(&self.head.b)
            .map(|(y, b)| y + b)
            .collect();
        Activations {
            convs,
            pooled,
            matmul,
            logits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Param, RunningState};
    use burn::tensor::TensorData;

    #[test]
    fn default_student_fits_the_budget() {
        let s = StudentConfig::default().stats();
        println!("{s}");
        assert!(s.params <= 300_000, "{} params", s.params);
        assert!(s.macs <= 5_000_000, "{} MACs", s.macs);
        assert!(
            s.arena_estimate <= 32 * 1024,
            "{} B arena",
            s.arena_estimate
        );
        assert_eq!(s.input_bytes, 98 * 80);
        // The stem: 16 × 49 × 20 outputs, 25 MACs each.
        assert_eq!(s.layers[0].out_shape, vec![16, 49, 20]);
        assert_eq!(s.layers[0].macs, 16 * 49 * 20 * 25);
    }

    #[test]
    fn burn_forward_equals_the_folded_float_net() {
        let device = Device::flex();
        device.seed(7);
        let config = StudentConfig {
            n_frames: 20,
            n_mels: 16,
            ..StudentConfig::tiny(3)
        };
        let mut student = config.init(&device);
        // Non-trivial BatchNorm statistics, so that folding is exercised.
        let perturb = |bn: &mut Option<BatchNorm>, k: f32| {
            let bn = bn.as_mut().unwrap();
            let c = bn.gamma.val().dims()[0];
            let v = |f: &dyn Fn(usize) -> f32| {
                Tensor::<1>::from_data(
                    TensorData::new((0..c).map(f).collect::<Vec<f32>>(), [c]),
                    &device,
                )
            };
            bn.running_mean = RunningState::new(v(&|i| 0.1 * i as f32 - k));
            bn.running_var = RunningState::new(v(&|i| 0.5 + 0.2 * i as f32));
            bn.gamma = Param::from_tensor(v(&|i| 1.0 + 0.1 * i as f32));
            bn.beta = Param::from_tensor(v(&|i| 0.05 * i as f32 - 0.1));
        };
        perturb(&mut student.stem.bn, 0.2);
        for (i, b) in student.blocks.iter_mut().enumerate() {
            perturb(&mut b.dw.bn, 0.1 * i as f32);
            perturb(&mut b.pw.bn, -0.1);
        }
        let net = student.to_float_net(&config);
        let n = config.n_frames * config.n_mels;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let t = Tensor::<4>::from_data(
            TensorData::new(x.clone(), [1, 1, config.n_frames, config.n_mels]),
            &device,
        );
        let burn = student.forward(t).into_data().try_to_vec::<f32>().unwrap();
        let ours = net.forward(&x).logits;
        for (a, b) in burn.iter().zip(&ours) {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + a.abs()),
                "burn {a} vs folded {b}"
            );
        }
    }
}
