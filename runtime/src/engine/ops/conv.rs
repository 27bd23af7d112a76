//! Quantised 2-D convolution (regular, grouped and depthwise), NCHW.

use crate::engine::kernels::generic::{
    ROW_CHUNK, bias_acc, channel_scaler, conv_row, pointwise_row, requantize, weight_sum,
};
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
    // 1×1, stride 1, unpadded, one group: a matrix product over the H·W pixels
    // of each plane, run as one long row (most of a DS-CNN's MACs).
    let pointwise = geo.kernel == [1, 1]
        && geo.stride == [1, 1]
        && geo.dilation == [1, 1]
        && geo.pads == [0; 4]
        && group == 1
        && [oh, ow] == [geo.in_chw[1], geo.in_chw[2]];
    let (rows, cols) = if pointwise { (1, oh * ow) } else { (oh, ow) };
    for m in 0..m_out {
        let (w_scale, w_zp) = step.w_quant.channel(m);
        let scaler = channel_scaler(w_scale, step.x_quant.scale, step.y.quant.scale);
        let bias = bias_acc(&step.bias, m, step.x_quant.scale * w_scale);
        let w_m = step.w.get(m * w_len..(m + 1) * w_len).unwrap_or(&[]);
        let c0 = (m / mpg) * cpg;
        let bias = if pointwise {
            bias.wrapping_sub(x_zp.wrapping_mul(weight_sum(w_m, w_zp)))
        } else {
            bias
        };
        for oy in 0..rows {
            for ox0 in (0..cols).step_by(ROW_CHUNK) {
                let n = ROW_CHUNK.min(cols - ox0);
                let mut acc = [bias; ROW_CHUNK];
                let acc = &mut acc[..n];
                if pointwise {
                    pointwise_row(x, w_m, w_zp, cols, ox0, acc);
                } else {
                    conv_row(x, x_zp, w_m, w_zp, geo, c0, oy, ox0, acc);
                }
                let start = (m * rows + oy) * cols + ox0;
                for (out, &a) in y
                    .get_mut(start..start + n)
                    .unwrap_or(&mut [])
                    .iter_mut()
                    .zip(acc.iter())
                {
                    *out = requantize(a, scaler, &step.y);
                }
            }
        }
    }
}
