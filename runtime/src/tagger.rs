//! Streaming sound-event tagger: PCM in, events out.
//!
//! ```text
//! i16 PCM ─► Frontend (one frame / hop) ─► int8 frame ─► window [T, M] ─┐
//!      every `stride_frames` frames: Interpreter ─► sigmoid scores [C] ◄┘
//!      ─► mean of the last `smoothing_windows` ─► per-class threshold with
//!      hysteresis ─► Event { class, onset, offset, score }
//! ```
//!
//! [`Tagger`] is the whole chain. It is the composition of two halves that a
//! firmware can also run apart: [`FeatureStream`] (PCM → int8 frames: the
//! front end and the quantiser, cheap, every hop) and [`FrameTagger`] (frames
//! → window → model → events: the expensive part, every stride). The board
//! firmware runs the first in its microphone interrupt and queues 80-byte
//! frames to the second in thread mode, instead of buffering PCM while a
//! window is inferred.
//!
//! The model's input is `[1, 1, T, M]` int8 (NCHW with time as height: `T`
//! frames of `M` mel bands, oldest first), standardised and quantised by a
//! [`FeatureQuantizer`] built from the model's metadata and input
//! quantisation; its output is `[1, C]` per-class scores.
//!
//! Timing (`L` = window length, `S` = stride, both in samples): a window
//! ending at sample `e` covers `[e − L, e)`. Let window `j` be the first of
//! the run of windows whose raw score reached the class threshold. The sound
//! is inside it, so it began after `e_j − L`; window `j − 1` did not fire, so
//! it did not yet fill the stride that window `j` adds, and it began before
//! about `e_j − S`. The onset is the middle of that interval, `e_j − (L + S) / 2`
//! (error ≤ (L − S) / 2 ≈ 0.24 s with the default window and stride, when the
//! model behaves that way; measured in `tests/tests/end_to_end.rs`). The
//! offset is `e_k + S − L` where `k` is the last
//! window whose raw score stayed above the release threshold (window `k + 1`,
//! starting at `e_k + S − L`, no longer saw it). Both estimates are within one
//! stride of the truth for sounds longer than a stride.

use crate::Error;
use crate::engine::Interpreter;
use crate::frontend::{FeatureQuantizer, Frontend, FrontendConfig, MAX_MELS};
use crate::metadata;
use crate::model::Model;
use core::fmt::Write;

/// Largest number of windows averaged by the smoother.
pub const MAX_SMOOTHING: usize = 8;

/// Tagger settings (user units: front-end frames of one hop each).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TaggerConfig {
    /// The model runs every this many frames (50 = 0.5 s at a 10 ms hop).
    pub stride_frames: usize,
    /// Scores are averaged over this many most recent windows (1..=8).
    pub smoothing_windows: usize,
    /// An active class ends when its smoothed score falls below
    /// `threshold × release_ratio` (hysteresis; 0 < ratio ≤ 1).
    pub release_ratio: f32,
}

impl Default for TaggerConfig {
    fn default() -> Self {
        Self {
            stride_frames: 50,
            smoothing_windows: 2,
            release_ratio: 0.8,
        }
    }
}

/// One detected sound event.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Event {
    /// Class index (model output order).
    pub class: usize,
    /// Estimated start, samples from the start of the stream.
    pub onset: u64,
    /// Estimated end, samples from the start of the stream.
    pub offset: u64,
    /// Highest smoothed score while the event was active, `[0, 1]`.
    pub score: f32,
}

impl Event {
    /// Writes `onset=1.230 offset=2.450 class=NAME score=0.873` (seconds with
    /// millisecond resolution, score in thousandths), formatted from integers
    /// so that every target prints the same bytes.
    pub fn write_text(
        &self,
        out: &mut impl Write,
        class_name: &str,
        sample_rate: u32,
    ) -> core::fmt::Result {
        let ms = |samples: u64| samples * 1000 / u64::from(sample_rate.max(1));
        let (on, off) = (ms(self.onset), ms(self.offset));
        let milli = (self.score.clamp(0.0, 1.0) * 1000.0 + 0.5) as u32;
        write!(
            out,
            "onset={}.{:03} offset={}.{:03} class={} score={}.{:03}",
            on / 1000,
            on % 1000,
            off / 1000,
            off % 1000,
            class_name,
            milli / 1000,
            milli % 1000
        )
    }
}

/// Per-class detection state.
#[derive(Debug, Clone, Copy, Default)]
struct ClassState {
    threshold: f32,
    active: bool,
    /// End sample of the first window of the current run with raw ≥ threshold.
    rise_end: Option<u64>,
    onset: u64,
    /// End sample of the last window with raw ≥ release threshold while active.
    last_above_end: u64,
    peak: f32,
}

