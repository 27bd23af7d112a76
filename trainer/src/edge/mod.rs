//! The edge model: the DS-CNN [`student`], its training as a tagger
//! ([`tagger_head`]) or by [`distill`]-ation, post-training int8
//! [`quantize`]-ation and the QOperator ONNX [`onnx_export`] the runtime and
//! tract read ([`onnx_proto`]: the prost messages). [`features`] makes the
//! input windows with the runtime's own fixed-point front end; [`checkpoint`]
//! stores a trained student; [`teacher_targets`] makes (and caches) the
//! distillation targets; [`minibatch`] is the shuffling and learning-rate
//! schedule both trainers use; [`pipeline`] is the glue the subcommands share.
//!
//! ```text
//! fixed-point log-mel windows (features) ─► Student (Burn, f32) ─► FloatNet (BatchNorm folded)
//!   ─► QuantModel (int8 weights, int32 bias, calibrated activations) ─► model.onnx (+ metadata)
//! ```

pub mod augment;
pub mod checkpoint;
pub mod distill;
pub mod features;
pub mod layer_errors;
pub mod minibatch;
pub mod onnx_export;
pub mod onnx_proto;
pub mod pipeline;
pub mod quantize;
pub mod scene_thresholds;
pub mod student;
pub mod tagger_head;
pub mod teacher_targets;
