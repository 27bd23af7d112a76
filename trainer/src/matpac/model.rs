//! The MATPAC student (everything the optimiser trains) and its forward
//! passes: masked training forward (student, predictor, teacher, heads) and
//! the evaluation embedding.

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::config::MatpacConfig;
use super::encoder::Encoder;
use super::heads::{ClsHead, HeadInit};
use super::init::param;
use super::mask::Mask;
use super::mcl::{best_hypothesis, hypothesis_losses, select};
use super::patch::PatchEmbed;
use super::pos_embed::sincos_2d;
use super::predictor::{Predictor, PredictorShape, int_index};
use super::rng::Rng;

/// The trained model: patch embedding, CLS token, student encoder, predictor,
/// student classification head. Positions are fixed tables (not parameters).
#[derive(Module, Debug)]
pub struct Student {
    /// Patch projection (shared, live, with the teacher path).
    pub patch_embed: PatchEmbed,
    /// CLS token `[1, 1, D]` (its position embedding is zero).
    pub cls_token: Param<Tensor<3>>,
    /// Student encoder.
    pub encoder: Encoder,
    /// Predictor.
    pub predictor: Predictor,
    /// Student classification head.
    pub head: ClsHead,
    /// Fixed `[1 + L, D]` sin-cos table (CLS row zero).
    #[module(skip)]
    pub pos: Vec<f32>,
    /// Patch grid `(n_freq, n_time)`.
    #[module(skip)]
    pub grid: (usize, usize),
    /// Input standardisation `(mean, std)`.
    #[module(skip)]
    pub norm_stats: (f32, f32),
}

/// The teacher: an encoder (blocks + final norm) and a head, both EMAs,
/// kept on the device without autodiff.
#[derive(Module, Debug)]
pub struct Teacher {
    /// Teacher encoder: separately initialised (not a copy), then EMA of the student's.
    pub encoder: Encoder,
    /// Teacher head: EMA of the student head.
    pub head: ClsHead,
}

/// Output of the training forward pass.
pub struct ForwardOut {
    /// Latent loss of every predictor hypothesis at masked positions
    /// `[B, Nm, H]` (autodiff; `H` = 1 for MATPAC).
    pub hyp_losses: Tensor<3>,
    /// Index of each token's best hypothesis `[B, Nm, 1]`.
    pub best: Tensor<3, Int>,
    /// Teacher final-norm outputs at masked positions `[B, Nm, D]` (no autodiff).
    pub target: Tensor<3>,
    /// Student head logits at masked positions `[B, Nm, K]` (autodiff).
    pub student_logits: Tensor<3>,
    /// Teacher head logits `[B, Nm, K]` (no autodiff).
    pub teacher_logits: Tensor<3>,
}

/// Builds the student and the teacher from one seed, in a fixed order:
/// patch, CLS, student encoder, predictor, student head, teacher encoder,
/// teacher head. `device` may have autodiff; the teacher goes to its inner device.
pub fn build(cfg: &MatpacConfig, rng: &mut Rng, device: &Device) -> (Student, Teacher) {
    let m = &cfg.model;
    let grid = (cfg.n_freq_patches(), cfg.n_time_patches());
    let d = m.encoder_dim;
    let patch_embed = PatchEmbed::new(rng, m.patch_size, d, device);
    let cls_token = param(
        (0..d).map(|_| (rng.normal() * 0.02) as f32).collect(),
        [1, 1, d],
        device,
    );
    let encoder = Encoder::new(
        rng,
        d,
        m.encoder_depth,
        m.encoder_heads,
        m.mlp_ratio,
        m.layer_norm_eps,
        device,
    );
    let predictor = Predictor::new(
        rng,
        PredictorShape {
            enc_dim: d,
            dim: m.predictor_dim,
            depth: m.predictor_depth,
            heads: m.predictor_heads,
            mlp_ratio: m.mlp_ratio,
            eps: m.layer_norm_eps,
            grid,
            hypotheses: cfg.mcl.heads.max(1),
        },
        device,
    );
    let head_dims = [
        d,
        m.head_hidden_dim,
        m.head_hidden_dim,
        m.head_bottleneck_dim,
    ];
    // The reference draws the head's last layer once and copies it into the teacher head;
    // draw the teacher head's MLP with its own init, then share `last_v`.
    let head = ClsHead::new(rng, head_dims, m.n_classes, HeadInit::Xavier, device);
    let plain = device.clone().inner();
    let t_encoder = Encoder::new(
        rng,
        d,
        m.encoder_depth,
        m.encoder_heads,
        m.mlp_ratio,
        m.layer_norm_eps,
        &plain,
    );
    let mut t_head = ClsHead::new(rng, head_dims, m.n_classes, HeadInit::TruncNormal, &plain);
    t_head.last_v = Param::from_tensor(head.last_v.val().inner());
    let teacher = Teacher {
        encoder: t_encoder,
        head: t_head,
    }
    .no_grad();
    let student = Student {
        patch_embed,
        cls_token,
        encoder,
        predictor,
        head,
        pos: sincos_2d(d, grid.0, grid.1, true),
        grid,
        norm_stats: (m.input_mean, m.input_std),
    };
    (student, teacher)
}

