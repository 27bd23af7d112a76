//! MATPAC hyper-parameters: presets `paper`, `small`, `tiny` and their
//! MATPAC++ variants (`paper++`, …), read from and written to TOML; every
//! field can be overridden with `key=value`.
//!
//! The float front end that makes the model's input is part of the
//! configuration (`[frontend]`), so a checkpoint records the features it was
//! trained on and everything that embeds with it computes the same ones.
//!
//! Over 400 lines on purpose: the schema's field documentation, the presets
//! and the validation of one configuration.

use matpac_runtime::frontend::FrontendConfig;
use serde::{Deserialize, Serialize};

use super::MatpacError;

/// Everything a run needs: the model shape and the optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatpacConfig {
    /// Model architecture and input layout.
    pub model: ModelConfig,
    /// Optimisation, schedules, losses.
    pub train: TrainConfig,
    /// The float log-mel front end that makes the model's input (specified in
    /// `docs/frontend.md`). Absent from configurations written before it was
    /// recorded: those were trained on the default (n_fft 512), which is what
    /// they load as.
    #[serde(default)]
    pub frontend: FrontendConfig,
    /// MATPAC++ multiple-choice prediction (`docs/matpac-plus-plus.md`); off
    /// (`heads = 0`) in MATPAC and in configurations written before it existed.
    #[serde(default)]
    pub mcl: MclConfig,
}

/// MATPAC++: the predictor proposes several hypotheses per masked token,
/// trained by annealed winner-takes-all (Multiple Choice Learning), and the
/// best one feeds the classification task. Names and defaults follow the
/// reference implementation's `mcl_heads` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MclConfig {
    /// Hypotheses per masked token (`n_head`, 5 in MATPAC++); 0 = MATPAC.
    pub heads: usize,
    /// Assignment temperature at update 0.
    pub temperature_start: f64,
    /// Below this temperature the assignment is hard (plain winner-takes-all).
    pub temperature_end: f64,
    /// Temperature at update t: `temperature_start · decay_rate^t`.
    pub decay_rate: f64,
}

impl Default for MclConfig {
    /// Off, with the reference's MATPAC++ temperatures (0.1 → 1e-4, ×0.99997 per update).
    fn default() -> Self {
        Self {
            heads: 0,
            temperature_start: 0.1,
            temperature_end: 1e-4,
            decay_rate: 0.99997,
        }
    }
}

impl MclConfig {
    /// Fraction of a schedule after which the paper's run turns hard: its
    /// temperature reaches the end value at update ln(1e-3)/ln(0.99997) of 294,816.
    const HARD_FROM: f64 = 0.78;

    /// The reference's MATPAC++ setting: 5 hypotheses.
    pub fn paper() -> Self {
        Self {
            heads: 5,
            ..Self::default()
        }
    }

    /// 5 hypotheses with the decay rate that turns the assignment hard at the
    /// same fraction of a `total_steps` schedule as in the paper's run.
    pub fn scaled(total_steps: u64) -> Self {
        let p = Self::paper();
        let steps = Self::HARD_FROM * total_steps as f64;
        Self {
            decay_rate: (p.temperature_end / p.temperature_start).powf(1.0 / steps),
            ..p
        }
    }

    /// The assignment temperature at update `step`; `None` once it is at or
    /// below `temperature_end` (hard winner-takes-all from then on).
    pub fn temperature(&self, step: u64) -> Option<f64> {
        let t = self.temperature_start * self.decay_rate.powf(step as f64);
        (t > self.temperature_end).then_some(t)
    }
}

