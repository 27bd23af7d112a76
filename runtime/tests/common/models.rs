//! Random single-op models for parity tests: each returns the ONNX bytes,
//! the input shape and the output quantisation step (for "within one step"
//! comparisons; 0 for float outputs).
#![allow(dead_code)]

use super::*;

pub struct Case {
    pub bytes: Vec<u8>,
    pub input_dims: Vec<usize>,
    /// Output step (scale of the last DequantizeLinear), 0 for float tails.
    pub step: f32,
    pub x_scale: f32,
    pub x_zp: i8,
}

#[derive(Debug, Clone, Copy)]
pub struct ConvParams {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub m: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub dil: usize,
    pub depthwise: bool,
    pub per_channel: bool,
    pub relu: bool,
}

fn out_scale(rng: &mut Rng, xs: f32, ws: f32, terms: usize) -> f32 {
    // Roughly the spread of a sum of `terms` products of int8 values, mapped to ±100.
    xs * ws * 128.0 * 128.0 * (terms as f32).sqrt() / 200.0 * rng.uniform(0.5, 2.0)
}

fn weight_scales(rng: &mut Rng, n: usize, per_channel: bool) -> Vec<f32> {
    let n = if per_channel { n } else { 1 };
    (0..n).map(|_| rng.uniform(0.001, 0.02)).collect()
}

/// `x → QuantizeLinear → QLinearConv | (DequantizeLinear → Conv(DQ w, DQ b) → [Relu] → QuantizeLinear) → DequantizeLinear`.
pub fn conv(rng: &mut Rng, p: ConvParams, qdq: bool) -> Case {
    let group = if p.depthwise { p.c } else { 1 };
    let m = if p.depthwise { p.c } else { p.m };
    let cpg = p.c / group;
    let input_dims = vec![1, p.c, p.h, p.w];
    let mut b = Builder::new(&input_dims);
    let xs = rng.uniform(0.01, 0.1);
    let xz = rng.int(-20, 20) as i8;
    let q = b.quantize("x", xs, xz);
    let ws = weight_scales(rng, m, p.per_channel);
    let w = rng.i8s(m * cpg * p.k * p.k);
    let ws_max = ws.iter().copied().fold(0.0, f32::max);
    let ys = out_scale(rng, xs, ws_max, cpg * p.k * p.k);
    let yz = if p.relu { -128 } else { rng.int(-10, 10) as i8 };
    let bias: Vec<i32> = (0..m).map(|_| rng.int(-3000, 3000)).collect();
    let wname = b.init(i8_tensor("w", &[m, cpg, p.k, p.k], &w));
    let wsname = b.init(f32_tensor("w_scale", &[ws.len()], &ws));
    let wzname = b.init(i8_tensor("w_zp", &[ws.len()], &vec![0; ws.len()]));
    let bname = b.init(i32_tensor("bias", &[m], &bias));
    let attrs = || {
        vec![
            attr_ints("kernel_shape", &[p.k as i64, p.k as i64]),
            attr_ints("strides", &[p.stride as i64, p.stride as i64]),
            attr_ints("pads", &[p.pad as i64; 4]),
            attr_ints("dilations", &[p.dil as i64, p.dil as i64]),
            attr_int("group", group as i64),
        ]
    };
    let y = if qdq {
        let xd = b.dequantize(&q, xs, xz);
        let wd = b.op(
            "DequantizeLinear",
            &[&wname, &wsname, &wzname],
            vec![attr_int("axis", 0)],
        );
        let bs: Vec<f32> = ws.iter().map(|s| s * xs).collect();
        let bsname = b.init(f32_tensor("b_scale", &[bs.len()], &bs));
        let bzname = b.init(i32_tensor("b_zp", &[bs.len()], &vec![0; bs.len()]));
        let bd = b.op(
            "DequantizeLinear",
            &[&bname, &bsname, &bzname],
            vec![attr_int("axis", 0)],
        );
        let mut c = b.op("Conv", &[&xd, &wd, &bd], attrs());
        if p.relu {
            c = b.op("Relu", &[&c], vec![]);
        }
        b.quantize(&c, ys, yz)
    } else {
        let (xsn, xzn) = b.qparams(xs, xz);
        let (ysn, yzn) = b.qparams(ys, yz);
        b.op(
            "QLinearConv",
            &[&q, &xsn, &xzn, &wname, &wsname, &wzname, &ysn, &yzn, &bname],
            attrs(),
        )
    };
    let out = b.dequantize(&y, ys, yz);
    let oh = (p.h + 2 * p.pad - p.dil * (p.k - 1) - 1) / p.stride + 1;
    let ow = (p.w + 2 * p.pad - p.dil * (p.k - 1) - 1) / p.stride + 1;
    Case {
        bytes: b.finish(&out, &[1, m, oh, ow]),
        input_dims,
        step: ys,
        x_scale: xs,
        x_zp: xz,
    }
}

