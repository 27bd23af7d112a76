//! Pre-LN ViT blocks (timm `Block`): fused `qkv` Linear with bias, softmax
//! attention, `proj`; MLP `fc1` → GELU (erf) → `fc2`; two LayerNorms
//! (ε = 1e-6); no dropout, no drop-path, no layer scale. The encoder is a
//! stack of blocks and a final LayerNorm.

use burn::module::Module;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Tensor};

use super::init::{layer_norm, linear_xavier};
use super::rng::Rng;

/// Multi-head self-attention with a fused qkv projection.
#[derive(Module, Debug)]
pub struct Attention {
    /// `dim → 3·dim`, output channels ordered `[q | k | v]`, each head-major.
    pub qkv: Linear,
    /// `dim → dim`.
    pub proj: Linear,
    /// Number of heads.
    pub n_heads: usize,
}

impl Attention {
    /// `[B, N, D] → [B, N, D]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let h = self.n_heads;
        let hd = d / h;
        let qkv = self
            .qkv
            .forward(x)
            .reshape([b, n, 3, h, hd])
            .permute([2, 0, 3, 1, 4]); // [3,B,H,N,hd]
        let q = qkv.clone().narrow(0, 0, 1).reshape([b, h, n, hd]);
        let k = qkv.clone().narrow(0, 1, 1).reshape([b, h, n, hd]);
        let v = qkv.narrow(0, 2, 1).reshape([b, h, n, hd]);
        let scale = (hd as f64).powf(-0.5);
        let attn = softmax(q.mul_scalar(scale).matmul(k.swap_dims(2, 3)), 3);
        let y = attn.matmul(v).swap_dims(1, 2).reshape([b, n, d]);
        self.proj.forward(y)
    }
}

/// Two-layer MLP with GELU.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `dim → ratio·dim`.
    pub fc1: Linear,
    /// `ratio·dim → dim`.
    pub fc2: Linear,
}

/// One pre-LN transformer block.
#[derive(Module, Debug)]
pub struct Block {
    /// Norm before attention.
    pub norm1: LayerNorm,
    /// Attention.
    pub attn: Attention,
    /// Norm before the MLP.
    pub norm2: LayerNorm,
    /// MLP.
    pub mlp: Mlp,
}

impl Block {
    /// A block of width `dim`, xavier-initialised from `rng`.
    pub fn new(
        rng: &mut Rng,
        dim: usize,
        heads: usize,
        mlp_ratio: usize,
        eps: f64,
        device: &Device,
    ) -> Self {
        let hidden = dim * mlp_ratio;
        Self {
            norm1: layer_norm(dim, eps, device),
            attn: Attention {
                // timm's fused qkv is one Linear(dim, 3·dim): xavier over fans (dim, 3·dim).
                qkv: linear_xavier(rng, dim, 3 * dim, device),
                proj: linear_xavier(rng, dim, dim, device),
                n_heads: heads,
            },
            norm2: layer_norm(dim, eps, device),
            mlp: Mlp {
                fc1: linear_xavier(rng, dim, hidden, device),
                fc2: linear_xavier(rng, hidden, dim, device),
            },
        }
    }

    /// `x + attn(norm1(x))`, then `x + mlp(norm2(x))`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.norm1.forward(x));
        let y = self
            .mlp
            .fc2
            .forward(gelu(self.mlp.fc1.forward(self.norm2.forward(x.clone()))));
        x + y
    }
}

/// A stack of blocks and a final LayerNorm: the part of the encoder that the
/// teacher tracks by EMA.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Transformer blocks.
    pub blocks: Vec<Block>,
    /// Final LayerNorm.
    pub norm: LayerNorm,
}

impl Encoder {
    /// `depth` blocks of width `dim`.
    pub fn new(
        rng: &mut Rng,
        dim: usize,
        depth: usize,
        heads: usize,
        mlp_ratio: usize,
        eps: f64,
        device: &Device,
    ) -> Self {
        Self {
            blocks: (0..depth)
                .map(|_| Block::new(rng, dim, heads, mlp_ratio, eps, device))
                .collect(),
            norm: layer_norm(dim, eps, device),
        }
    }

    /// `[B, N, D] → [B, N, D]` (blocks, then the final norm).
    pub fn forward(&self, mut x: Tensor<3>) -> Tensor<3> {
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.norm.forward(x)
    }
}