/// Architecture (`docs/architecture.md`, "MATPAC model").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Mel bands of the input (80).
    pub n_mels: usize,
    /// Frames of a training crop (608 = 6.08 s).
    pub n_frames: usize,
    /// Square patch side (16).
    pub patch_size: usize,
    /// Encoder width (768).
    pub encoder_dim: usize,
    /// Encoder blocks (12).
    pub encoder_depth: usize,
    /// Encoder attention heads (12).
    pub encoder_heads: usize,
    /// MLP hidden width as a multiple of the block width (4).
    pub mlp_ratio: usize,
    /// Predictor width (512).
    pub predictor_dim: usize,
    /// Predictor blocks (8).
    pub predictor_depth: usize,
    /// Predictor attention heads (16).
    pub predictor_heads: usize,
    /// Classification head hidden width (2048).
    pub head_hidden_dim: usize,
    /// Classification head bottleneck width before the weight-normalised layer (256).
    pub head_bottleneck_dim: usize,
    /// Number of pseudo-classes K (2048).
    pub n_classes: usize,
    /// LayerNorm epsilon (1e-6, timm ViT).
    pub layer_norm_eps: f64,
    /// Fraction of patches masked (0.7).
    pub mask_ratio: f64,
    /// Input standardisation: `(x − input_mean) / input_std` (AudioSet: −7.056, 4.193;
    /// a run on its own data replaces them by the data set's statistics).
    pub input_mean: f32,
    /// See `input_mean`.
    pub input_std: f32,
}

/// Optimisation and the MATPAC-specific schedules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Clips per update.
    pub batch_size: usize,
    /// Total updates (the length of the cosine and of the EMA schedules).
    pub total_steps: u64,
    /// Linear learning-rate warm-up, updates.
    pub warmup_steps: u64,
    /// Peak learning rate for a batch of `base_batch_size`; the run uses
    /// `base_lr · batch_size / base_batch_size` (linear scaling rule).
    pub base_lr: f64,
    /// Batch size `base_lr` refers to (paper: 3e-4 at 2048).
    pub base_batch_size: usize,
    /// AdamW β1.
    pub beta1: f64,
    /// AdamW β2.
    pub beta2: f64,
    /// AdamW ε.
    pub adam_eps: f64,
    /// AdamW decoupled weight decay, applied to every parameter.
    pub weight_decay: f64,
    /// Global-norm gradient clipping threshold (0 disables).
    pub clip_grad_norm: f64,
    /// Teacher encoder EMA decay at update 0.
    pub ema_decay_start: f64,
    /// Teacher encoder EMA decay at `total_steps`.
    pub ema_decay_end: f64,
    /// Teacher head EMA decay at update 0.
    pub head_ema_decay_start: f64,
    /// Teacher head EMA decay at `total_steps`.
    pub head_ema_decay_end: f64,
    /// Teacher temperature at update 0.
    pub teacher_temp_start: f64,
    /// Teacher temperature after the warm-up.
    pub teacher_temp_end: f64,
    /// Teacher temperature warm-up, updates.
    pub teacher_temp_warmup_steps: u64,
    /// Student temperature.
    pub student_temp: f64,
    /// Momentum of the teacher centre.
    pub centre_momentum: f64,
    /// What the centre averages: teacher probabilities (reference) or logits (DINO).
    pub centre_mode: CentreMode,
    /// Weight of the classification loss: `(1 − λ)·L_pred + λ·L_cls` (0.5; 0 = ablation).
    pub lambda: f64,
    /// Seed of the initialisation, masks and crops.
    pub seed: u64,
    /// Write a checkpoint every this many updates (and at the end).
    pub checkpoint_every: u64,
    /// Log a metrics row every this many updates.
    pub log_every: u64,
}

/// What the teacher centre tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CentreMode {
    /// Batch mean of the teacher probabilities after centring and softmax (reference).
    Probabilities,
    /// Batch mean of the teacher logits (DINO).
    Logits,
}

/// Named presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The paper's model and schedule (GPU).
    Paper,
    /// ViT 4×192×3, predictor 2×128×4, K 256: a CPU-trainable model.
    Small,
    /// A model that trains in seconds, for tests and smoke runs.
    Tiny,
    /// `paper` with MATPAC++'s five hypotheses (the reference's `matpac_plusplus.yaml`).
    #[value(name = "paper++")]
    #[serde(rename = "paper++")]
    PaperPlusPlus,
    /// `small` with five hypotheses (temperature decay scaled to its schedule).
    #[value(name = "small++")]
    #[serde(rename = "small++")]
    SmallPlusPlus,
    /// `tiny` with five hypotheses (temperature decay scaled to its schedule).
    #[value(name = "tiny++")]
    #[serde(rename = "tiny++")]
    TinyPlusPlus,
}

