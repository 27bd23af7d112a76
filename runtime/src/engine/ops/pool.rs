//! Average pooling of an int8 tensor, in integers: the window sum of
//! `clamp(x) − x_zp` is requantised by `x_scale / (count · y_scale)`.
//! Equal to the float graph (`DequantizeLinear → AveragePool →
//! QuantizeLinear`) except where f32 rounding of the float path moves a value
//! across a rounding tie.

use crate::engine::kernels::generic::requantize;
use crate::engine::kernels::select::clamped_sum;
use crate::fixed::RoundingScaler;
use crate::model::program::PoolStep;

/// Runs `step`: `x` is `[C, H, W]`, `y` is `[C, OH, OW]`.
pub fn run(step: &PoolStep, x: &[u8], y: &mut [u8]) {
    let geo = &step.geo;
    let [c_n, h, w] = geo.in_chw;
    let [_, oh, ow] = geo.out_chw;
    let [kh, kw] = geo.kernel;
    let x_zp = i32::from(step.x_quant.zero_point);
    let (lo, hi) = step.pre_clamp;
    // The scaler of the last window's count (most windows have the same).
    let mut scaler: Option<(usize, RoundingScaler)> = None;
    for c in 0..c_n {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut sum = 0i32;
                let mut count = 0usize;
                // The window's columns inside the row, `[ix0, ix1)`: padded
                // positions add nothing (and count only with count_include_pad).
                let start = ox * geo.stride[1];
                let ix0 = start.saturating_sub(geo.pads[1]).min(w);
                let ix1 = (start + kw).saturating_sub(geo.pads[1]).min(w);
                for ky in 0..kh {
                    let iy = (oy * geo.stride[0] + ky).wrapping_sub(geo.pads[0]);
                    if iy >= h {
                        continue; // also catches "negative" (wrapped) rows
                    }
                    let row = (c * h + iy) * w;
                    let xs = x.get(row + ix0..row + ix1.max(ix0)).unwrap_or(&[]);
                    sum = sum.wrapping_add(clamped_sum(xs, lo, hi));
                    count += xs.len();
                }
                // Σ (x − zp) = Σ x − n·zp, in the same wrapping arithmetic.
                sum = sum.wrapping_sub(x_zp.wrapping_mul(count as i32));
                if step.count_include_pad {
                    count = kh * kw;
                }
                let scaler = match scaler {
                    Some((n, s)) if n == count => s,
                    _ => {
                        let scale = if count == 0 {
                            0.0
                        } else {
                            step.x_quant.scale / (count as f32 * step.y.quant.scale)
                        };
                        let s = RoundingScaler::new(scale);
                        scaler = Some((count, s));
                        s
                    }
                };
                if let Some(out) = y.get_mut((c * oh + oy) * ow + ox) {
                    *out = requantize(sum, scaler, &step.y);
                }
            }
        }
    }
}
