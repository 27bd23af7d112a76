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

mod detector;
mod features;
mod frames;

pub use detector::EventDetector;
pub use features::FeatureStream;
pub use frames::FrameTagger;

use crate::Error;
use crate::frontend::FrontendConfig;
use crate::metadata;
use crate::model::Model;
use core::fmt::Write;
use core::mem::MaybeUninit;

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
    /// A class may start an event only while its smoothed score is among the
    /// `top_k` highest of the window (0: no limit). Sounds that resemble the
    /// one playing then do not fire beside it.
    pub top_k: usize,
}

impl Default for TaggerConfig {
    fn default() -> Self {
        Self {
            stride_frames: 50,
            smoothing_windows: 2,
            release_ratio: 0.8,
            top_k: 0,
        }
    }
}

impl TaggerConfig {
    /// The defaults with what the model's metadata sets
    /// ([`metadata::SMOOTHING_WINDOWS`], [`metadata::TOP_K`], when present).
    pub fn for_model(model: &Model<'_>) -> Result<Self, Error> {
        let mut config = Self::default();
        if let Some(text) = model.metadata(metadata::TOP_K) {
            config.top_k = text.trim().parse::<usize>().map_err(|_| Error::Metadata {
                key: metadata::TOP_K,
                reason: "expected a whole number of classes (0: no limit)",
            })?;
        }
        if let Some(text) = model.metadata(metadata::SMOOTHING_WINDOWS) {
            config.smoothing_windows = text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_SMOOTHING).contains(n))
                .ok_or(Error::Metadata {
                    key: metadata::SMOOTHING_WINDOWS,
                    reason: "expected a whole number of windows in 1..=8",
                })?;
        }
        Ok(config)
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
        crate::in_place::build(|slot| Self::init(slot, model, config, window, arena))
    }

    /// [`Self::new`] built directly in `slot` (no copy of the tagger through the
    /// stack; for C callers and statics); returns it. On error `slot` stays
    /// uninitialised.
    #[allow(unsafe_code)]
    pub fn init<'s>(
        slot: &'s mut MaybeUninit<Self>,
        model: &'m Model<'a>,
        config: TaggerConfig,
        window: &'r mut [i8],
        arena: &'r mut [u8],
    ) -> Result<&'s mut Self, Error> {
        let p = slot.as_mut_ptr();
        // SAFETY: `p` points to `slot`, valid and exclusively ours for writes; the
        // feature stream is built in its field (borrowed alone, for that call), the
        // frame tagger written once through a raw pointer. Both fields are written
        // before `assume_init_mut`.
        unsafe {
            FeatureStream::init(crate::in_place::field(&raw mut (*p).features), model)?;
            (&raw mut (*p).frames).write(FrameTagger::new(model, config, window, arena)?);
            let this = slot.assume_init_mut();
            // No `..`: a new field fails to compile here until it is written above.
            let Self {
                features: _,
                frames: _,
            } = this;
            Ok(this)
        }
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
}
