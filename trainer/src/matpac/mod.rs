//! MATPAC self-supervised pretraining (DESIGN.md "MATPAC pretraining").
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
//!   [`train`]: one update and its state; [`run`]: the loop with checkpoints
//!   and metrics; [`checkpoint`], [`metrics`]: files.

pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod encoder;
pub mod export;
pub mod heads;
pub mod init;
pub mod loss;
pub mod mask;
pub mod metrics;
pub mod model;
pub mod patch;
pub mod pos_embed;
pub mod predictor;
pub mod rng;
pub mod run;
pub mod schedule;
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
    /// Plotting failed.
    #[error("plot: {0}")]
    Plot(String),
}
