//! Quantised 2-D convolution (regular, grouped and depthwise), NCHW.

use crate::engine::kernels::generic::{bias_acc, channel_scaler, conv_window, requantize};
use crate::model::program::ConvStep;

/// Runs `step`: `x` is `[C, H, W]` int8, `y` is `[M, OH, OW]` int8.
pub fn run(step: &ConvStep<'_>, x: &[u8], y: &mut [u8]) {
    let geo = &step.geo;
    let [m_out, oh, ow] = geo.out_chw;
    let [_, kh, kw] = [0, geo.kernel[0], geo.kernel[1]];
    let group = geo.group.max(1);
    let cpg = geo.in_chw[0] / group;
    let mpg = (m_out / group).max(1);
    let w_len = cpg * kh * kw;
    let x_zp = i32::from(step.x_quant.zero_point);
    for m in 0..m_out {
        let (w_scale, w_zp) = step.w_quant.channel(m);
        let scaler = channel_scaler(w_scale, step.x_quant.scale, step.y.quant.scale);
        let bias = bias_acc(&step.bias, m, step.x_quant.scale * w_scale);
        let w_m = step.w.get(m * w_len..(m + 1) * w_len).unwrap_or(&[]);
        let c0 = (m / mpg) * cpg;
        for oy in 0..oh {
            for ox in 0..ow {
                let acc = conv_window(x, x_zp, w_m, w_zp, geo, c0, oy, ox).wrapping_add(bias);
                if let Some(out) = y.get_mut((m * oh + oy) * ow + ox) {
                    *out = requantize(acc, scaler, &step.y);
                }
            }
        }
    }
}
