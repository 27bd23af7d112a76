//! MATPAC self-supervised pretraining (`docs/architecture.md`, "MATPAC model").
//!
//! ```text
//! log-mel [80 × 608] ─► patches (5 × 38) + sin-cos ─► mask 70 %
//!   visible ─► student encoder ─► predictor (+ mask tokens) ─► pred ─┬─► 2 − 2 cos ◄─┐
//!                                                                    └─► student head ─► CE ◄─ softmax((· − c)/τ_t) ◄─ teacher head ◄─┤
//!   masked  ─► teacher encoder (EMA, no grad) ─────────────────────────────────────────────── targets ──────────────────────────────────┘
//! ```
//!
//! * [`config`]: presets and overrides; [`model`]: student/teacher and forward passes;
//!   [`patch`], [`pos_embed`], [`encoder`], [`predictor`], [`heads`]: the parts;
//!   [`mask`], [`ema`], [`loss`], [`schedule`]: the MATPAC mechanics;
//!   [`mcl`]: MATPAC++'s multiple-choice prediction;
//!   [`train`]: one update and its state; [`run`]: the loop with checkpoints
//!   and metrics; [`checkpoint`], [`metrics`]: files; [`state_dict`] and
//!   [`official`]: the reference implementation's published weights;
//!   [`encoder_onnx`]: the float encoder as ONNX.
//!
//! # Checked against the reference implementation
//! `bench/matpac_torch.py` replays three updates of the `small` preset in
//! PyTorch from the same weights, batches and masks: losses agree within 5e-7
//! and all weights after the updates within 2e-7 (see `bench/README.md`).
//! Points where this code follows the reference's actual behaviour rather than
//! a DINO/M2D habit, or differs from it on purpose:
//! - Teacher head: its MLP is initialised trunc-normal (std 0.02) while the
//!   student's is xavier, and the weight-normalised last layer starts equal in
//!   both: the reference copies the head into the teacher before
//!   `initialize_weights` re-initialises the student's MLP (the EMA wrapper is
//!   not an `nn.Module`, so `apply` never reaches the teacher).
//! - The patch conv bias keeps PyTorch's default U(±1/16) (untouched by the
//!   reference's init); the conv itself is computed as patchify + Linear.
//! - No EMA step at update 0; a head decay of 1 skips the step (reference).
//! - The centre averages the teacher *probabilities* and is applied at the next
//!   update (reference); `centre_mode = "logits"` gives DINO's logit centre.
//! - Learning-rate warm-up uses `(t + 1) / warmup` so the first update moves.
//! - Short clips are padded (the reference drops them): see
//!   [`crate::data::feature_cache`].
//! - `small`/`tiny` presets state their own peak learning rate for their batch
//!   (linear scaling from 3e-4 @ 2048 would give 2.3e-6 at batch 16) and faster
//!   EMAs for their shorter runs.
//!
//! # Devices
//! The CPU backend (`flex`) by default; the `cuda` feature only selects
//! `Device::cuda(0)` (it cannot be built offline: cubecl-llvm downloads LLVM).
//! This loop is single-device: Burn 0.22.1's data parallelism is CUDA-only
//! (`DistributedContext`, NCCL; none on `flex`, none across nodes) and its
//! DDP strategy needs burn-train's `Learner` (README, "Several GPUs or nodes").

pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod encoder;
pub mod encoder_onnx;
pub mod export;
pub mod heads;
pub mod init;
pub mod loss;
pub mod mask;
pub mod mcl;
pub mod metrics;
pub mod model;
pub mod official;
pub mod patch;
pub mod pos_embed;
pub mod predictor;
pub mod rng;
pub mod run;
pub mod schedule;
pub mod state_dict;
pub mod train;

#[cfg(test)]
mod tests;

pub use config::{MatpacConfig, Preset};
pub use train::{BatchSource, StepStats, Trainer};

/// Errors of the MATPAC library.
#[derive(Debug, thiserror::Error)]
pub enum MatpacError {
    /// A configuration is invalid or could not be parsed.
    #[error("configuration: {0}")]
    Config(String),
    /// Input of the wrong shape.
    #[error("shape: {0}")]
    Shape(String),
    /// A loss or gradient became NaN or infinite; nothing of that update was applied.
    #[error("non-finite value at update {step}: {what}; stopping (the last checkpoint is kept)")]
    NonFinite {
        /// Update index.
        step: u64,
        /// What was not finite.
        what: String,
    },
    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// File.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// File or folder.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A published (reference implementation) checkpoint could not be imported.
    #[error("{path}: {reason}")]
    Import {
        /// The `.pt` file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A metrics CSV could not be read.
    #[error("{path}: {source}")]
    Csv {
        /// File.
        path: std::path::PathBuf,
        /// Cause.
        source: crate::io::RecordsError,
    },
    /// Plotting failed.
    #[error("plot: {0}")]
    Plot(String),
}
