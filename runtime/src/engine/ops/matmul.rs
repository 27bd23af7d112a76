//! Quantised matrix product with a constant right-hand side.

use crate::engine::kernels::generic::{bias_acc, channel_scaler, requantize};
use crate::engine::kernels::select::dot_strided;
use crate::model::program::MatMulStep;

/// Runs `step`: `a` is `[M, K]` int8, `y` is `[M, N]` int8.
pub fn run(step: &MatMulStep<'_>, a: &[u8], y: &mut [u8]) {
    let [m, k, n] = step.mkn;
    let a_zp = i32::from(step.a_quant.zero_point);
    for j in 0..n {
        let (b_scale, b_zp) = step.b_quant.channel(j);
        let scaler = channel_scaler(b_scale, step.a_quant.scale, step.y.quant.scale);
        let bias = bias_acc(&step.bias, j, step.a_quant.scale * b_scale);
        // B is [K, N] (column j: start j, stride N) or [N, K] (row j: start j·K, stride 1).
        let (start, stride) = if step.b_transposed {
            (j * k, 1)
        } else {
            (j, n)
        };
        for i in 0..m {
            let row = a.get(i * k..(i + 1) * k).unwrap_or(&[]);
            let acc = dot_strided(row, a_zp, step.b, start, stride, b_zp).wrapping_add(bias);
            if let Some(out) = y.get_mut(i * n + j) {
                *out = requantize(acc, scaler, &step.y);
            }
        }
    }
}