/// `x[1,K] → Q → QLinearMatMul(B[K,N])`, or QDQ `Gemm(DQ B[, DQ C])` (transB optional) `→ Q`, `→ DQ`.
pub fn matmul(
    rng: &mut Rng,
    k: usize,
    n: usize,
    per_channel: bool,
    gemm: bool,
    trans_b: bool,
) -> Case {
    let input_dims = vec![1, k];
    let mut b = Builder::new(&input_dims);
    let xs = rng.uniform(0.01, 0.1);
    let xz = rng.int(-20, 20) as i8;
    let q = b.quantize("x", xs, xz);
    let ws = weight_scales(rng, n, per_channel);
    let w = rng.i8s(k * n);
    let ws_max = ws.iter().copied().fold(0.0, f32::max);
    let ys = out_scale(rng, xs, ws_max, k);
    let yz = rng.int(-10, 10) as i8;
    let bdims: [usize; 2] = if trans_b { [n, k] } else { [k, n] };
    let wname = b.init(i8_tensor("w", &bdims, &w));
    let wsname = b.init(f32_tensor("w_scale", &[ws.len()], &ws));
    let wzname = b.init(i8_tensor("w_zp", &[ws.len()], &vec![0; ws.len()]));
    let y = if gemm {
        let xd = b.dequantize(&q, xs, xz);
        let axis = if trans_b { 0 } else { 1 };
        let wd = b.op(
            "DequantizeLinear",
            &[&wname, &wsname, &wzname],
            vec![attr_int("axis", axis)],
        );
        let bias: Vec<i32> = (0..n).map(|_| rng.int(-3000, 3000)).collect();
        let bname = b.init(i32_tensor("bias", &[n], &bias));
        let bs: Vec<f32> = ws.iter().map(|s| s * xs).collect();
        let bsname = b.init(f32_tensor("b_scale", &[bs.len()], &bs));
        let bd = b.op(
            "DequantizeLinear",
            &[&bname, &bsname],
            vec![attr_int("axis", 0)],
        );
        let g = b.op(
            "Gemm",
            &[&xd, &wd, &bd],
            vec![attr_int("transB", trans_b as i64)],
        );
        b.quantize(&g, ys, yz)
    } else {
        let (xsn, xzn) = b.qparams(xs, xz);
        let (ysn, yzn) = b.qparams(ys, yz);
        b.op(
            "QLinearMatMul",
            &[&q, &xsn, &xzn, &wname, &wsname, &wzname, &ysn, &yzn],
            vec![],
        )
    };
    let out = b.dequantize(&y, ys, yz);
    Case {
        bytes: b.finish(&out, &[1, n]),
        input_dims,
        step: ys,
        x_scale: xs,
        x_zp: xz,
    }
}

/// `x → Q → DQ → [Relu] → AveragePool | GlobalAveragePool → Q → DQ [→ Flatten]`.
#[allow(clippy::too_many_arguments)]
pub fn pool(
    rng: &mut Rng,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    pad: usize,
    global: bool,
    cip: bool,
    relu: bool,
) -> Case {
    let input_dims = vec![1, c, h, w];
    let mut b = Builder::new(&input_dims);
    let xs = rng.uniform(0.01, 0.1);
    let xz = rng.int(-20, 20) as i8;
    let q = b.quantize("x", xs, xz);
    let mut d = b.dequantize(&q, xs, xz);
    if relu {
        d = b.op("Relu", &[&d], vec![]);
    }
    let ys = xs * rng.uniform(0.3, 1.5);
    let yz = rng.int(-10, 10) as i8;
    let (p, oh, ow) = if global {
        (b.op("GlobalAveragePool", &[&d], vec![]), 1, 1)
    } else {
        let attrs = vec![
            attr_ints("kernel_shape", &[k as i64, k as i64]),
            attr_ints("strides", &[stride as i64, stride as i64]),
            attr_ints("pads", &[pad as i64; 4]),
            attr_int("count_include_pad", cip as i64),
        ];
        let p = b.op("AveragePool", &[&d], attrs);
        (
            p,
            (h + 2 * pad - k) / stride + 1,
            (w + 2 * pad - k) / stride + 1,
        )
    };
    let y = b.quantize(&p, ys, yz);
    let out = b.dequantize(&y, ys, yz);
    let flat = b.op("Flatten", &[&out], vec![]);
    Case {
        bytes: b.finish(&flat, &[1, c * oh * ow]),
        input_dims,
        step: ys,
        x_scale: xs,
        x_zp: xz,
    }
}

