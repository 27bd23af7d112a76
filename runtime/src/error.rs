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
    /// The model file is not well-formed protobuf.
    #[error("malformed protobuf at byte {offset}: {reason}")]
    Protobuf {
        /// Byte offset inside the enclosing message (0 where unknown).
        offset: usize,
        /// What was malformed.
        reason: &'static str,
    },
    /// The model as a whole is malformed or outside the supported subset
    /// (no graph, wrong inputs/outputs, external data, …).
    #[error("invalid model: {reason}")]
    InvalidModel {
        /// What is wrong.
        reason: &'static str,
    },
    /// One graph node is malformed or outside the supported subset.
    #[error("node {node} ({op}): {reason}")]
    UnsupportedNode {
        /// Index of the node in `graph.node` (file order).
        node: usize,
        /// Its `op_type` (first 24 bytes).
        op: crate::model::OpName,
        /// What is wrong or unsupported.
        reason: &'static str,
    },
    /// A fixed capacity of the allocation-free runtime is exceeded.
    #[error("capacity exceeded: {what} (limit {limit})")]
    Capacity {
        /// Which table is full.
        what: &'static str,
        /// Its capacity.
        limit: usize,
    },
    /// The caller's arena is smaller than `Model::arena_len()`.
    #[error("arena too small: need {needed} bytes, got {given}")]
    ArenaTooSmall {
        /// `Model::arena_len()`.
        needed: usize,
        /// Length of the slice given.
        given: usize,
    },
    /// A `metadata_props` entry the runtime needs is missing or malformed.
    #[error("model metadata `{key}`: {reason}")]
    Metadata {
        /// The metadata key.
        key: &'static str,
        /// What is wrong and what is expected.
        reason: &'static str,
    },
    /// The model's input or output does not fit the streaming tagger.
    #[error("model does not fit the tagger: {reason}")]
    TaggerModel {
        /// What is expected.
        reason: &'static str,
    },
}
