//! int8 feature frames → window → model → events (the expensive half of the
//! tagger, run every stride).

use super::detector::EventDetector;
use super::{Event, TaggerConfig, input_frames_and_mels, required};
use crate::Error;
use crate::engine::Interpreter;
use crate::frontend::FrontendConfig;
use crate::metadata;
use crate::model::Model;

/// int8 feature frames → events, for models with at most `C` classes: the
/// window, the interpreter every `stride_frames` frames, and an
/// [`EventDetector`] (smoothing and hysteresis). Allocates nothing: the window
/// and the arena are the caller's.
pub struct FrameTagger<'m, 'a, 'r, const C: usize> {
    model: &'m Model<'a>,
    config: TaggerConfig,
    frontend: FrontendConfig,
    interpreter: Interpreter<'m, 'a, 'r>,
    /// `[T × M]` int8 features, oldest frame first; the first `filled` rows valid.
    window: &'r mut [i8],
    window_frames: usize,
    n_mels: usize,
    filled: usize,
    frames_seen: u64,
    scores: [f32; C],
    detector: EventDetector<C>,
}

impl<'m, 'a, 'r, const C: usize> FrameTagger<'m, 'a, 'r, C> {
    /// Builds the frame half of a tagger from a parsed model and its metadata
    /// ([`metadata::FRONTEND`] for times, [`metadata::CLASS_NAMES`],
    /// [`metadata::THRESHOLDS`]). `window` needs [`super::Tagger::window_len`]
    /// bytes, `arena` [`Model::arena_len`].
    pub fn new(
        model: &'m Model<'a>,
        config: TaggerConfig,
        window: &'r mut [i8],
        arena: &'r mut [u8],
    ) -> Result<Self, Error> {
        let frontend = metadata::parse_frontend(required(model, metadata::FRONTEND)?)?;
        let (window_frames, n_mels) = input_frames_and_mels(model)?;
        let n_classes = model.output_len();
        if n_classes == 0 || n_classes > C {
            return Err(Error::Capacity {
                what: "tagger classes",
                limit: C,
            });
        }
        if window.len() < window_frames * n_mels {
            return Err(Error::BufferLength {
                expected: window_frames * n_mels,
                actual: window.len(),
            });
        }
        if metadata::list(required(model, metadata::CLASS_NAMES)?).count() != n_classes {
            return Err(Error::Metadata {
                key: metadata::CLASS_NAMES,
                reason: "one name per output is required",
            });
        }
        let mut thresholds = [0f32; C];
        let mut count = 0;
        for text in metadata::list(required(model, metadata::THRESHOLDS)?) {
            let slot = thresholds.get_mut(count).ok_or(Error::Metadata {
                key: metadata::THRESHOLDS,
                reason: "one threshold per output is required",
            })?;
            *slot = metadata::parse_f32(metadata::THRESHOLDS, text)?;
            count += 1;
        }
        if count != n_classes {
            return Err(Error::Metadata {
                key: metadata::THRESHOLDS,
                reason: "one threshold per output is required",
            });
        }
        let detector = EventDetector::new(
            config,
            &frontend,
            window_frames,
            thresholds.get(..count).unwrap_or(&[]),
        )?;
        Ok(Self {
            model,
            config,
            frontend,
            interpreter: Interpreter::new(model, arena)?,
            window,
            window_frames,
            n_mels,
            filled: 0,
            frames_seen: 0,
            scores: [0.0; C],
            detector,
        })
    }

    /// The front end's configuration (from the model's metadata).
    pub fn frontend_config(&self) -> &FrontendConfig {
        &self.frontend
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.detector.n_classes()
    }

    /// Name of class `class` (empty if out of range).
    pub fn class_name(&self, class: usize) -> &'a str {
        self.model
            .metadata(metadata::CLASS_NAMES)
            .and_then(|names| metadata::list(names).nth(class))
            .unwrap_or("")
    }

    /// Whether `class` is currently active (for an LED, say).
    pub fn is_active(&self, class: usize) -> bool {
        self.detector.is_active(class)
    }

    /// The raw scores of the latest window, `[n_classes]`.
    pub fn last_scores(&self) -> &[f32] {
        self.scores.get(..self.detector.n_classes()).unwrap_or(&[])
    }

    /// Appends one int8 frame (`[n_mels]`, from a [`super::FeatureStream`] of the
    /// same model); runs the model when a stride completes and calls
    /// `on_event` for every event that ends.
    pub fn push_frame(&mut self, frame: &[i8], on_event: impl FnMut(Event)) -> Result<(), Error> {
        let m = self.n_mels;
        if frame.len() != m {
            return Err(Error::BufferLength {
                expected: m,
                actual: frame.len(),
            });
        }
        // Make room: drop the oldest stride of frames once the window is full.
        if self.filled == self.window_frames {
            let stride = self.config.stride_frames;
            self.window
                .copy_within(stride * m..self.window_frames * m, 0);
            self.filled -= stride;
        }
        if let Some(row) = self.window.get_mut(self.filled * m..(self.filled + 1) * m) {
            row.copy_from_slice(frame);
        }
        self.filled += 1;
        self.frames_seen += 1;
        if self.filled == self.window_frames {
            let n = self.detector.n_classes();
            let scores = self.scores.get_mut(..n).unwrap_or(&mut []);
            self.interpreter.run_quantized(
                self.window.get(..self.window_frames * m).unwrap_or(&[]),
                scores,
            )?;
            let c = &self.frontend;
            let end = (self.frames_seen - 1) * c.hop_length as u64 + c.win_length as u64;
            self.detector.push(end, scores, on_event);
        }
        Ok(())
    }

    /// Ends the stream: every active event ends now.
    pub fn finish(&mut self, on_event: impl FnMut(Event)) {
        self.detector.finish(on_event);
    }
}
