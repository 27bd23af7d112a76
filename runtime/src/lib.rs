//! # matpac-runtime
//!
//! `#![no_std]`, allocation-free runtime for MATPAC edge taggers:
//!
//! ```text
//! i16 PCM ─► frontend (fixed-point log-mel, one frame per hop) ─► int8 features
//! ```
//!
//! * [`frontend`]: streaming fixed-point log-mel front end; the single source of
//!   truth for the feature specification ([`frontend::FrontendConfig`]), shared
//!   with the host trainer.
//! * [`fixed`]: Q-format helpers and TFLite-style requantisation.
//!
//! ```
//! use matpac_runtime::frontend::{Frontend, FrontendConfig};
//!
//! let mut frontend = Frontend::new(&FrontendConfig::default()).unwrap();
//! let pcm = [0i16; 1600]; // 100 ms of silence at 16 kHz
//! let mut frames = 0;
//! frontend.push(&pcm, |log_mel_q16| {
//!     assert_eq!(log_mel_q16.len(), 80);
//!     frames += 1;
//! });
//! assert_eq!(frames, 1 + (1600 - 400) / 160);
//! ```
#![cfg_attr(not(test), no_std)]

mod decimal;
pub mod engine;
pub mod error;
pub mod fixed;
pub mod frontend;
mod in_place;
pub mod metadata;
pub mod model;
pub mod tagger;

pub use engine::{Engine, Interpreter};
pub use error::Error;
pub use model::Model;
pub use tagger::{Event, Tagger, TaggerConfig};