impl Student {
    /// Encoder width.
    pub fn dim(&self) -> usize {
        self.cls_token.dims()[2]
    }

    /// Standardised, patch-embedded input plus positions, `[B, F, T] → [B, L, D]`
    /// (`T` may be any multiple of the patch side up to the training crop).
    pub fn embed_patches(&self, x: Tensor<3>) -> Tensor<3> {
        let device = x.device();
        let (mean, std) = self.norm_stats;
        let tokens = self.patch_embed.forward(x.sub_scalar(mean).div_scalar(std));
        let [_, l, d] = tokens.dims();
        let (nf, nt_full) = self.grid;
        let nt = l / nf;
        // Positions of the first `nt` time steps of every frequency row (short inputs).
        let mut pos = Vec::with_capacity(l * d);
        for f in 0..nf {
            let start = (1 + f * nt_full) * d;
            pos.extend_from_slice(&self.pos[start..start + nt * d]);
        }
        tokens + Tensor::<3>::from_data(TensorData::new(pos, [1, l, d]), &device)
    }

    /// CLS token with its (zero) position, expanded to `[B, 1, D]`.
    fn cls(&self, b: usize) -> Tensor<3> {
        let d = self.dim();
        self.cls_token.val().expand([b, 1, d])
    }

    /// The masked training forward. The teacher runs without autodiff on a
    /// detached copy of the masked tokens and CLS (the reference's `no_grad`).
    pub fn forward_train(&self, teacher: &Teacher, x: Tensor<3>, mask: &Mask) -> ForwardOut {
        let device = x.device();
        let tokens = self.embed_patches(x);
        let [b, l, d] = tokens.dims();
        let flat = tokens.reshape([b * l, d]);
        let visible = flat
            .clone()
            .select(0, int_index(mask.visible_rows(), &device))
            .reshape([b, mask.n_visible(), d]);
        let masked = flat
            .select(0, int_index(mask.masked_rows(), &device))
            .reshape([b, mask.n_masked(), d]);
        let cls = self.cls(b);
        let z_v = self
            .encoder
            .forward(Tensor::cat(vec![cls.clone(), visible], 1));
        let hyps = self.predictor.forward(z_v, mask);
        let teacher_in = Tensor::cat(vec![cls, masked], 1).inner();
        let target = teacher
            .encoder
            .forward(teacher_in)
            .narrow(1, 1, mask.n_masked());
        // MATPAC++: the classification task sees each token's best hypothesis.
        let hyp_losses = hypothesis_losses(hyps.clone(), target.clone());
        let best = best_hypothesis(hyp_losses.clone());
        let student_logits = self.head.forward(select(hyps, best.clone()));
        let teacher_logits = teacher.head.forward(target.clone());
        ForwardOut {
            hyp_losses,
            best,
            target,
            student_logits,
            teacher_logits,
        }
    }

