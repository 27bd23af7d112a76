//! Classification head (DINO head as MATPAC configures it): MLP
//! `D → hidden → hidden → bottleneck` with GELU (no BatchNorm, no dropout),
//! L2 normalisation (ε 1e-12), and a weight-normalised Linear
//! `bottleneck → K` without bias: `W = g · v / ‖v‖` row-wise (PyTorch
//! `weight_norm(dim=0)`: `weight_g [K, 1]`, `weight_v [K, bottleneck]`), `g`
//! initialised to 1 and trained.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor};

use super::init::{linear_from, linear_xavier, param, torch_default_uniform, trunc_normal};
use super::rng::Rng;

/// Classification head.
#[derive(Module, Debug)]
pub struct ClsHead {
    /// `D → hidden`.
    pub fc1: Linear,
    /// `hidden → hidden`.
    pub fc2: Linear,
    /// `hidden → bottleneck`.
    pub fc3: Linear,
    /// `weight_v`, `[K, bottleneck]`.
    pub last_v: Param<Tensor<2>>,
    /// `weight_g`, `[K, 1]`.
    pub last_g: Param<Tensor<2>>,
}

/// How the MLP of a head is initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadInit {
    /// xavier-uniform, zero bias (the student head: the reference's
    /// `initialize_weights` re-initialises it after construction).
    Xavier,
    /// trunc-normal std 0.02, zero bias (the teacher head: copied from the
    /// head at construction, before `initialize_weights`, which cannot reach
    /// it inside the EMA wrapper).
    TruncNormal,
}

impl ClsHead {
    /// A head; `last_v` draws PyTorch's default Linear init U(±1/√bottleneck).
    pub fn new(rng: &mut Rng, dims: [usize; 4], k: usize, init: HeadInit, device: &Device) -> Self {
        let [d, hidden, _, bottleneck] = dims;
        let lin = |rng: &mut Rng, a: usize, b: usize| match init {
            HeadInit::Xavier => linear_xavier(rng, a, b, device),
            HeadInit::TruncNormal => {
                linear_from(trunc_normal(rng, 0.02, a * b), a, b, true, device)
            }
        };
        let fc1 = lin(rng, d, hidden);
        let fc2 = lin(rng, hidden, hidden);
        let fc3 = lin(rng, hidden, bottleneck);
        let last_v = param(
            torch_default_uniform(rng, bottleneck, k * bottleneck),
            [k, bottleneck],
            device,
        );
        let last_g = param(vec![1.0; k], [k, 1], device);
        Self {
            fc1,
            fc2,
            fc3,
            last_v,
            last_g,
        }
    }

    /// `[B, N, D] → [B, N, K]` logits.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = gelu(self.fc1.forward(x));
        let x = gelu(self.fc2.forward(x));
        let x = l2_normalize(self.fc3.forward(x), 1e-12);
        let v = self.last_v.val();
        let w = self.last_g.val() * v.clone() / v.powi_scalar(2).sum_dim(1).sqrt(); // [K, bottleneck]
        x.matmul(w.transpose().unsqueeze::<3>())
    }
}

/// `x / max(‖x‖₂, eps)` along the last axis (PyTorch `F.normalize`).
pub fn l2_normalize<const D: usize>(x: Tensor<D>, eps: f64) -> Tensor<D> {
    let norm = x
        .clone()
        .powi_scalar(2)
        .sum_dim(D - 1)
        .sqrt()
        .clamp_min(eps);
    x / norm
}
