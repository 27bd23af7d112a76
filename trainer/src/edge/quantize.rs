//! Post-training int8 quantisation of a [`FloatNet`] (BatchNorm already
//! folded by [`crate::edge::student::Student::to_float_net`]):
//!
//! - weights: symmetric per output channel, `s_m = max|w_m| / 127`, int8 in
//!   −127..=127, zero point 0;
//! - bias: int32 in accumulator units, `round(b_m / (s_x · s_m))`;
//! - activations: per tensor, asymmetric int8 with a zero point, ranges
//!   calibrated on real (standardised) feature windows by min/max or a
//!   percentile of the observed values. Every range contains 0.
//! - ReLU is folded into requantisation: a ReLU output's range is
//!   `[0, hi]`, so its zero point is −128 and the int8 saturation at −128
//!   *is* the ReLU (exact; no separate op).
//!
//! `edge::layer_errors` measures what this costs, layer by layer.

use super::student::{FloatConv, FloatNet};
use serde::{Deserialize, Serialize};

/// How activation ranges are chosen from the calibration values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Calibration {
    /// Smallest and largest value seen.
    MinMax,
    /// The given percentile of the values (and `100 − p` for the low end
    /// of tensors that can be negative), in percent, e.g. 99.99.
    Percentile(f64),
}

impl Default for Calibration {
    fn default() -> Self {
        Self::Percentile(99.99)
    }
}

/// Per-tensor affine int8 quantisation, `real = scale · (q − zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActQuant {
    /// Scale (> 0).
    pub scale: f32,
    /// Zero point.
    pub zero_point: i8,
}

impl ActQuant {
    /// The int8 grid covering `[lo, hi]` (widened to contain 0): the zero
    /// point makes 0 exactly representable; `lo = 0` gives −128 (ReLU).
    pub fn from_range(lo: f32, hi: f32) -> Self {
        let (lo, hi) = (lo.min(0.0), hi.max(0.0));
        let scale = ((hi - lo) / 255.0).max(1e-8);
        let zero_point = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i8;
        Self { scale, zero_point }
    }

    /// Quantises one value (round half to even, saturating), as ONNX `QuantizeLinear`.
    pub fn quantize(&self, x: f32) -> i8 {
        ((x / self.scale).round_ties_even() + f32::from(self.zero_point)).clamp(-128.0, 127.0) as i8
    }

    /// Dequantises one value.
    pub fn dequantize(&self, q: i8) -> f32 {
        (f32::from(q) - f32::from(self.zero_point)) * self.scale
    }
}

/// A quantised convolution (ReLU folded into its output quantisation).
#[derive(Debug, Clone, PartialEq)]
pub struct QConv {
    /// Float layer it came from (geometry, for reports and export).
    pub float: FloatConv,
    /// int8 weights `[M, C/group, kH, kW]`.
    pub w: Vec<i8>,
    /// Per-output-channel weight scales `[M]`.
    pub w_scale: Vec<f32>,
    /// int32 bias in accumulator units `[M]`.
    pub bias: Vec<i32>,
    /// Input quantisation.
    pub x: ActQuant,
    /// Output quantisation (zero point −128: ReLU).
    pub y: ActQuant,
}

/// The quantised head: `QLinearMatMul` then a float bias.
#[derive(Debug, Clone, PartialEq)]
pub struct QHead {
    /// Inputs.
    pub k: usize,
    /// Outputs.
    pub n: usize,
    /// int8 `[k, n]`.
    pub w: Vec<i8>,
    /// Per-column scales `[n]`.
    pub w_scale: Vec<f32>,
    /// Quantisation of `x·W` (before the bias).
    pub y: ActQuant,
    /// Float bias `[n]`, added after `DequantizeLinear`.
    pub bias: Vec<f32>,
}

/// The whole int8 student.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantModel {
    /// Input `[T, M]` (model input `[1, 1, T, M]`).
    pub in_shape: [usize; 2],
    /// Input quantisation (of standardised features).
    pub input: ActQuant,
    /// Convolutions.
    pub convs: Vec<QConv>,
    /// Pooled embedding quantisation.
    pub pool: ActQuant,
    /// Head.
    pub head: QHead,
}

/// Symmetric per-channel int8 weights of `[channels, per]` row-major data.
fn per_channel(w: &[f32], channels: usize) -> (Vec<i8>, Vec<f32>) {
    let per = w.len() / channels;
    let mut q = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(channels);
    for ch in w.chunks(per) {
        let max = ch.iter().fold(0f32, |m, v| m.max(v.abs()));
        let s = if max > 0.0 { max / 127.0 } else { 1.0 };
        scales.push(s);
        q.extend(
            ch.iter()
                .map(|v| (v / s).round_ties_even().clamp(-127.0, 127.0) as i8),
        );
    }
    (q, scales)
}