impl MatpacConfig {
    /// The configuration of a preset.
    pub fn preset(p: Preset) -> Self {
        match p {
            Preset::Paper => Self::paper(),
            Preset::Small => Self::small(),
            Preset::Tiny => Self::tiny(),
            Preset::PaperPlusPlus => Self::paper().with_mcl(MclConfig::paper()),
            Preset::SmallPlusPlus => Self::small().scaled_mcl(),
            Preset::TinyPlusPlus => Self::tiny().scaled_mcl(),
        }
    }

    /// This configuration with `mcl`.
    pub fn with_mcl(mut self, mcl: MclConfig) -> Self {
        self.mcl = mcl;
        self
    }

    /// This configuration with five hypotheses whose temperature turns hard at
    /// the paper's fraction of this schedule.
    fn scaled_mcl(self) -> Self {
        let mcl = MclConfig::scaled(self.train.total_steps);
        self.with_mcl(mcl)
    }

    /// Paper: 300 epochs of 2,012,615 clips at batch 2048, on the reference
    /// implementation's front end (n_fft 400: the 400-sample window without
    /// zero padding; everything else as [`FrontendConfig::default`]).
    pub fn paper() -> Self {
        Self {
            frontend: FrontendConfig {
                n_fft: 400,
                ..FrontendConfig::default()
            },
            mcl: MclConfig::default(),
            model: ModelConfig {
                n_mels: 80,
                n_frames: 608,
                patch_size: 16,
                encoder_dim: 768,
                encoder_depth: 12,
                encoder_heads: 12,
                mlp_ratio: 4,
                predictor_dim: 512,
                predictor_depth: 8,
                predictor_heads: 16,
                head_hidden_dim: 2048,
                head_bottleneck_dim: 256,
                n_classes: 2048,
                layer_norm_eps: 1e-6,
                mask_ratio: 0.7,
                input_mean: -7.056,
                input_std: 4.193,
            },
            train: TrainConfig {
                batch_size: 2048,
                total_steps: 294_816,
                warmup_steps: 19_654,
                base_lr: 3e-4,
                base_batch_size: 2048,
                beta1: 0.9,
                beta2: 0.95,
                adam_eps: 1e-6,
                weight_decay: 0.05,
                clip_grad_norm: 3.0,
                ema_decay_start: 0.99995,
                ema_decay_end: 0.99999,
                head_ema_decay_start: 0.998,
                head_ema_decay_end: 1.0,
                teacher_temp_start: 0.04,
                teacher_temp_end: 0.07,
                teacher_temp_warmup_steps: 9_827,
                student_temp: 0.1,
                centre_momentum: 0.9,
                centre_mode: CentreMode::Probabilities,
                lambda: 0.5,
                seed: 0,
                checkpoint_every: 1_000,
                log_every: 50,
            },
        }
    }

    /// Small: a CPU-trainable model (presets in `docs/architecture.md`), the one
    /// `bench/` compares with the PyTorch reference. Its peak learning rate is
    /// 3e-4 at batch 16 (not linearly scaled down from 2048, which would give
    /// 2.3e-6 and learn nothing in a CPU-length run), and its encoder EMA is
    /// faster (0.999 → 0.9999) because it runs 15× fewer updates. Its front end
    /// is the default one (n_fft 512, the runtime's size).
    pub fn small() -> Self {
        let mut c = Self::paper();
        c.frontend = FrontendConfig::default();
        c.model.encoder_dim = 192;
        c.model.encoder_depth = 4;
        c.model.encoder_heads = 3;
        c.model.predictor_dim = 128;
        c.model.predictor_depth = 2;
        c.model.predictor_heads = 4;
        c.model.head_hidden_dim = 512;
        c.model.head_bottleneck_dim = 128;
        c.model.n_classes = 256;
        c.train.batch_size = 16;
        c.train.base_batch_size = 16;
        c.train.total_steps = 20_000;
        c.train.warmup_steps = 1_000;
        c.train.teacher_temp_warmup_steps = 1_000;
        c.train.ema_decay_start = 0.999;
        c.train.ema_decay_end = 0.9999;
        c.train.checkpoint_every = 500;
        c.train.log_every = 10;
        c
    }

