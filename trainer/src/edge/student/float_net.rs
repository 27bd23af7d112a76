//! The student with BatchNorm folded into its convolutions: plain f32
//! weights and a reference forward pass, what the int8 quantiser reads.

use super::config::ConvGeom;

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
