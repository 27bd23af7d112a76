//! PCM → int8 feature frames: the front end and the standardise-and-quantise
//! step of one model (the cheap half of the tagger, run every hop).

use super::{input_frames_and_mels, required};
use crate::Error;
use crate::frontend::{FeatureQuantizer, Frontend, FrontendConfig, MAX_MELS};
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
        Ok(Self {
            frontend: Frontend::new(&frontend_config)?,
            quantizer,
            n_mels,
            frame: [0; MAX_MELS],
        })
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
