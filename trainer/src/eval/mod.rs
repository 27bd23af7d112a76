//! Evaluation: clip embeddings of a frozen encoder ([`embed`]), the linear
//! probe ([`probe`]) and its solver ([`logistic`]), the probe over a data set's splits ([`run`]) and the
//! reports ([`report`]); sound-event references and matching ([`events`]),
//! DCASE-style event- and segment-based metrics ([`event_metrics`]) and the
//! spectrogram-with-events plot ([`event_plot`]).

pub mod embed;
pub mod event_metrics;
pub mod event_plot;
pub mod events;
pub mod logistic;
pub mod probe;
pub mod report;
pub mod run;

use std::path::PathBuf;

/// Errors of the evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The data set could not be read or split.
    #[error(transparent)]
    Data(#[from] crate::data::dataset::DataError),
    /// A clip could not be decoded.
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    /// A clip is shorter than one front-end frame.
    #[error("{0}: shorter than one front-end frame")]
    TooShort(PathBuf),
    /// The front end rejected its configuration.
    #[error(transparent)]
    Frontend(#[from] crate::frontend::FrontendError),
    /// The encoder could not be loaded or built.
    #[error(transparent)]
    Encoder(#[from] crate::matpac::MatpacError),
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A split is unusable (a group on both sides, an empty side).
    #[error("split {split}: {reason}")]
    Split {
        /// Split name.
        split: String,
        /// What is wrong.
        reason: String,
    },
    /// A report could not be written.
    #[error("report: {0}")]
    Report(String),
}