    /// Tiny: trains in seconds on a CPU (tests, smoke runs). Faster EMAs
    /// (encoder 0.99 → 0.999, head 0.9 → 1) so the teacher follows within a
    /// few dozen updates.
    pub fn tiny() -> Self {
        let mut c = Self::small();
        c.model.encoder_dim = 64;
        c.model.encoder_depth = 2;
        c.model.encoder_heads = 2;
        c.model.predictor_dim = 32;
        c.model.predictor_depth = 1;
        c.model.predictor_heads = 2;
        c.model.head_hidden_dim = 128;
        c.model.head_bottleneck_dim = 32;
        c.model.n_classes = 64;
        c.train.batch_size = 8;
        c.train.base_batch_size = 8;
        c.train.base_lr = 1e-3;
        c.train.total_steps = 200;
        c.train.warmup_steps = 10;
        c.train.teacher_temp_warmup_steps = 20;
        c.train.ema_decay_start = 0.99;
        c.train.ema_decay_end = 0.999;
        c.train.head_ema_decay_start = 0.9;
        c.train.checkpoint_every = 50;
        c.train.log_every = 1;
        c
    }

    /// Parses a TOML document (all fields required; start from a preset's
    /// `to_toml` or use [`MatpacConfig::apply_toml`] for partial files).
    pub fn from_toml(text: &str) -> Result<Self, MatpacError> {
        let c: Self = toml::from_str(text).map_err(|e| MatpacError::Config(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// Overlays a partial TOML document (only the keys it sets change).
    pub fn apply_toml(&self, text: &str) -> Result<Self, MatpacError> {
        let overlay: toml::Table =
            toml::from_str(text).map_err(|e| MatpacError::Config(e.to_string()))?;
        let mut base = toml::Table::try_from(self).expect("config serialises");
        merge(&mut base, overlay);
        let c: Self = base
            .try_into()
            .map_err(|e: toml::de::Error| MatpacError::Config(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    /// Overrides one field: `section.key=value` or `key=value` (looked up in
    /// `model`, `train`, `frontend` then `mcl`), the value in TOML syntax (`0.5`,
    /// `"logits"`); e.g. `frontend.n_fft=400`, `mcl.heads=5`.
    pub fn set(&self, assignment: &str) -> Result<Self, MatpacError> {
        let (key, value) = assignment.split_once('=').ok_or_else(|| {
            MatpacError::Config(format!("override `{assignment}` is not key=value"))
        })?;
        let (key, value) = (key.trim(), value.trim());
        let table = toml::Table::try_from(self).expect("config serialises");
        let section = match key.split_once('.') {
            Some((s, _)) => s.to_string(),
            None => ["model", "train", "frontend", "mcl"]
                .into_iter()
                .find(|s| table[*s].as_table().is_some_and(|t| t.contains_key(key)))
                .ok_or_else(|| MatpacError::Config(format!("unknown hyper-parameter `{key}`")))?
                .to_string(),
        };
        let field = key.rsplit('.').next().unwrap_or(key);
        let parsed: toml::Table = toml::from_str(&format!("v = {value}"))
            .or_else(|_| toml::from_str(&format!("v = \"{value}\"")))
            .map_err(|e| MatpacError::Config(format!("bad value for `{key}`: {e}")))?;
        self.apply_toml(&format!("[{section}]\n{field} = {}", parsed["v"]))
    }

    /// Peak learning rate after the linear batch-size scaling.
    pub fn peak_lr(&self) -> f64 {
        self.train.base_lr * self.train.batch_size as f64 / self.train.base_batch_size as f64
    }

    /// Patches along frequency.
    pub fn n_freq_patches(&self) -> usize {
        self.model.n_mels / self.model.patch_size
    }
    /// Patches along time.
    pub fn n_time_patches(&self) -> usize {
        self.model.n_frames / self.model.patch_size
    }
    /// Patches per crop (190).
    pub fn n_patches(&self) -> usize {
        self.n_freq_patches() * self.n_time_patches()
    }

    /// Checks shapes and ranges.
    pub fn validate(&self) -> Result<(), MatpacError> {
        let m = &self.model;
        let t = &self.train;
        let bad = |s: String| Err(MatpacError::Config(s));
        let mcl = &self.mcl;
        if mcl.heads > 0
            && !(mcl.temperature_start > 0.0
                && mcl.temperature_end >= 0.0
                && mcl.decay_rate > 0.0
                && mcl.decay_rate <= 1.0)
        {
            return bad(format!(
                "mcl: temperatures must be positive and decay_rate in (0, 1], got {mcl:?}"
            ));
        }
        if m.patch_size == 0
            || !m.n_mels.is_multiple_of(m.patch_size)
            || !m.n_frames.is_multiple_of(m.patch_size)
        {
            return bad(format!(
                "n_mels {} and n_frames {} must be multiples of patch_size {}",
                m.n_mels, m.n_frames, m.patch_size
            ));
        }
        for (name, dim, heads) in [
            ("encoder", m.encoder_dim, m.encoder_heads),
            ("predictor", m.predictor_dim, m.predictor_heads),
        ] {
            if heads == 0 || dim % heads != 0 || dim % 4 != 0 {
                return bad(format!(
                    "{name} width {dim} must be a multiple of 4 and of its {heads} heads"
                ));
            }
        }
        if !(0.0..1.0).contains(&m.mask_ratio)
            || Self::n_visible_check(self) == 0
            || Self::n_visible_check(self) == self.n_patches()
        {
            return bad(format!(
                "mask_ratio {} must leave both visible and masked patches",
                m.mask_ratio
            ));
        }
        if let Err(e) = self.frontend.validate() {
            return bad(format!("frontend: {e}"));
        }
        if m.n_mels != self.frontend.n_mels {
            return bad(format!(
                "model n_mels {} differs from frontend n_mels {} (set both)",
                m.n_mels, self.frontend.n_mels
            ));
        }
        if m.input_std.is_nan() || m.input_std <= 0.0 {
            return bad("input_std must be positive".into());
        }
        if t.batch_size == 0 || t.base_batch_size == 0 || t.total_steps == 0 {
            return bad("batch_size, base_batch_size and total_steps must be positive".into());
        }
        if !(0.0..=1.0).contains(&t.lambda) {
            return bad(format!("lambda {} must be in [0, 1]", t.lambda));
        }
        if !(t.teacher_temp_start > 0.0 && t.teacher_temp_end > 0.0 && t.student_temp > 0.0) {
            return bad("temperatures must be positive".into());
        }
        if t.checkpoint_every == 0 || t.log_every == 0 {
            return bad("checkpoint_every and log_every must be positive".into());
        }
        Ok(())
    }

    fn n_visible_check(&self) -> usize {
        super::mask::Mask::n_visible_for(self.n_patches(), self.model.mask_ratio)
    }
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_paper_matches_design() {
        for p in [Preset::Paper, Preset::Small, Preset::Tiny] {
            MatpacConfig::preset(p).validate().unwrap();
        }
        let c = MatpacConfig::paper();
        assert_eq!(c.n_patches(), 190);
        assert_eq!((c.n_freq_patches(), c.n_time_patches()), (5, 38));
        assert!((c.peak_lr() - 3e-4).abs() < 1e-15);
        let mut half = c.clone();
        half.train.batch_size = 1024;
        assert!((half.peak_lr() - 1.5e-4).abs() < 1e-15, "linear scaling");
    }

    #[test]
    fn toml_round_trip_and_overrides() {
        let c = MatpacConfig::tiny();
        assert_eq!(MatpacConfig::from_toml(&c.to_toml()).unwrap(), c);
        let d = c
            .set("lambda=0")
            .unwrap()
            .set("model.n_classes=32")
            .unwrap()
            .set("centre_mode=logits")
            .unwrap();
        assert_eq!(d.train.lambda, 0.0);
        assert_eq!(d.model.n_classes, 32);
        assert_eq!(d.train.centre_mode, CentreMode::Logits);
        let e = c.apply_toml("[train]\nseed = 9\n").unwrap();
        assert_eq!(e.train.seed, 9);
        assert_eq!(e.model, c.model);
        assert!(c.set("no_such_key=1").is_err());
        assert!(c.set("lambda=2").is_err(), "validated");
        assert!(
            c.apply_toml("[train]\nsed = 9\n").is_err(),
            "unknown keys rejected"
        );
    }

    #[test]
    fn paper_uses_the_reference_n_fft_and_the_others_the_runtime_one() {
        let paper = MatpacConfig::paper().frontend;
        assert_eq!(
            paper,
            FrontendConfig {
                n_fft: 400,
                ..FrontendConfig::default()
            }
        );
        // The reference setting: 16 kHz, Hann 400, hop 160, 80 mels 50–8000 Hz.
        assert_eq!(
            (paper.sample_rate, paper.win_length, paper.hop_length),
            (16_000, 400, 160)
        );
        assert_eq!(
            (paper.n_mels, paper.f_min, paper.f_max),
            (80, 50.0, 8_000.0)
        );
        assert_eq!(MatpacConfig::small().frontend, FrontendConfig::default());
        assert_eq!(MatpacConfig::tiny().frontend, FrontendConfig::default());
        assert_eq!(MatpacConfig::tiny().frontend.n_fft, 512);
        for p in [Preset::Paper, Preset::Small, Preset::Tiny] {
            let c = MatpacConfig::preset(p);
            assert_eq!(MatpacConfig::from_toml(&c.to_toml()).unwrap(), c, "{p:?}");
        }
        assert!(MatpacConfig::paper().to_toml().contains("[frontend]"));
    }

    #[test]
    fn a_config_without_a_frontend_loads_as_n_fft_512() {
        let mut old = toml::Table::try_from(MatpacConfig::paper()).unwrap();
        old.remove("frontend").unwrap();
        let text = toml::to_string_pretty(&old).unwrap();
        assert!(
            !text.contains("frontend") && !text.contains("n_fft"),
            "{text}"
        );
        let c = MatpacConfig::from_toml(&text).unwrap();
        assert_eq!(c.frontend, FrontendConfig::default());
        assert_eq!(c.frontend.n_fft, 512);
        assert_eq!((c.model, c.train), {
            let p = MatpacConfig::paper();
            (p.model, p.train)
        });
    }

    #[test]
    fn the_frontend_is_overridable_and_validated() {
        let c = MatpacConfig::tiny();
        for set in ["frontend.n_fft=400", "n_fft=400"] {
            let d = c.set(set).unwrap();
            assert_eq!(d.frontend.n_fft, 400, "{set}");
            assert_eq!(
                (d.model.clone(), d.train.clone()),
                (c.model.clone(), c.train.clone())
            );
        }
        let e = c.apply_toml("[frontend]\nn_fft = 400\n").unwrap();
        assert_eq!(e.frontend.n_fft, 400);
        assert_eq!(e.frontend.win_length, 400, "other front-end keys kept");
        assert!(
            c.set("frontend.n_fft=300").is_err(),
            "window longer than the FFT"
        );
        assert!(
            c.set("model.n_mels=64").is_err(),
            "model and front end disagree"
        );
        assert!(
            c.apply_toml("[frontend]\nn_ftt = 400\n").is_err(),
            "unknown key"
        );
        let both = c
            .apply_toml("[model]\nn_mels = 64\n[frontend]\nn_mels = 64\n")
            .unwrap();
        assert_eq!((both.model.n_mels, both.frontend.n_mels), (64, 64));
    }
}
