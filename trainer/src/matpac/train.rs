//! One MATPAC update and the training loop.
//!
//! Order of one update `t` (as the reference's `forward_cls_pred` and fairseq trainer):
//! 1. mask, student encoder on CLS + visible, predictor, teacher encoder on
//!    CLS + masked (no autodiff), both heads;
//! 2. teacher probabilities with the centre of step `t` and `τ_t(t)`; losses;
//! 3. the centre for step `t + 1` from this batch; EMA of the teacher head and
//!    encoder towards the current student (decays of update `t`; none at `t = 0`);
//! 4. backward, global-norm clipping, AdamW with the learning rate of update `t`.

use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};

use super::MatpacError;
use super::config::{CentreMode, MatpacConfig};
use super::ema::ema_update;
use super::loss::{Centre, cls_loss, distinct_argmax, mean_entropy, teacher_probs};
use super::mask::Mask;
use super::mcl::{assigned_loss, top_share};
use super::model::{Student, Teacher, build};
use super::rng::Rng;
use super::schedule::{LrSchedule, annealed, ema_decay};

/// Supplies training batches: `batch` crops of `[n_mels, n_frames]`, row-major,
/// natural-log mel (not standardised: the model standardises).
pub trait BatchSource {
    /// Fills one batch, drawing any randomness (crop positions) from `rng`.
    fn next_batch(
        &mut self,
        batch: usize,
        n_mels: usize,
        n_frames: usize,
        rng: &mut Rng,
    ) -> Vec<f32>;
}

/// What one update measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StepStats {
    /// Update index (updates done before this one).
    pub step: u64,
    /// Total loss `(1 − λ)·L_pred + λ·L_cls`.
    pub loss: f64,
    /// Masked latent prediction loss (mean over masked tokens).
    pub loss_pred: f64,
    /// Classification loss (mean over masked tokens).
    pub loss_cls: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Teacher temperature used.
    pub teacher_temp: f64,
    /// Entropy (nats) of the batch-mean teacher distribution.
    pub teacher_entropy: f64,
    /// Distinct teacher arg-max classes in the batch.
    pub teacher_classes: usize,
    /// Student accuracy: arg-max agreement with the teacher.
    pub accuracy: f64,
    /// Encoder EMA decay applied (1 when skipped).
    pub ema_decay: f64,
    /// MATPAC++: assignment temperature used (`None`: hard winner-takes-all,
    /// or MATPAC).
    pub mcl_temperature: Option<f64>,
    /// MATPAC++: share of masked tokens won by the most frequent hypothesis
    /// (1/H = balanced, 1 = collapsed; 1 for MATPAC).
    pub hyp_top_share: f64,
    /// Wall time of the update, seconds.
    pub seconds: f64,
}

/// Everything a run carries from one update to the next (what a checkpoint stores).
pub struct Trainer {
    /// Hyper-parameters.
    pub cfg: MatpacConfig,
    /// Trained model.
    pub student: Student,
    /// EMA teacher encoder and head.
    pub teacher: Teacher,
    /// AdamW state.
    pub optim: ModuleOptimizer,
    /// Teacher centre.
    pub centre: Centre,
    /// Updates done.
    pub step: u64,
    /// Masks and crops.
    pub rng: Rng,
    /// Training device (with autodiff).
    pub device: Device,
}

/// AdamW with the run's settings (Burn's defaults, ε 1e-5 and decay 1e-4, are overridden).
pub fn optimizer(cfg: &MatpacConfig) -> ModuleOptimizer {
    let t = &cfg.train;
    AdamWConfig::new()
        .with_beta_1(t.beta1 as f32)
        .with_beta_2(t.beta2 as f32)
        .with_epsilon(t.adam_eps as f32)
        .with_weight_decay(t.weight_decay as f32)
        .init()
}

impl Trainer {
    /// A fresh run: weights from `cfg.train.seed`. `device` should have autodiff.
    pub fn new(cfg: MatpacConfig, device: &Device) -> Result<Self, MatpacError> {
        cfg.validate()?;
        let mut init_rng = Rng::new(cfg.train.seed);
        let (student, teacher) = build(&cfg, &mut init_rng, device);
        Ok(Self {
            optim: optimizer(&cfg),
            centre: Centre::new(
                cfg.model.n_classes,
                cfg.train.centre_momentum,
                cfg.train.centre_mode,
            ),
            rng: Rng::new(cfg.train.seed ^ 0x6d61_7470_6163), // data stream, independent of init
            step: 0,
            student,
            teacher,
            cfg,
            device: device.clone(),
        })
    }