/// `x → Q(a) → DQ → [Relu] → Add(DQ(Q(x, other scale)) | const [C,1,1]) → [Relu] → Q → DQ`.
pub fn add(rng: &mut Rng, c: usize, h: usize, w: usize, with_const: bool, relu: bool) -> Case {
    let input_dims = vec![1, c, h, w];
    let mut b = Builder::new(&input_dims);
    let xs = rng.uniform(0.01, 0.1);
    let xz = rng.int(-20, 20) as i8;
    let qa = b.quantize("x", xs, xz);
    let mut da = b.dequantize(&qa, xs, xz);
    if relu {
        da = b.op("Relu", &[&da], vec![]);
    }
    let other = if with_const {
        let v: Vec<f32> = (0..c).map(|_| rng.uniform(-2.0, 2.0)).collect();
        b.init(f32_tensor("bias", &[c, 1, 1], &v))
    } else {
        // A second int8 tensor: a requantisation of the first (a residual-style
        // join of two int8 tensors with different scales).
        let ds = rng.uniform(0.01, 0.1);
        let dz = rng.int(-20, 20) as i8;
        let ra = b.quantize(&da, ds, dz);
        b.dequantize(&ra, ds, dz)
    };
    let mut s = b.op("Add", &[&da, &other], vec![]);
    if relu {
        s = b.op("Relu", &[&s], vec![]);
    }
    let ys = xs * rng.uniform(1.0, 3.0);
    let yz = rng.int(-10, 10) as i8;
    let y = b.quantize(&s, ys, yz);
    let out = b.dequantize(&y, ys, yz);
    Case {
        bytes: b.finish(&out, &input_dims),
        input_dims,
        step: ys,
        x_scale: xs,
        x_zp: xz,
    }
}

/// `x[1,K] → Q → QLinearMatMul → DQ → Add(float bias) → Sigmoid | Softmax` (float output).
pub fn head(rng: &mut Rng, k: usize, n: usize, softmax: bool) -> Case {
    let mut c = matmul(rng, k, n, true, false, false);
    // Rebuild with a float tail: decode is not needed, build anew.
    let input_dims = vec![1, k];
    let mut b = Builder::new(&input_dims);
    let xs = c.x_scale;
    let q = b.quantize("x", xs, c.x_zp);
    let ws = weight_scales(rng, n, true);
    let w = rng.i8s(k * n);
    let ys = out_scale(rng, xs, 0.02, k);
    let wname = b.init(i8_tensor("w", &[k, n], &w));
    let wsname = b.init(f32_tensor("w_scale", &[n], &ws));
    let wzname = b.init(i8_tensor("w_zp", &[n], &vec![0; n]));
    let (xsn, xzn) = b.qparams(xs, c.x_zp);
    let (ysn, yzn) = b.qparams(ys, 0);
    let y = b.op(
        "QLinearMatMul",
        &[&q, &xsn, &xzn, &wname, &wsname, &wzname, &ysn, &yzn],
        vec![],
    );
    let d = b.dequantize(&y, ys, 0);
    let bias: Vec<f32> = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let bn = b.init(f32_tensor("fc_bias", &[n], &bias));
    let a = b.op("Add", &[&d, &bn], vec![]);
    let t = b.op(if softmax { "Softmax" } else { "Sigmoid" }, &[&a], vec![]);
    c.bytes = b.finish(&t, &[1, n]);
    c.step = 0.0;
    c
}

/// Uniform input spanning the int8 range of the input quantisation (and a bit beyond).
pub fn input(rng: &mut Rng, case: &Case) -> Vec<f32> {
    let n: usize = case.input_dims.iter().product();
    let lo = (-140.0 - case.x_zp as f32) * case.x_scale;
    let hi = (140.0 - case.x_zp as f32) * case.x_scale;
    (0..n).map(|_| rng.uniform(lo, hi)).collect()
}
