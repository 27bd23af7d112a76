//! The predictor (M2D/MATPAC "decoder"): embeds the encoded visible tokens
//! into its own width, puts one learnable mask token at every masked position,
//! adds its own fixed sin-cos table, runs its blocks and final norm, and
//! projects the masked positions back to the encoder width: one projection
//! (MATPAC) or one per hypothesis (MATPAC++, [`super::mcl`]).

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::encoder::Block;
use super::init::{layer_norm, linear_xavier, param};
use super::mask::Mask;
use super::pos_embed::sincos_2d;
use super::rng::Rng;

/// Predictor.
#[derive(Module, Debug)]
pub struct Predictor {
    /// Encoder width → predictor width.
    pub embed: Linear,
    /// The mask token `[1, 1, Dp]`, N(0, 0.02).
    pub mask_token: Param<Tensor<3>>,
    /// Blocks.
    pub blocks: Vec<Block>,
    /// Final norm.
    pub norm: LayerNorm,
    /// Predictor width → encoder width (the first hypothesis).
    pub pred: Linear,
    /// The further hypotheses' projections (MATPAC++); empty for MATPAC.
    pub more_hyps: Vec<Linear>,
    /// Fixed `[1 + L, Dp]` sin-cos table (CLS row zero), not trained.
    #[module(skip)]
    pub pos: Vec<f32>,
}

/// Predictor shape.
#[derive(Debug, Clone, Copy)]
pub struct PredictorShape {
    /// Encoder width.
    pub enc_dim: usize,
    /// Predictor width.
    pub dim: usize,
    /// Blocks.
    pub depth: usize,
    /// Heads.
    pub heads: usize,
    /// MLP ratio.
    pub mlp_ratio: usize,
    /// LayerNorm ε.
    pub eps: f64,
    /// Patch grid.
    pub grid: (usize, usize),
    /// Hypotheses per masked token (1 for MATPAC).
    pub hypotheses: usize,
}

impl Predictor {
    /// Reference initialisation.
    pub fn new(rng: &mut Rng, s: PredictorShape, device: &Device) -> Self {
        let embed = linear_xavier(rng, s.enc_dim, s.dim, device);
        let blocks = (0..s.depth)
            .map(|_| Block::new(rng, s.dim, s.heads, s.mlp_ratio, s.eps, device))
            .collect();
        let norm = layer_norm(s.dim, s.eps, device);
        let pred = linear_xavier(rng, s.dim, s.enc_dim, device);
        let mask_token = param(
            (0..s.dim).map(|_| (rng.normal() * 0.02) as f32).collect(),
            [1, 1, s.dim],
            device,
        );
        // Drawn last, so a MATPAC predictor's weights do not depend on them.
        let more_hyps = (1..s.hypotheses.max(1))
            .map(|_| linear_xavier(rng, s.dim, s.enc_dim, device))
            .collect();
        Self {
            embed,
            mask_token,
            blocks,
            norm,
            pred,
            more_hyps,
            pos: sincos_2d(s.dim, s.grid.0, s.grid.1, true),
        }
    }

    /// `z_v`: the student encoder's output `[B, 1 + Nv, D]` (CLS first, visible
    /// tokens in mask order). Returns predictions `[B, Nm, H, D]` for the
    /// masked tokens, in mask order (`H` = 1 for MATPAC).
    pub fn forward(&self, z_v: Tensor<3>, mask: &Mask) -> Tensor<4> {
        let device = z_v.device();
        let y = self.embed.forward(z_v);
        let [b, _, dp] = y.dims();
        let (l, nv, nm) = (mask.n_tokens(), mask.n_visible(), mask.n_masked());
        let cls = y.clone().narrow(1, 0, 1);
        let visible = y.narrow(1, 1, nv);
        let masks = self.mask_token.val().expand([b, nm, dp]);
        // [visible…, mask tokens…] per sample, then back to token order.
        let seq = Tensor::cat(vec![visible, masks], 1).reshape([b * l, dp]);
        let seq = seq
            .select(0, int_index(mask.restore_rows(), &device))
            .reshape([b, l, dp]);
        let pos: Tensor<3> =
            Tensor::from_data(TensorData::new(self.pos.clone(), [1, 1 + l, dp]), &device);
        let mut x = Tensor::cat(vec![cls, seq], 1) + pos;
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = self.norm.forward(x).narrow(1, 1, l).reshape([b * l, dp]);
        let x = x
            .select(0, int_index(mask.masked_rows(), &device))
            .reshape([b, nm, dp]);
        let hyps = std::iter::once(&self.pred)
            .chain(&self.more_hyps)
            .map(|p| p.forward(x.clone()))
            .collect();
        Tensor::stack(hyps, 2)
    }
}

/// A 1-D integer index tensor.
pub fn int_index(rows: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = rows.len();
    Tensor::from_data(TensorData::new(rows, [n]), device)
}