/// A metadata entry a tagger export must have.
fn required<'a>(model: &Model<'a>, key: &'static str) -> Result<&'a str, Error> {
    model.metadata(key).ok_or(Error::Metadata {
        key,
        reason: "missing: not a matpac tagger export",
    })
}

/// The model's input frames and mel bands (`[1, 1, T, M]`).
fn input_frames_and_mels(model: &Model<'_>) -> Result<(usize, usize), Error> {
    match model.input().shape.dims() {
        [1, 1, t, m] => Ok((*t, *m)),
        _ => Err(Error::TaggerModel {
            reason: "input must be [1, 1, frames, mels]",
        }),
    }
}

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

/// int8 feature frames → events, for models with at most `C` classes: the
/// window, the interpreter every `stride_frames` frames, smoothing and
/// hysteresis. Allocates nothing: the window and the arena are the caller's.
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
    n_classes: usize,
    classes: [ClassState; C],
    scores: [f32; C],
    /// Raw scores of the last windows (ring).
    history: [[f32; C]; MAX_SMOOTHING],
    history_len: usize,
    history_next: usize,
}

impl<'m, 'a, 'r, const C: usize> FrameTagger<'m, 'a, 'r, C> {
    /// Builds the frame half of a tagger from a parsed model and its metadata
    /// ([`metadata::FRONTEND`] for times, [`metadata::CLASS_NAMES`],
    /// [`metadata::THRESHOLDS`]). `window` needs [`Tagger::window_len`]
    /// bytes, `arena` [`Model::arena_len`].
    pub fn new(
        model: &'m Model<'a>,
        config: TaggerConfig,
        window: &'r mut [i8],
        arena: &'r mut [u8],
    ) -> Result<Self, Error> {
        let frontend = metadata::parse_frontend(required(model, metadata::FRONTEND)?)?;
        let (window_frames, n_mels) = input_frames_and_mels(model)?;
        if config.stride_frames == 0 || config.stride_frames > window_frames {
            return Err(Error::TaggerModel {
                reason: "stride_frames must be in 1..=window frames",
            });
        }
        if !(1..=MAX_SMOOTHING).contains(&config.smoothing_windows) {
            return Err(Error::TaggerModel {
                reason: "smoothing_windows must be in 1..=8",
            });
        }
        if !(config.release_ratio > 0.0 && config.release_ratio <= 1.0) {
            return Err(Error::TaggerModel {
                reason: "release_ratio must be in (0, 1]",
            });
        }
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
        let mut classes = [ClassState::default(); C];
        let mut count = 0;
        for (state, text) in classes
            .iter_mut()
            .zip(metadata::list(required(model, metadata::THRESHOLDS)?))
        {
            state.threshold = metadata::parse_f32(metadata::THRESHOLDS, text)?;
            count += 1;
        }
        if count != n_classes {
            return Err(Error::Metadata {
                key: metadata::THRESHOLDS,
                reason: "one threshold per output is required",
            });
        }
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
            n_classes,
            classes,
            scores: [0.0; C],
            history: [[0.0; C]; MAX_SMOOTHING],
            history_len: 0,
            history_next: 0,
        })
    }

    /// The front end's configuration (from the model's metadata).
    pub fn frontend_config(&self) -> &FrontendConfig {
        &self.frontend
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
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
        self.classes.get(class).is_some_and(|c| c.active)
    }

    /// The raw scores of the latest window, `[n_classes]`.
    pub fn last_scores(&self) -> &[f32] {
        &self.scores[..self.n_classes]
    }

    /// Appends one int8 frame (`[n_mels]`, from a [`FeatureStream`] of the
    /// same model); runs the model when a stride completes and calls
    /// `on_event` for every event that ends.
    pub fn push_frame(
        &mut self,
        frame: &[i8],
        mut on_event: impl FnMut(Event),
    ) -> Result<(), Error> {
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
            self.interpreter.run_quantized(
                self.window.get(..self.window_frames * m).unwrap_or(&[]),
                &mut self.scores[..self.n_classes],
            )?;
            self.update(&mut on_event);
        }
        Ok(())
    }

    /// Ends the stream: every active event ends now.
    pub fn finish(&mut self, mut on_event: impl FnMut(Event)) {
        let (stride, length) = self.stride_and_length();
        for (class, state) in self.classes.iter_mut().enumerate().take(self.n_classes) {
            if state.active {
                on_event(close(class, state, stride, length));
            }
        }
    }

    /// Stride and window length, samples.
    fn stride_and_length(&self) -> (u64, u64) {
        let c = &self.frontend;
        let stride = (self.config.stride_frames * c.hop_length) as u64;
        let length = ((self.window_frames - 1) * c.hop_length + c.win_length) as u64;
        (stride, length)
    }

    /// Smoothing and hysteresis after one model run.
    fn update(&mut self, on_event: &mut impl FnMut(Event)) {
        let c = self.frontend;
        let (stride, length) = self.stride_and_length();
        let end = (self.frames_seen - 1) * c.hop_length as u64 + c.win_length as u64;
        self.history[self.history_next] = self.scores;
        self.history_next = (self.history_next + 1) % self.config.smoothing_windows;
        self.history_len = (self.history_len + 1).min(self.config.smoothing_windows);
        for (class, state) in self.classes.iter_mut().enumerate().take(self.n_classes) {
            let raw = self.scores[class];
            let smoothed = self.history[..self.history_len]
                .iter()
                .map(|h| h[class])
                .sum::<f32>()
                / self.history_len as f32;
            let release = state.threshold * self.config.release_ratio;
            if raw >= state.threshold {
                state.rise_end.get_or_insert(end);
            } else {
                state.rise_end = None;
            }
            if state.active {
                if raw >= release {
                    state.last_above_end = end;
                }
                state.peak = state.peak.max(smoothed);
                if smoothed < release {
                    on_event(close(class, state, stride, length));
                }
            } else if smoothed >= state.threshold {
                state.active = true;
                state.onset = state
                    .rise_end
                    .unwrap_or(end)
                    .saturating_sub((length + stride) / 2);
                state.last_above_end = end;
                state.peak = smoothed;
            }
        }
    }
}

