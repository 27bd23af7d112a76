//! PCM → int8 feature frames: the front end and the standardise-and-quantise
//! step of one model (the cheap half of the tagger, run every hop).

use core::mem::MaybeUninit;

use super::{input_frames_and_mels, required};
use crate::Error;
use crate::frontend::{FeatureQuantizer, Frontend, FrontendConfig, MAX_MELS};
use crate::in_place;
use crate::metadata;
use crate::model::Model;

/// PCM → int8 feature frames for a model: the fixed-point front end and the
/// standardise-and-quantise step its metadata and input quantisation describe
/// ([`metadata::FRONTEND`], [`metadata::FEATURE_MEAN`],
/// [`metadata::FEATURE_STD`]). Owns everything it uses (no borrow of the
/// model), so it can live in an interrupt task.
pub struct FeatureStream {
    frontend: Frontend,
    quantizer: FeatureQuantizer,
    n_mels: usize,
    /// The latest frame, `[n_mels]`.
    frame: [i8; MAX_MELS],
}

impl FeatureStream {
    /// The front end and quantiser of `model`.
    pub fn new(model: &Model<'_>) -> Result<Self, Error> {
        crate::in_place::build(|slot| Self::init(slot, model))
    }

    /// [`Self::new`] built directly in `slot` (no copy of the front end through the
    /// stack); returns it. On error `slot` stays uninitialised.
    #[allow(unsafe_code)]
    pub fn init<'s>(
        slot: &'s mut MaybeUninit<Self>,
        model: &Model<'_>,
    ) -> Result<&'s mut Self, Error> {
        let (frontend_config, quantizer, n_mels) = Self::settings(model)?;
        let p = slot.as_mut_ptr();
        // SAFETY: `p` points to `slot`, valid and exclusively ours for writes; the
        // front end is built in its field (borrowed alone, for that call), the other
        // fields are written once through raw pointers, `frame` zeroed (valid `i8`s).
        // Every field is written before `assume_init_mut`.
        unsafe {
            Frontend::init(in_place::field(&raw mut (*p).frontend), &frontend_config)?;
            (&raw mut (*p).quantizer).write(quantizer);
            (&raw mut (*p).n_mels).write(n_mels);
            (&raw mut (*p).frame).write_bytes(0, 1);
            let this = slot.assume_init_mut();
            // No `..`: a new field fails to compile here until it is written above.
            let Self {
                frontend: _,
                quantizer: _,
                n_mels: _,
                frame: _,
            } = this;
            Ok(this)
        }
    }

    /// Whether [`Self::new`] accepts `model` (the same errors), without building the
    /// front end; returns the front end's configuration.
    pub fn check(model: &Model<'_>) -> Result<FrontendConfig, Error> {
        let (frontend_config, _, _) = Self::settings(model)?;
        Frontend::check(&frontend_config)?;
        Ok(frontend_config)
    }

    /// The front end's configuration, the quantiser and the mel bands of `model`,
    /// checked against each other.
    fn settings(model: &Model<'_>) -> Result<(FrontendConfig, FeatureQuantizer, usize), Error> {
        let frontend_config = metadata::parse_frontend(required(model, metadata::FRONTEND)?)?;
        let mean = metadata::parse_f32(
            metadata::FEATURE_MEAN,
            required(model, metadata::FEATURE_MEAN)?,
        )?;
        let std = metadata::parse_f32(
            metadata::FEATURE_STD,
            required(model, metadata::FEATURE_STD)?,
        )?;
        let input = model.input();
        let quantizer =
            FeatureQuantizer::new(mean, std, input.quant.scale, input.quant.zero_point)?;
        let (_, n_mels) = input_frames_and_mels(model)?;
        if n_mels != frontend_config.n_mels {
            return Err(Error::TaggerModel {
                reason: "input mel bands differ from the front end's n_mels",
            });
        }
        Ok((frontend_config, quantizer, n_mels))
    }

    /// The front end's configuration (from the model's metadata).
    pub fn config(&self) -> &FrontendConfig {
        self.frontend.config()
    }

    /// Bytes per frame (mel bands).
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Pushes PCM of any length; calls `on_frame` with every int8 frame
    /// (`[n_mels]`) completed, stopping at its first error.
    pub fn push<E>(
        &mut self,
        mut pcm: &[i16],
        mut on_frame: impl FnMut(&[i8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while !pcm.is_empty() {
            let (used, frame) = self.frontend.process(pcm);
            pcm = pcm.get(used..).unwrap_or(&[]);
            let Some(frame) = frame else { continue };
            let row = self.frame.get_mut(..self.n_mels).unwrap_or(&mut []);
            self.quantizer.quantize(frame, row);
            on_frame(row)?;
        }
        Ok(())
    }
}
