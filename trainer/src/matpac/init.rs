//! Parameter initialisation from the run's own [`Rng`] (not Burn's global
//! generator), so a seed fixes every weight on any backend and the PyTorch
//! reference can be given the very same numbers.
//!
//! Reference (`initialize_weights`): Linear xavier-uniform with zero bias,
//! LayerNorm 1/0, patch projection xavier-uniform on its flattened weight,
//! CLS and mask tokens N(0, 0.02).

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor, TensorData};

use super::rng::Rng;

/// `n` draws of U(−a, a) with a = √(6 / (fan_in + fan_out)).
pub fn xavier_uniform(rng: &mut Rng, fan_in: usize, fan_out: usize, n: usize) -> Vec<f32> {
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
    (0..n)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * a) as f32)
        .collect()
}

/// `n` draws of N(0, std²) truncated at ±2 (absolute, as `torch.nn.init.trunc_normal_`).
pub fn trunc_normal(rng: &mut Rng, std: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            loop {
                let x = rng.normal() * std;
                if x.abs() <= 2.0 {
                    break x as f32;
                }
            }
        })
        .collect()
}

/// `n` draws of U(−1/√fan_in, 1/√fan_in): PyTorch's default `nn.Linear` weight.
pub fn torch_default_uniform(rng: &mut Rng, fan_in: usize, n: usize) -> Vec<f32> {
    let a = 1.0 / (fan_in as f64).sqrt();
    (0..n)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * a) as f32)
        .collect()
}

/// A float tensor from row-major values.
pub fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A trainable parameter from row-major values.
pub fn param<const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Param<Tensor<D>> {
    Param::from_tensor(tensor(values, shape, device))
}

/// Linear `d_in → d_out` (Burn layout: weight `[d_in, d_out]`), xavier-uniform, zero bias.
pub fn linear_xavier(rng: &mut Rng, d_in: usize, d_out: usize, device: &Device) -> Linear {
    linear_from(
        xavier_uniform(rng, d_in, d_out, d_in * d_out),
        d_in,
        d_out,
        true,
        device,
    )
}

/// Linear with the given `[d_in, d_out]` weights and an optional zero bias.
pub fn linear_from(
    weight: Vec<f32>,
    d_in: usize,
    d_out: usize,
    bias: bool,
    device: &Device,
) -> Linear {
    Linear {
        weight: param(weight, [d_in, d_out], device),
        bias: bias.then(|| param(vec![0.0; d_out], [d_out], device)),
    }
}

/// LayerNorm with weight 1, bias 0.
pub fn layer_norm(d: usize, eps: f64, device: &Device) -> LayerNorm {
    LayerNormConfig::new(d).with_epsilon(eps).init(device)
}
