//! The edge student: a DS-CNN over one window of the runtime's fixed-point
//! log-mel features.
//!
//! Input `[B, 1, T, M]` (NCHW with time as H, mel as W; T = 98 frames ≈ 1 s,
//! M = 80), standardised with the dataset's scalar mean/std. A strided stem
//! convolution with few channels cuts the resolution at once (the int8
//! feature window alone is 7.8 KB of a 32 KB arena), then depthwise-separable
//! blocks (3×3 depthwise → ReLU → 1×1 pointwise → ReLU, BatchNorm after each
//! convolution when enabled), a global average pool (the clip embedding) and
//! a linear head (logits; the tagger applies a sigmoid).
//!
//! [`Student::to_float_net`] folds BatchNorm into the convolutions and hands
//! the quantiser a plain-f32 description ([`FloatNet`]) with a reference
//! forward pass.
//!
//! [`config`]: the architecture (presets, per-layer geometry, size and MAC
//! estimates); [`model`]: the Burn module that trains; [`float_net`]: the
//! folded plain-f32 network the quantiser reads.

pub mod config;
pub mod float_net;
pub mod model;

pub use config::{BlockConfig, ConvGeom, LayerStats, StudentConfig, StudentStats};
pub use float_net::{Activations, FloatConv, FloatLinear, FloatNet};
pub use model::{ConvBn, DsBlock, Student};

#[cfg(test)]
mod tests;