/// The streaming tagger for models with at most `C` classes: a
/// [`FeatureStream`] feeding a [`FrameTagger`]. Allocates nothing: the
/// feature window and the interpreter's arena are the caller's.
pub struct Tagger<'m, 'a, 'r, const C: usize> {
    features: FeatureStream,
    frames: FrameTagger<'m, 'a, 'r, C>,
}

impl<'m, 'a, 'r, const C: usize> Tagger<'m, 'a, 'r, C> {
    /// Bytes of int8 feature window a model needs (`T × M`).
    pub fn window_len(model: &Model<'_>) -> usize {
        model.input_len()
    }

    /// Builds the tagger from a parsed model and its metadata
    /// ([`metadata::FRONTEND`], [`metadata::FEATURE_MEAN`],
    /// [`metadata::FEATURE_STD`], [`metadata::CLASS_NAMES`],
    /// [`metadata::THRESHOLDS`]). `window` needs [`Self::window_len`] bytes,
    /// `arena` [`Model::arena_len`].
    pub fn new(
        model: &'m Model<'a>,
        config: TaggerConfig,
        window: &'r mut [i8],
        arena: &'r mut [u8],
    ) -> Result<Self, Error> {
        Ok(Self {
            features: FeatureStream::new(model)?,
            frames: FrameTagger::new(model, config, window, arena)?,
        })
    }

    /// The front end's configuration (from the model's metadata).
    pub fn frontend_config(&self) -> &FrontendConfig {
        self.features.config()
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.frames.n_classes()
    }

    /// Name of class `class` (empty if out of range).
    pub fn class_name(&self, class: usize) -> &'a str {
        self.frames.class_name(class)
    }

    /// Whether `class` is currently active (for an LED, say).
    pub fn is_active(&self, class: usize) -> bool {
        self.frames.is_active(class)
    }

    /// The raw scores of the latest window, `[n_classes]`.
    pub fn last_scores(&self) -> &[f32] {
        self.frames.last_scores()
    }

    /// Pushes PCM of any length; calls `on_event` for every event that ends.
    pub fn push(&mut self, pcm: &[i16], mut on_event: impl FnMut(Event)) -> Result<(), Error> {
        let frames = &mut self.frames;
        self.features
            .push(pcm, |frame| frames.push_frame(frame, &mut on_event))
    }

    /// Ends the stream: every active event ends now.
    pub fn finish(&mut self, on_event: impl FnMut(Event)) {
        self.frames.finish(on_event);
    }
}

/// Ends the active event of `state`.
fn close(class: usize, state: &mut ClassState, stride: u64, length: u64) -> Event {
    state.active = false;
    let offset = (state.last_above_end + stride)
        .saturating_sub(length)
        .max(state.onset + stride);
    Event {
        class,
        onset: state.onset,
        offset,
        score: state.peak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_text_is_integer_formatted() {
        let e = Event {
            class: 0,
            onset: 19_680,
            offset: 40_000,
            score: 0.8734,
        };
        let mut s = String::new();
        e.write_text(&mut s, "kick", 16_000).unwrap();
        assert_eq!(s, "onset=1.230 offset=2.500 class=kick score=0.873");
    }

    #[test]
    fn close_keeps_offset_after_onset() {
        let mut state = ClassState {
            active: true,
            onset: 8000,
            last_above_end: 16_000,
            peak: 0.9,
            ..Default::default()
        };
        let e = close(3, &mut state, 8000, 16_000);
        assert!(!state.active);
        assert_eq!((e.class, e.onset, e.offset), (3, 8000, 16_000));
    }
}
