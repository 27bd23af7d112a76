//! Window scores → events: per-class smoothing, thresholds with hysteresis,
//! and the onset/offset estimates described in the [module
//! documentation](super). Independent of the model, so the trainer runs the
//! same logic on float scores when it chooses thresholds on validation scenes.

use super::{Event, MAX_SMOOTHING, TaggerConfig};
use crate::Error;
use crate::frontend::FrontendConfig;

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

/// Events from a stream of per-window scores, for at most `C` classes.
#[derive(Debug, Clone)]
pub struct EventDetector<const C: usize> {
    config: TaggerConfig,
    /// Stride, samples.
    stride: u64,
    /// Window length, samples.
    length: u64,
    n_classes: usize,
    classes: [ClassState; C],
    /// Raw scores of the last windows (ring).
    history: [[f32; C]; MAX_SMOOTHING],
    history_len: usize,
    history_next: usize,
}

impl<const C: usize> EventDetector<C> {
    /// A detector for windows of `window_frames` frames of `frontend`, run every
    /// `config.stride_frames` frames, with one threshold per class
    /// (`thresholds.len()` classes, at most `C`).
    pub fn new(
        config: TaggerConfig,
        frontend: &FrontendConfig,
        window_frames: usize,
        thresholds: &[f32],
    ) -> Result<Self, Error> {
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
        let n_classes = thresholds.len();
        if n_classes == 0 || n_classes > C {
            return Err(Error::Capacity {
                what: "tagger classes",
                limit: C,
            });
        }
        let mut classes = [ClassState::default(); C];
        for (state, &threshold) in classes.iter_mut().zip(thresholds) {
            state.threshold = threshold;
        }
        let hop = frontend.hop_length as u64;
        Ok(Self {
            config,
            stride: config.stride_frames as u64 * hop,
            length: (window_frames.saturating_sub(1)) as u64 * hop + frontend.win_length as u64,
            n_classes,
            classes,
            history: [[0.0; C]; MAX_SMOOTHING],
            history_len: 0,
            history_next: 0,
        })
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Whether `class` is currently active.
    pub fn is_active(&self, class: usize) -> bool {
        self.classes.get(class).is_some_and(|c| c.active)
    }

    /// The scores of one window ending at sample `end` (`[n_classes]`; extra
    /// values are ignored, missing ones count as 0); calls `on_event` for
    /// every event that ends.
    pub fn push(&mut self, end: u64, scores: &[f32], mut on_event: impl FnMut(Event)) {
        let mut row = [0f32; C];
        for (r, &s) in row.iter_mut().zip(scores).take(self.n_classes) {
            *r = s;
        }
        if let Some(slot) = self.history.get_mut(self.history_next) {
            *slot = row;
        }
        let smoothing = self.config.smoothing_windows;
        self.history_next = (self.history_next + 1) % smoothing;
        self.history_len = (self.history_len + 1).min(smoothing);
        let (stride, length) = (self.stride, self.length);
        let history = self.history.get(..self.history_len).unwrap_or(&[]);
        let mut smoothed = [0f32; C];
        for (class, s) in smoothed.iter_mut().enumerate().take(self.n_classes) {
            *s = history.iter().map(|h| h[class]).sum::<f32>() / history.len() as f32;
        }
        let n = self.n_classes;
        let top_k = self.config.top_k;
        // Whether `class` is among the `top_k` highest smoothed scores.
        let ranked = |class: usize| {
            top_k == 0
                || smoothed
                    .iter()
                    .take(n)
                    .filter(|&&s| s > smoothed[class])
                    .count()
                    < top_k
        };
        for (class, state) in self.classes.iter_mut().enumerate().take(n) {
            let raw = row[class];
            let smoothed = smoothed[class];
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
            } else if smoothed >= state.threshold && ranked(class) {
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

    /// Ends the stream: every active event ends now.
    pub fn finish(&mut self, mut on_event: impl FnMut(Event)) {
        let (stride, length) = (self.stride, self.length);
        for (class, state) in self.classes.iter_mut().enumerate().take(self.n_classes) {
            if state.active {
                on_event(close(class, state, stride, length));
            }
        }
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

    #[test]
    fn one_event_per_run_above_threshold_with_the_documented_timing() {
        let fe = FrontendConfig::default();
        let config = TaggerConfig {
            smoothing_windows: 1,
            ..TaggerConfig::default()
        };
        let mut d = EventDetector::<2>::new(config, &fe, 98, &[0.5, 0.9]).unwrap();
        let (stride, length) = (8000u64, 97 * 160 + 400);
        let mut events = [None; 4];
        let mut n = 0;
        // Class 0 fires in windows 2 and 3; class 1 (threshold 0.9) never does.
        for (k, s) in [0.1, 0.2, 0.8, 0.7, 0.1, 0.1].into_iter().enumerate() {
            let end = length + k as u64 * stride;
            d.push(end, &[s, s], |e| {
                events[n] = Some(e);
                n += 1;
            });
            assert_eq!(d.is_active(0), (2..4).contains(&k), "window {k}");
        }
        d.finish(|_| panic!("nothing is active at the end"));
        assert_eq!(n, 1);
        let e = events[0].unwrap();
        let rise = length + 2 * stride;
        assert_eq!(e.class, 0);
        assert_eq!(e.onset, rise - (length + stride) / 2);
        assert_eq!(e.offset, length + 3 * stride + stride - length);
        assert_eq!(e.score, 0.8);
    }

    #[test]
    fn top_k_lets_only_the_highest_classes_start_events() {
        let fe = FrontendConfig::default();
        let run = |top_k| {
            let config = TaggerConfig {
                smoothing_windows: 1,
                top_k,
                ..TaggerConfig::default()
            };
            let mut d = EventDetector::<3>::new(config, &fe, 98, &[0.5; 3]).unwrap();
            // All three above threshold in window 1; class 2 highest, then 0.
            for (k, s) in [[0.1, 0.1, 0.1], [0.7, 0.6, 0.9], [0.1, 0.1, 0.1]]
                .iter()
                .enumerate()
            {
                d.push(20_000 + k as u64 * 8000, s, |_| {});
                if k == 1 {
                    return [d.is_active(0), d.is_active(1), d.is_active(2)];
                }
            }
            unreachable!()
        };
        assert_eq!(run(0), [true, true, true], "no limit");
        assert_eq!(run(1), [false, false, true]);
        assert_eq!(run(2), [true, false, true]);
    }

    #[test]
    fn bad_settings_are_errors() {
        let fe = FrontendConfig::default();
        let ok = TaggerConfig::default();
        let bad = [
            TaggerConfig {
                stride_frames: 0,
                ..ok
            },
            TaggerConfig {
                smoothing_windows: 9,
                ..ok
            },
            TaggerConfig {
                release_ratio: 0.0,
                ..ok
            },
        ];
        for c in bad {
            assert!(
                EventDetector::<2>::new(c, &fe, 98, &[0.5]).is_err(),
                "{c:?}"
            );
        }
        assert!(EventDetector::<2>::new(ok, &fe, 98, &[0.5; 3]).is_err());
        assert!(EventDetector::<2>::new(ok, &fe, 98, &[]).is_err());
    }
}