    /// The learning-rate schedule of this run.
    pub fn lr_schedule(&self) -> LrSchedule {
        LrSchedule {
            peak: self.cfg.peak_lr(),
            warmup: self.cfg.train.warmup_steps,
            total: self.cfg.train.total_steps,
        }
    }

    /// One update on `batch` (`[B, n_mels, n_frames]` row-major) with a fresh random mask.
    pub fn train_step(&mut self, batch: Vec<f32>) -> Result<StepStats, MatpacError> {
        let (b, l) = (self.cfg.train.batch_size, self.cfg.n_patches());
        let mask = Mask::random(b, l, self.cfg.model.mask_ratio, &mut self.rng);
        self.train_step_masked(batch, &mask)
    }

    /// One update with a given mask (tests and the PyTorch parity check).
    pub fn train_step_masked(
        &mut self,
        batch: Vec<f32>,
        mask: &Mask,
    ) -> Result<StepStats, MatpacError> {
        let started = Instant::now();
        let (m, tc) = (&self.cfg.model, &self.cfg.train);
        let t = self.step;
        let b = mask.batch();
        if batch.len() != b * m.n_mels * m.n_frames {
            return Err(MatpacError::Shape(format!(
                "batch has {} values, expected {b} × {} × {}",
                batch.len(),
                m.n_mels,
                m.n_frames
            )));
        }
        let x = Tensor::<3>::from_data(
            TensorData::new(batch, [b, m.n_mels, m.n_frames]),
            &self.device,
        );
        let out = self.student.forward_train(&self.teacher, x, mask);

        let plain = self.device.clone().inner();
        let temp = annealed(
            tc.teacher_temp_start,
            tc.teacher_temp_end,
            t,
            tc.teacher_temp_warmup_steps,
        );
        let p_t = teacher_probs(out.teacher_logits.clone(), self.centre.tensor(&plain), temp);
        let hypotheses = self.cfg.mcl.heads.max(1);
        let mcl_temperature = self.cfg.mcl.temperature(t).filter(|_| hypotheses > 1);
        // One hypothesis always wins everything: no need to read the indices back.
        let hyp_top_share = if hypotheses > 1 {
            top_share(out.best, hypotheses)
        } else {
            1.0
        };
        let lp = assigned_loss(out.hyp_losses, mcl_temperature).mean();
        let lambda = tc.lambda;
        let lc = cls_loss(out.student_logits.clone(), p_t.clone(), tc.student_temp).mean();
        let loss = if lambda == 0.0 {
            lp.clone()
        } else {
            lp.clone().mul_scalar(1.0 - lambda) + lc.clone().mul_scalar(lambda)
        };

        let loss_v = loss.clone().into_scalar::<f32>() as f64;
        let loss_pred = lp.inner().into_scalar::<f32>() as f64;
        let loss_cls = lc.inner().into_scalar::<f32>() as f64;
        if !loss_v.is_finite() {
            return Err(MatpacError::NonFinite {
                step: t,
                what: format!("loss = {loss_v} (pred {loss_pred}, cls {loss_cls})"),
            });
        }

        // Pseudo-class statistics.
        let k = m.n_classes;
        let probs: Vec<f32> = p_t
            .clone()
            .into_data()
            .try_to_vec()
            .expect("f32 probabilities");
        let student_p: Vec<f32> = out
            .student_logits
            .inner()
            .into_data()
            .try_to_vec()
            .expect("f32 logits");
        let agree = probs
            .chunks_exact(k)
            .zip(student_p.chunks_exact(k))
            .filter(|(a, s)| argmax(a) == argmax(s))
            .count();
        let accuracy = agree as f64 / (probs.len() / k) as f64;

        // Centre for the next step; EMA updates in the forward pass, before backward.
        match tc.centre_mode {
            CentreMode::Probabilities => self.centre.update(p_t),
            CentreMode::Logits => self.centre.update(out.teacher_logits),
        }
        let total = tc.total_steps;
        if let Some(d) = ema_decay(tc.head_ema_decay_start, tc.head_ema_decay_end, t, total) {
            self.teacher.head = ema_update(self.teacher.head.clone(), &self.student.head, d);
        }
        let enc_decay = ema_decay(tc.ema_decay_start, tc.ema_decay_end, t, total);
        if let Some(d) = enc_decay {
            self.teacher.encoder =
                ema_update(self.teacher.encoder.clone(), &self.student.encoder, d);
        }

        let grads = loss.backward();
        let mut grads = GradientsParams::from_grads(grads, &self.student);
        let grad_norm = clip_global_norm(&self.student, &mut grads, tc.clip_grad_norm);
        if !grad_norm.is_finite() {
            return Err(MatpacError::NonFinite {
                step: t,
                what: format!("gradient norm = {grad_norm}"),
            });
        }
        let lr = self.lr_schedule().at(t);
        self.student = self.optim.step(lr, self.student.clone(), grads);
        self.step += 1;
        Ok(StepStats {
            step: t,
            loss: loss_v,
            loss_pred,
            loss_cls,
            lr,
            grad_norm,
            teacher_temp: temp,
            teacher_entropy: mean_entropy(&probs, k),
            teacher_classes: distinct_argmax(&probs, k),
            accuracy,
            ema_decay: enc_decay.unwrap_or(1.0),
            mcl_temperature,
            hyp_top_share,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Draws a batch from `source` with the run's generator and runs one update.
    pub fn step_from(&mut self, source: &mut dyn BatchSource) -> Result<StepStats, MatpacError> {
        let m = &self.cfg.model;
        let batch = source.next_batch(
            self.cfg.train.batch_size,
            m.n_mels,
            m.n_frames,
            &mut self.rng,
        );
        self.train_step(batch)
    }

    /// Clip embeddings of the student encoder (see [`Student::embed_clip`]), on the plain device.
    pub fn embed_clip(&self, mel: &[f32], n_mels: usize, n_frames: usize) -> Vec<f32> {
        let plain = self.device.clone().inner();
        self.student
            .valid()
            .embed_clip(mel, n_mels, n_frames, &plain)
    }

    /// [`Self::embed_clip`] of same-length clips in one batch.
    pub fn embed_batch(&self, mels: &[&[f32]], n_mels: usize, n_frames: usize) -> Vec<Vec<f32>> {
        let plain = self.device.clone().inner();
        self.student
            .valid()
            .embed_batch(mels, n_mels, n_frames, &plain)
    }

    /// The teacher's pseudo-class distribution of same-length clips
    /// `[n_mels, n_frames]`, `[K]` each, summing to 1: the student encoder's
    /// tokens (the frozen encoder that `embed_clip` uses) through the EMA
    /// teacher head, centred, `softmax((logits − c) / τ_t)` at the final
    /// teacher temperature, mean over tokens. The distillation target of the KL term.
    pub fn pseudo_classes(&self, mels: &[&[f32]], n_mels: usize, n_frames: usize) -> Vec<Vec<f32>> {
        let plain = self.device.clone().inner();
        let k = self.cfg.model.n_classes;
        let centre = self.centre.tensor(&plain);
        let mut sums = vec![vec![0.0f64; k]; mels.len()];
        let mut tokens = 0usize;
        for (z, _) in self
            .student
            .valid()
            .clip_tokens(mels, n_mels, n_frames, &plain)
        {
            let n = z.dims()[1];
            let logits = self.teacher.head.forward(z);
            let p =
                super::loss::teacher_probs(logits, centre.clone(), self.cfg.train.teacher_temp_end);
            let p: Vec<f32> = p.into_data().try_to_vec().expect("f32 probabilities");
            for (sum, clip) in sums.iter_mut().zip(p.chunks_exact(n * k)) {
                for row in clip.chunks_exact(k) {
                    sum.iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
                }
            }
            tokens += n;
        }
        sums.iter()
            .map(|sum| {
                sum.iter()
                    .map(|&s| (s / tokens.max(1) as f64) as f32)
                    .collect()
            })
            .collect()
    }
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.sum += g.powi_scalar(2).sum().into_scalar::<f32>() as f64;
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Global-norm clipping over all of `module`'s gradients (PyTorch
/// `clip_grad_norm_`: scale by `max / (norm + 1e-6)` when that is below 1).
/// Returns the norm before clipping. `max_norm ≤ 0` only measures.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut v = SquaredNorm { grads, sum: 0.0 };
    module.visit(&mut v);
    let norm = v.sum.sqrt();
    if max_norm > 0.0 && norm.is_finite() {
        let factor = max_norm / (norm + 1e-6);
        if factor < 1.0 {
            module.visit(&mut Scale { grads, factor });
        }
    }
    norm
}
