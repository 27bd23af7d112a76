//! The runtime's one error type.

/// Everything that can go wrong in the runtime. Nothing in the runtime panics;
/// every failure is one of these.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// A front-end configuration the fixed-point path cannot run.
    #[error("unsupported front-end configuration: {reason}")]
    UnsupportedFrontend {
        /// What is wrong and what is supported.
        reason: &'static str,
    },
    /// A buffer passed by the caller has the wrong length.
    #[error("buffer length mismatch: expected {expected}, got {actual}")]
    BufferLength {
        /// Required length (elements).
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// A quantisation parameter is zero, negative or not finite.
    #[error("invalid quantisation parameter: {reason}")]
    InvalidQuantization {
        /// Which parameter and why.
        reason: &'static str,
    },
}
