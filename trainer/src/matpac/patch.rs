//! Patch embedding: a 16×16 convolution with stride 16 over the
//! `[n_mels, n_frames]` log-mel image, written as what it is for
//! non-overlapping patches: cut the image into patches, flatten each
//! (row-major, frequency then time: the flattened PyTorch conv weight
//! `[D, 1, 16, 16] → [D, 256]`), and apply one Linear `256 → D`.
//! Tokens come out frequency-major: token `f · n_time + t`.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::init::{param, torch_default_uniform, xavier_uniform};
use super::rng::Rng;

/// The patch projection.
#[derive(Module, Debug)]
pub struct PatchEmbed {
    /// `p² → D` (the conv weight, transposed to Burn's `[in, out]`).
    pub proj: Linear,
    /// Patch side.
    pub patch: usize,
}

impl PatchEmbed {
    /// Reference initialisation: xavier-uniform on the flattened conv weight
    /// (fans `p²` and `D`); the conv bias keeps PyTorch's default
    /// U(−1/p, 1/p) since the reference's `initialize_weights` leaves it alone.
    pub fn new(rng: &mut Rng, patch: usize, dim: usize, device: &Device) -> Self {
        let fan_in = patch * patch;
        let w = xavier_uniform(rng, fan_in, dim, fan_in * dim);
        let b = torch_default_uniform(rng, fan_in, dim);
        Self {
            proj: Linear {
                weight: param(w, [fan_in, dim], device),
                bias: Some(param(b, [dim], device)),
            },
            patch,
        }
    }

    /// `[B, F, T] → [B, (F/p)·(T/p), D]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.proj.forward(patchify(x, self.patch))
    }
}

/// `[B, F, T] → [B, (F/p)·(T/p), p²]`, frequency-major tokens, each patch
/// flattened frequency-major.
pub fn patchify(x: Tensor<3>, p: usize) -> Tensor<3> {
    let [b, f, t] = x.dims();
    let (nf, nt) = (f / p, t / p);
    x.reshape([b, nf, p, nt, p])
        .permute([0, 1, 3, 2, 4])
        .reshape([b, nf * nt, p * p])
}
