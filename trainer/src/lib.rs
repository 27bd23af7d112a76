//! # matpac-trainer
//!
//! Host side of matpac-edge: audio decoding, the float log-mel front end,
//! MATPAC pretraining, evaluation, distillation and int8 export.
