//! # matpac-trainer
//!
//! Host side of matpac-edge: audio decoding, the float log-mel front end,
//! MATPAC pretraining, evaluation, distillation and int8 export.
//!
//! Pipeline: `audio` (decode, resample) → `frontend` (log-mel) → …

pub mod audio;
pub mod cli;
pub mod data;
pub mod device;
pub mod edge;
pub mod eval;
pub mod frontend;
pub mod io;
pub mod matpac;
pub mod progress;