    /// Student encoder output for whole inputs, `[B, F, T] → [B, 1 + L, D]`.
    pub fn encode(&self, x: Tensor<3>) -> Tensor<3> {
        let tokens = self.embed_patches(x);
        let [b, _, _] = tokens.dims();
        self.encoder
            .forward(Tensor::cat(vec![self.cls(b), tokens], 1))
    }

    /// Clip embedding (`docs/architecture.md`): log-mel `[n_mels, n_frames]` row-major
    /// (frame-major input is transposed by the caller). As the reference
    /// inference code's "precise" mode: the clip is padded at its end to a
    /// multiple of the patch side with the normalisation mean (zero after
    /// standardisation), then encoded in chunks of the training crop length,
    /// the last one shorter. Per chunk: last layer after the final norm, CLS dropped,
    /// the `n_freq` patches of each time step concatenated (lowest band
    /// first); chunks concatenated in time; mean over time. Returns `n_freq · D` values.
    pub fn embed_clip(
        &self,
        mel: &[f32],
        n_mels: usize,
        n_frames: usize,
        device: &Device,
    ) -> Vec<f32> {
        self.embed_batch(&[mel], n_mels, n_frames, device)
            .pop()
            .expect("one clip in, one embedding out")
    }

    /// [`Self::embed_clip`] of several clips of the same length at once (one
    /// encoder pass per chunk for the whole batch): `n_freq · D` values each.
    pub fn embed_batch(
        &self,
        mels: &[&[f32]],
        n_mels: usize,
        n_frames: usize,
        device: &Device,
    ) -> Vec<Vec<f32>> {
        let (nf, _) = self.grid;
        let d = self.dim();
        let mut sums = vec![vec![0.0f64; nf * d]; mels.len()];
        let mut steps = 0usize;
        for (z, nt) in self.clip_tokens(mels, n_mels, n_frames, device) {
            let z: Vec<f32> = z.into_data().try_to_vec().expect("f32 embedding");
            for (sum, z) in sums.iter_mut().zip(z.chunks_exact(nf * nt * d)) {
                for t in 0..nt {
                    for f in 0..nf {
                        let row = &z[(f * nt + t) * d..][..d];
                        sum[f * d..(f + 1) * d]
                            .iter_mut()
                            .zip(row)
                            .for_each(|(s, &v)| *s += v as f64);
                    }
                }
            }
            steps += nt;
        }
        sums.iter()
            .map(|sum| sum.iter().map(|&s| (s / steps as f64) as f32).collect())
            .collect()
    }

    /// The encoder's output tokens of clips `[n_mels, n_frames]` (all the same
    /// length), each padded to a multiple of the patch side (see
    /// [`Self::embed_clip`]), in chunks of at most one training crop: per chunk
    /// `[B, n_freq · nt, D]` (frequency-major, CLS dropped) and its `nt` time patches.
    pub fn clip_tokens(
        &self,
        mels: &[&[f32]],
        n_mels: usize,
        n_frames: usize,
        device: &Device,
    ) -> Vec<(Tensor<3>, usize)> {
        let (nf, nt_full) = self.grid;
        assert!(
            mels.iter().all(|m| m.len() == n_mels * n_frames),
            "log-mel is [n_mels, n_frames]"
        );
        let patch = n_mels / nf;
        let crop = nt_full * patch;
        let frames = n_frames.div_ceil(patch) * patch;
        let mut out = Vec::new();
        let mut start = 0;
        while start < frames {
            let len = (frames - start).min(crop);
            // Frames past the clip's end are the normalisation mean (zero once standardised).
            let mut chunk = vec![self.norm_stats.0; mels.len() * n_mels * len];
            for (dst, mel) in chunk.chunks_exact_mut(n_mels * len).zip(mels) {
                let real = n_frames.saturating_sub(start).min(len);
                for (row, src) in dst.chunks_exact_mut(len).zip(mel.chunks_exact(n_frames)) {
                    row[..real].copy_from_slice(&src[start..start + real]);
                }
            }
            let x =
                Tensor::<3>::from_data(TensorData::new(chunk, [mels.len(), n_mels, len]), device);
            let nt = len / patch;
            out.push((self.encode(x).narrow(1, 1, nf * nt), nt));
            start += len;
        }
        out
    }
}