/// Range `[lo, hi]` of `values` by `cal` (sorts a copy for percentiles).
fn range(values: &mut [f32], cal: Calibration) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    match cal {
        Calibration::MinMax => values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            }),
        Calibration::Percentile(p) => {
            let n = values.len();
            let at = |q: f64| ((q / 100.0) * (n - 1) as f64).round() as usize;
            let (hi_i, lo_i) = (at(p.clamp(0.0, 100.0)), at(100.0 - p.clamp(0.0, 100.0)));
            let hi = *values.select_nth_unstable_by(hi_i, f32::total_cmp).1;
            let lo = *values.select_nth_unstable_by(lo_i, f32::total_cmp).1;
            (lo, hi)
        }
    }
}

/// Quantises `net`, calibrating activations on `windows` (standardised
/// `[T·M]` features; a few hundred real windows are plenty).
pub fn quantize(net: &FloatNet, windows: &[Vec<f32>], cal: Calibration) -> QuantModel {
    assert!(!windows.is_empty(), "calibration needs at least one window");
    let acts: Vec<_> = windows.iter().map(|w| net.forward(w)).collect();
    let gather = |values: Vec<&[f32]>| {
        let mut v: Vec<f32> = values.into_iter().flatten().copied().collect();
        range(&mut v, cal)
    };
    let (lo, hi) = gather(windows.iter().map(Vec::as_slice).collect());
    let input = ActQuant::from_range(lo, hi);
    let mut x = input;
    let mut convs = Vec::with_capacity(net.convs.len());
    for (l, conv) in net.convs.iter().enumerate() {
        let m = conv.geom.out_chw[0];
        let (w, w_scale) = per_channel(&conv.w, m);
        let bias = conv
            .b
            .iter()
            .zip(&w_scale)
            .map(|(b, s)| (f64::from(*b) / (f64::from(x.scale) * f64::from(*s))).round() as i32)
            .collect();
        let (_, hi) = gather(acts.iter().map(|a| a.convs[l].as_slice()).collect());
        let y = ActQuant::from_range(0.0, hi);
        convs.push(QConv {
            float: conv.clone(),
            w,
            w_scale,
            bias,
            x,
            y,
        });
        x = y;
    }
    let (_, hi) = gather(acts.iter().map(|a| a.pooled.as_slice()).collect());
    let pool = ActQuant::from_range(0.0, hi);
    let h = &net.head;
    // Per output column: transpose `[k, n]` to `[n, k]` to quantise by rows.
    let wt: Vec<f32> = (0..h.n)
        .flat_map(|j| (0..h.k).map(move |i| h.w[i * h.n + j]))
        .collect();
    let (qt, w_scale) = per_channel(&wt, h.n);
    let w = (0..h.k)
        .flat_map(|i| (0..h.n).map(|j| qt[j * h.k + i]).collect::<Vec<_>>())
        .collect();
    let (lo, hi) = gather(acts.iter().map(|a| a.matmul.as_slice()).collect());
    let head = QHead {
        k: h.k,
        n: h.n,
        w,
        w_scale,
        y: ActQuant::from_range(lo, hi),
        bias: h.b.clone(),
    };
    QuantModel {
        in_shape: net.in_shape,
        input,
        convs,
        pool,
        head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_ranges_get_zero_point_minus_128_and_zero_is_exact() {
        let q = ActQuant::from_range(0.0, 2.55);
        assert_eq!(q.zero_point, -128);
        assert!((q.scale - 0.01).abs() < 1e-9);
        assert_eq!(
            q.quantize(-1.0),
            -128,
            "negative values saturate to real 0: the folded ReLU"
        );
        let q = ActQuant::from_range(-1.3, 3.7);
        assert_eq!(q.dequantize(q.quantize(0.0)), 0.0);
        assert_eq!(q.quantize(-1.3), -128);
        assert_eq!(q.quantize(3.7), 127);
    }

    #[test]
    fn per_channel_weights_are_symmetric_and_use_the_full_range() {
        let w = [0.5, -1.0, 0.25, 0.0, 0.0, 0.0, 2.0, 1.0, -0.5];
        let (q, s) = per_channel(&w, 3);
        assert_eq!(&q[..3], &[64, -127, 32]);
        assert_eq!(&q[3..6], &[0, 0, 0], "an all-zero channel stays zero");
        assert_eq!(&q[6..], &[127, 64, -32]);
        assert_eq!(s[0], 1.0 / 127.0);
    }

    #[test]
    fn percentile_ignores_outliers_minmax_does_not() {
        let mut v: Vec<f32> = (0..10_000).map(|i| i as f32 / 10_000.0).collect();
        v.push(1000.0);
        assert_eq!(range(&mut v.clone(), Calibration::MinMax), (0.0, 1000.0));
        let (lo, hi) = range(&mut v, Calibration::Percentile(99.9));
        assert!(lo < 0.01 && (0.99..1.0).contains(&hi), "{lo} {hi}");
    }
}
