//! Scenes: labelled single-sound clips laid one after another on a timeline,
//! with reference events that are exact to the sample.
//!
//! A scene is `duration` seconds of audio made of clips of one split of a
//! labelled data set ([`clips_of_split`]), each at a random gain, separated by
//! random gaps or, with some probability, starting inside the previous sound;
//! optionally over a background recording at a given SNR ([`compose`]). Each
//! placed clip gives one [`PlacedEvent`] whose onset and offset are computed
//! from the clip's own samples, the way the bundled scenes
//! (`data/bundled/scenes/`) define them:
//!
//! - onset: the first sample whose `|x|` is at least 1 % of the clip's peak
//!   `|x|` (after its gain);
//! - offset: the last sample whose `|x|` is at least the peak · 10^(−40/20),
//!   i.e. the sample after which the sound stays below −40 dB re. its peak.
//!
//! Only single-label clips are used ([`single_label`]): a clip that already
//! mixes two sounds has no one onset and offset per label, so its references
//! would be ambiguous.
//!
//! [`write_scene`] writes `NAME.wav`, `NAME.csv` (`onset,offset,label`, the
//! format of `data/bundled/scenes/*.csv`) and `NAME.sources.csv` (adds the
//! clip); [`write_index`] writes the `scenes.csv` index. `docs/scenes.md` has
//! the user-facing description.
//!
//! Over 400 lines on purpose: composing a timeline and writing it share the
//! exact onset/offset definition that the references must match.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::dataset::{Dataset, Split};
use super::readers::walk_audio;
use super::splits;
use crate::audio::{AudioError, load_audio, to_pcm_i16};
use crate::edge::pipeline::train_test;
use crate::io::atomic_write;
use crate::matpac::rng::Rng;

/// Onset threshold: a share of the clip's peak `|x|` (1 %).
pub const ONSET_FRACTION: f64 = 0.01;
/// Offset threshold, dB re. the clip's peak `|x|`.
pub const OFFSET_DB: f64 = -40.0;
/// A scene whose peak `|x|` exceeds this is scaled down to it.
pub const MAX_PEAK: f32 = 0.99;

/// One clip as [`compose`] takes it: mono samples at the scene's rate, its
/// label, and where it came from (written to `NAME.sources.csv`).
pub type SceneClip = (Vec<f32>, String, PathBuf);

/// How scenes are laid out. Times are in seconds, levels in dB.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneConfig {
    /// Scene length, seconds (default 20.0); the scene has
    /// `round(duration · sample_rate)` samples.
    pub duration: f64,
    /// Sample rate of the clips, the background and the scene, Hz (default 16000).
    pub sample_rate: u32,
    /// Silence between one event's offset and the next event's onset, seconds,
    /// drawn uniformly from `[gap.0, gap.1]` (default (0.2, 1.2)). The first
    /// event's onset is one such gap after the start of the scene.
    pub gap: (f64, f64),
    /// Probability that the next sound starts inside the previous one instead
    /// of after a gap (default 0.33); it then starts at a uniform 30–80 % of
    /// the previous event's active length (onset to offset).
    pub overlap_probability: f64,
    /// Per-event gain, dB relative to the clip as recorded, drawn uniformly
    /// from `[gain_db.0, gain_db.1]` (default (−12.0, 0.0)).
    pub gain_db: (f64, f64),
    /// Background level: 10·log10(P_events / P_background), dB, where
    /// P_events is the mean power of the summed events over the samples where
    /// any event is active and P_background the mean power of the background
    /// as added (default `None`: no background is added, even if one is given).
    pub snr_db: Option<f64>,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            duration: 20.0,
            sample_rate: 16_000,
            gap: (0.2, 1.2),
            overlap_probability: 0.33,
            gain_db: (-12.0, 0.0),
            snr_db: None,
        }
    }
}

impl SceneConfig {
    /// Checks the settings; the message names the offending field.
    pub fn check(&self) -> Result<(), String> {
        let range = |(lo, hi): (f64, f64)| lo.is_finite() && hi.is_finite() && lo <= hi;
        if !(self.duration.is_finite() && self.duration > 0.0) {
            return Err(format!(
                "duration must be positive, got {} s",
                self.duration
            ));
        }
        if self.sample_rate == 0 {
            return Err("sample rate must be positive".into());
        }
        if !range(self.gap) || self.gap.0 < 0.0 {
            return Err(format!(
                "gap must be a range of non-negative seconds, got {:?}",
                self.gap
            ));
        }
        if !(0.0..=1.0).contains(&self.overlap_probability) {
            return Err(format!(
                "overlap probability must be in [0, 1], got {}",
                self.overlap_probability
            ));
        }
        if !range(self.gain_db) {
            return Err(format!(
                "gain must be a range of dB, got {:?}",
                self.gain_db
            ));
        }
        if let Some(snr) = self.snr_db
            && !snr.is_finite()
        {
            return Err(format!("SNR must be finite, got {snr} dB"));
        }
        Ok(())
    }

    /// Samples in one scene.
    pub fn samples(&self) -> usize {
        (self.duration * f64::from(self.sample_rate)).round() as usize
    }
}

/// One clip as placed in a scene.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedEvent {
    /// First sample of the scene whose `|x|` is at least 1 % of the placed
    /// clip's peak.
    pub onset_sample: usize,
    /// Last sample of the scene whose `|x|` is at least −40 dB re. the placed
    /// clip's peak (inclusive; always below the scene length).
    pub offset_sample: usize,
    /// The clip's label.
    pub label: String,
    /// The clip it came from, as given to [`compose`].
    pub source: PathBuf,
}

/// Which clips of a data set the scenes are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SceneSplit {
    /// The fit part of the training side (what the tagger trains on).
    Train,
    /// The validation part of the training side (what the tagger holds out).
    Val,
    /// The test split.
    Test,
}

impl SceneSplit {
    /// `train`, `val` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
            Self::Test => "test",
        }
    }
}

/// Indices into [`Dataset::clips`] of one side, in data set order.
///
/// `Test` is the clips whose `split` is `test`. `Train` and `Val` are the
/// fit and validation parts of the training side (every clip not in the test
/// split), as [`splits::validation`] cuts it with `split_seed`. That is the
/// same call, on the same training side, that `matpac train-tagger` makes with
/// its `--seed` (default 0): with the same seed, `Val` is exactly the clips the
/// tagger held out for validation (whole groups), and `Train` exactly the clips
/// it fitted on. The split seed is separate from the seed that lays out the
/// scenes.
pub fn clips_of_split(ds: &Dataset, split: SceneSplit, split_seed: u64) -> Vec<usize> {
    match split {
        SceneSplit::Test => (0..ds.clips.len())
            .filter(|&i| ds.clips[i].split == Some(Split::Test))
            .collect(),
        SceneSplit::Train | SceneSplit::Val => {
            let (train_side, _) = train_test(ds);
            let (fit, val) = splits::validation(ds, &train_side, split_seed);
            if split == SceneSplit::Train { fit } else { val }
        }
    }
}

/// The clips of `idx` with exactly one label (mixtures have no unambiguous
/// reference per label), in the order given.
pub fn single_label(ds: &Dataset, idx: &[usize]) -> Vec<usize> {
    idx.iter()
        .copied()
        .filter(|&i| ds.clips[i].labels.len() == 1)
        .collect()
}

/// The folder a data set's clip paths are relative to (a CSV's folder, or the
/// data set folder).
pub fn dataset_root(ds: &Dataset) -> &Path {
    if ds.source.is_dir() {
        &ds.source
    } else {
        ds.source.parent().unwrap_or(Path::new("."))
    }
}

/// Decodes the single-label clips among `idx` of `ds` (mixtures are skipped;
/// see [`single_label`]) at `sample_rate`, as [`compose`] takes them: `(samples, label, source)`,
/// the source relative to [`dataset_root`] (as the data set's CSV names it)
/// where it lies under it. Advances `bar` once per clip.
pub fn load_clips(
    ds: &Dataset,
    idx: &[usize],
    sample_rate: u32,
    bar: &ProgressBar,
) -> Result<Vec<SceneClip>, AudioError> {
    let root = dataset_root(ds);
    single_label(ds, idx)
        .par_iter()
        .map(|&i| {
            let clip = &ds.clips[i];
            let samples = load_audio(&clip.path, sample_rate)?;
            bar.inc(1);
            let source = clip.path.strip_prefix(root).unwrap_or(&clip.path);
            Ok((
                samples,
                ds.labels[clip.labels[0]].clone(),
                source.to_path_buf(),
            ))
        })
        .collect()
}

/// Why a background could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BackgroundError {
    /// The folder could not be listed.
    #[error("{path}: cannot read the background folder: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// No WAV/FLAC/OGG file under the folder.
    #[error("{path}: no audio files (WAV, FLAC, OGG) in the background folder")]
    NoAudio {
        /// The folder.
        path: PathBuf,
    },
    /// Every sample is zero: no level can be set.
    #[error("{path}: the background audio is silent")]
    Silent {
        /// The folder.
        path: PathBuf,
    },
    /// A file could not be decoded.
    #[error(transparent)]
    Audio(#[from] AudioError),
}

/// Every audio file under `folder` (recursive, sorted by path) at
/// `sample_rate`, concatenated.
pub fn load_background(folder: &Path, sample_rate: u32) -> Result<Vec<f32>, BackgroundError> {
    let mut files = Vec::new();
    walk_audio(folder, &mut files).map_err(|source| BackgroundError::Io {
        path: folder.to_path_buf(),
        source,
    })?;
    files.sort();
    if files.is_empty() {
        return Err(BackgroundError::NoAudio {
            path: folder.to_path_buf(),
        });
    }
    let parts = files
        .par_iter()
        .map(|f| load_audio(f, sample_rate))
        .collect::<Result<Vec<_>, _>>()?;
    let all: Vec<f32> = parts.concat();
    if all.iter().all(|&x| x == 0.0) {
        return Err(BackgroundError::Silent {
            path: folder.to_path_buf(),
        });
    }
    Ok(all)
}

/// `(first, last)` index of `x` whose `|x|` reaches the onset and offset
/// thresholds relative to the peak; `None` for a silent clip.
pub fn active_region(x: &[f32]) -> Option<(usize, usize)> {
    let peak = f64::from(x.iter().fold(0f32, |m, v| m.max(v.abs())));
    if peak <= 0.0 || !peak.is_finite() {
        return None;
    }
    let on = peak * ONSET_FRACTION;
    let off = peak * 10f64.powf(OFFSET_DB / 20.0);
    let first = x.iter().position(|v| f64::from(v.abs()) >= on)?;
    let last = x.iter().rposition(|v| f64::from(v.abs()) >= off)?;
    Some((first, last))
}

/// Picks the clips of a scene: uniformly among the clips not yet used in this
/// scene whose label has been used least often so far, so every label appears
/// before any label repeats and no clip repeats while unused ones remain.
struct Drawer<'a> {
    labels: Vec<&'a str>,
    usable: Vec<usize>,
    used: Vec<bool>,
    label_count: BTreeMap<&'a str, usize>,
}

impl<'a> Drawer<'a> {
    fn new(clips: &'a [SceneClip]) -> Self {
        Self {
            labels: clips.iter().map(|c| c.1.as_str()).collect(),
            usable: (0..clips.len())
                .filter(|&i| active_region(&clips[i].0).is_some())
                .collect(),
            used: vec![false; clips.len()],
            label_count: BTreeMap::new(),
        }
    }

    fn draw(&mut self, rng: &mut Rng) -> Option<usize> {
        if self.usable.is_empty() {
            return None;
        }
        if self.usable.iter().all(|&i| self.used[i]) {
            self.used.fill(false);
        }
        let count = |i: usize| self.label_count.get(self.labels[i]).copied().unwrap_or(0);
        let unused: Vec<usize> = self
            .usable
            .iter()
            .copied()
            .filter(|&i| !self.used[i])
            .collect();
        let least = unused.iter().map(|&i| count(i)).min()?;
        let candidates: Vec<usize> = unused.into_iter().filter(|&i| count(i) == least).collect();
        let pick = candidates[rng.below(candidates.len() as u64) as usize];
        self.used[pick] = true;
        *self.label_count.entry(self.labels[pick]).or_default() += 1;
        Some(pick)
    }
}

/// Uniform in `[lo, hi]`.
fn uniform(rng: &mut Rng, (lo, hi): (f64, f64)) -> f64 {
    lo + (hi - lo) * rng.next_f64()
}

/// Lays clips `(samples, label, source)` on a timeline of
/// `config.duration` seconds; returns the scene (`config.samples()` samples)
/// and its events sorted by onset.
///
/// - Clips are drawn uniformly, each at most once per scene while unused ones
///   remain, and among those from the labels used least so far (every label
///   before a label repeats). Silent clips are skipped. The clips should be
///   single-label ([`single_label`]).
/// - Each is scaled by a gain drawn from `config.gain_db`; its onset and
///   offset ([`active_region`]) are computed from the scaled clip alone, not
///   from the mixture. Its onset is a gap after the previous event's offset
///   or, with `config.overlap_probability`, at 30–80 % of the previous
///   event's active length. Placing stops at the first clip whose offset
///   would fall at or past the end of the scene; a clip's tail below the
///   offset threshold is cut at the end of the scene.
/// - With `background` and `config.snr_db`, the background, looped from a
///   random offset to the scene length, is added at that SNR (see
///   [`SceneConfig::snr_db`]). Without events it is not added (there is no
///   level to set it against), nor when it is silent.
/// - If the peak `|x|` then exceeds [`MAX_PEAK`], the whole scene is scaled
///   down to it. That moves no onset or offset: they are relative to each
///   clip's own peak, and scaling the clip does not change which samples
///   cross them.
///
/// # Panics
/// If `config` fails [`SceneConfig::check`].
pub fn compose(
    clips: &[SceneClip],
    background: Option<&[f32]>,
    config: &SceneConfig,
    rng: &mut Rng,
) -> (Vec<f32>, Vec<PlacedEvent>) {
    if let Err(e) = config.check() {
        panic!("invalid scene config: {e}");
    }
    let n = config.samples();
    let rate = f64::from(config.sample_rate);
    let mut scene = vec![0f32; n];
    let mut events: Vec<PlacedEvent> = Vec::new();
    let mut drawer = Drawer::new(clips);
    let mut previous: Option<(usize, usize)> = None;
    while let Some(c) = drawer.draw(rng) {
        let (samples, label, source) = &clips[c];
        let gain = 10f64.powf(uniform(rng, config.gain_db) / 20.0) as f32;
        let x: Vec<f32> = samples.iter().map(|&v| v * gain).collect();
        let Some((first, last)) = active_region(&x) else {
            continue; // a gain small enough to underflow every sample
        };
        let gap = |rng: &mut Rng| (uniform(rng, config.gap) * rate).round() as usize;
        let onset = match previous {
            None => gap(rng),
            Some((on, off)) if rng.next_f64() < config.overlap_probability => {
                let share = uniform(rng, (0.3, 0.8));
                (on + (share * (off - on) as f64).round() as usize).max(on + 1)
            }
            Some((on, off)) => (off + gap(rng)).max(on + 1),
        }
        .max(first);
        let start = onset - first;
        if start + last >= n {
            break;
        }
        for (s, &v) in scene[start..].iter_mut().zip(&x) {
            *s += v;
        }
        previous = Some((onset, start + last));
        events.push(PlacedEvent {
            onset_sample: onset,
            offset_sample: start + last,
            label: label.clone(),
            source: source.clone(),
        });
    }
    if let (Some(bg), Some(snr)) = (background, config.snr_db) {
        add_background(&mut scene, &events, bg, snr, rng);
    }
    let peak = scene.iter().fold(0f32, |m, v| m.max(v.abs()));
    if peak > MAX_PEAK {
        let k = MAX_PEAK / peak;
        scene.iter_mut().for_each(|v| *v *= k);
    }
    events.sort_by_key(|e| (e.onset_sample, e.offset_sample));
    (scene, events)
}

/// Adds `bg`, looped from a random offset, so that the events' mean power over
/// their active samples is `snr_db` above the background's mean power.
fn add_background(
    scene: &mut [f32],
    events: &[PlacedEvent],
    bg: &[f32],
    snr_db: f64,
    rng: &mut Rng,
) {
    if bg.is_empty() || scene.is_empty() {
        return;
    }
    let mut active = vec![false; scene.len()];
    for e in events {
        active[e.onset_sample..=e.offset_sample].fill(true);
    }
    let (sum, count) = scene
        .iter()
        .zip(&active)
        .filter(|&(_, &a)| a)
        .fold((0f64, 0usize), |(s, k), (&v, _)| {
            (s + f64::from(v).powi(2), k + 1)
        });
    let start = rng.below(bg.len() as u64) as usize;
    let looped: Vec<f32> = bg
        .iter()
        .cycle()
        .skip(start)
        .take(scene.len())
        .copied()
        .collect();
    let p_bg = looped.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / looped.len() as f64;
    if count == 0 || sum == 0.0 || p_bg == 0.0 {
        return;
    }
    let p_events = sum / count as f64;
    let k = (p_events / (p_bg * 10f64.powf(snr_db / 10.0))).sqrt() as f32;
    for (s, &b) in scene.iter_mut().zip(&looped) {
        *s += k * b;
    }
}

/// Seconds with 3 decimals, as the bundled scene references are written.
fn seconds(sample: usize, sample_rate: u32) -> String {
    format!("{:.3}", sample as f64 / f64::from(sample_rate))
}

fn utf8(path: &Path) -> io::Result<&str> {
    path.to_str().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: clip path is not valid UTF-8", path.display()),
        )
    })
}

/// Writes one scene into `dir`: `NAME.wav` (mono 16-bit PCM at
/// `sample_rate`), `NAME.csv` (`onset,offset,label`, seconds with 3 decimals)
/// and `NAME.sources.csv` (`onset,offset,label,clip`), every file through
/// [`atomic_write`]. Fields that need it are quoted (CSV rules).
pub fn write_scene(
    dir: &Path,
    name: &str,
    samples: &[f32],
    events: &[PlacedEvent],
    sample_rate: u32,
) -> io::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let hound_err = |e: hound::Error| match e {
        hound::Error::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    };
    atomic_write(&dir.join(format!("{name}.wav")), |w| {
        let mut wav = hound::WavWriter::new(w, spec).map_err(hound_err)?;
        for s in to_pcm_i16(samples) {
            wav.write_sample(s).map_err(hound_err)?;
        }
        wav.finalize().map_err(hound_err)
    })?;
    atomic_write(&dir.join(format!("{name}.csv")), |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(["onset", "offset", "label"])?;
        for e in events {
            csv.write_record([
                seconds(e.onset_sample, sample_rate).as_str(),
                &seconds(e.offset_sample, sample_rate),
                &e.label,
            ])?;
        }
        csv.flush()
    })?;
    atomic_write(&dir.join(format!("{name}.sources.csv")), |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(["onset", "offset", "label", "clip"])?;
        for e in events {
            csv.write_record([
                seconds(e.onset_sample, sample_rate).as_str(),
                &seconds(e.offset_sample, sample_rate),
                &e.label,
                utf8(&e.source)?,
            ])?;
        }
        csv.flush()
    })
}

/// One row of the `scenes.csv` index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    /// Scene name (`scene000`); its files are `NAME.wav`, `NAME.csv`, `NAME.sources.csv`.
    pub scene: String,
    /// Number of events.
    pub events: usize,
    /// Length, seconds.
    pub duration: f64,
    /// The distinct labels of its events, sorted.
    pub labels: Vec<String>,
}

impl IndexRow {
    /// The row of a scene of `samples` samples at `sample_rate` with `events`.
    pub fn new(scene: &str, samples: usize, events: &[PlacedEvent], sample_rate: u32) -> Self {
        let labels: BTreeSet<&str> = events.iter().map(|e| e.label.as_str()).collect();
        Self {
            scene: scene.to_string(),
            events: events.len(),
            duration: samples as f64 / f64::from(sample_rate),
            labels: labels.into_iter().map(String::from).collect(),
        }
    }
}

/// Writes `DIR/scenes.csv` (`scene,events,duration,labels`; duration in
/// seconds with 3 decimals, labels joined by `;`) through [`atomic_write`].
pub fn write_index(dir: &Path, rows: &[IndexRow]) -> io::Result<()> {
    atomic_write(&dir.join("scenes.csv"), |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(["scene", "events", "duration", "labels"])?;
        for r in rows {
            csv.write_record([
                r.scene.as_str(),
                &r.events.to_string(),
                &format!("{:.3}", r.duration),
                &r.labels.join(";"),
            ])?;
        }
        csv.flush()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{Clip, Layout};

    /// 100 zeros, a rise 0.001, 0.005, 0.02, 0.5, then `scale · 0.99^k`
    /// (k = 0, 1, …, 599) with alternating sign, then `tail` zeros. The
    /// largest value is `scale` at index 104; 1 % of it is first reached at
    /// index 102 (0.02 · scale); 0.99^458 = 0.01005 ≥ 0.01 > 0.99^459 =
    /// 0.00995, so the last sample at −40 dB is index 104 + 458 = 562.
    fn burst(scale: f32, tail: usize) -> Vec<f32> {
        let mut x = vec![0f32; 100];
        x.extend([0.001, 0.005, 0.02, 0.5].map(|v| v * scale));
        x.extend((0..600).map(|k| scale * 0.99f32.powi(k) * if k % 2 == 0 { 1.0 } else { -1.0 }));
        x.extend(std::iter::repeat_n(0.0, tail));
        x
    }
    const FIRST: usize = 102;
    const LAST: usize = 562;

    fn clips(labels: usize, per_label: usize) -> Vec<SceneClip> {
        let mut out = Vec::new();
        for l in 0..labels {
            for k in 0..per_label {
                let scale = 0.3 + 0.05 * (l * per_label + k) as f32 / (labels * per_label) as f32;
                out.push((
                    burst(scale, 50 * k),
                    format!("label{l}"),
                    PathBuf::from(format!("clips/l{l}/c{k}.wav")),
                ));
            }
        }
        out
    }

    #[test]
    fn active_region_of_the_test_burst_is_hand_computed() {
        assert_eq!(active_region(&burst(0.7, 10)), Some((FIRST, LAST)));
        assert_eq!(active_region(&[0.0; 10]), None);
        // −40 dB re. the peak is 1 % of it: the two thresholds coincide; the
        // offset is the last sample above, past a dip below.
        assert_eq!(
            active_region(&[0.0, 0.0101, 1.0, 0.0099, 0.0101, 0.0, 0.0099]),
            Some((1, 4))
        );
    }

    #[test]
    fn references_match_where_the_clips_were_placed_to_the_sample() {
        let clips = clips(4, 2);
        let config = SceneConfig {
            duration: 3.0,
            overlap_probability: 0.0,
            ..SceneConfig::default()
        };
        let (scene, events) = compose(&clips, None, &config, &mut Rng::new(3));
        assert_eq!(scene.len(), 48_000);
        assert!(events.len() >= 2, "{events:?}");
        let mut covered = vec![false; scene.len()];
        for e in &events {
            let clip = &clips.iter().find(|c| c.2 == e.source).unwrap().0;
            assert_eq!(e.label, clips.iter().find(|c| c.2 == e.source).unwrap().1);
            // The hand-computed onset places the clip at `start`; the scene must
            // hold exactly gain · clip from there (it is silent elsewhere and no
            // two clips overlap), which fails if the onset is off by a sample.
            let start = e.onset_sample - FIRST;
            assert_eq!(e.offset_sample, start + LAST);
            let gain = scene[start + 104] / clip[104];
            assert!(
                (10f32.powf(-12.0 / 20.0) - 1e-6..=1.0 + 1e-6).contains(&gain),
                "gain {gain}"
            );
            for (k, &v) in clip.iter().enumerate() {
                if start + k < scene.len() {
                    assert_eq!(scene[start + k], v * gain, "sample {k} of {e:?}");
                    covered[start + k] = true;
                }
            }
            assert_eq!(scene[start + 99], 0.0);
            assert_ne!(scene[start + 100], 0.0);
        }
        assert!(
            scene.iter().zip(&covered).all(|(&v, &c)| c || v == 0.0),
            "nonzero samples outside every placed clip"
        );
        // Sorted by onset, non-overlapping, gaps within 0.2–1.2 s.
        for w in events.windows(2) {
            let gap = w[1].onset_sample - w[0].offset_sample;
            assert!((3200..=19_200).contains(&gap), "gap {gap}");
        }
        assert!((3200..=19_200).contains(&events[0].onset_sample));
    }

    #[test]
    fn no_event_extends_past_the_duration() {
        let clips = clips(5, 3);
        for seed in 0..20 {
            let config = SceneConfig {
                duration: 1.0 + seed as f64 * 0.37,
                ..SceneConfig::default()
            };
            let (scene, events) = compose(&clips, None, &config, &mut Rng::new(seed));
            assert_eq!(scene.len(), config.samples());
            for e in &events {
                assert!(e.onset_sample <= e.offset_sample, "{e:?}");
                assert!(e.offset_sample < scene.len(), "{e:?} past {}", scene.len());
            }
            assert!(
                events
                    .windows(2)
                    .all(|w| w[0].onset_sample <= w[1].onset_sample)
            );
        }
    }

    #[test]
    fn overlaps_start_inside_the_previous_event() {
        let clips = clips(5, 3);
        let config = SceneConfig {
            overlap_probability: 1.0,
            ..SceneConfig::default()
        };
        let (_, events) = compose(&clips, None, &config, &mut Rng::new(5));
        assert!(events.len() > 10);
        for w in events.windows(2) {
            let (prev, next) = (&w[0], &w[1]);
            let len = (prev.offset_sample - prev.onset_sample) as f64;
            let at = (next.onset_sample - prev.onset_sample) as f64;
            assert!(
                at >= (0.3 * len).floor() && at <= (0.8 * len).ceil(),
                "{at} of {len}"
            );
        }
    }

    #[test]
    fn background_is_at_the_requested_snr() {
        let clips = clips(4, 2);
        // A background with a period that does not divide the scene.
        let bg: Vec<f32> = (0..7001)
            .map(|i| 0.2 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 0.31).cos())
            .collect();
        let config = SceneConfig {
            duration: 5.0,
            snr_db: Some(10.0),
            ..SceneConfig::default()
        };
        let (with, events) = compose(&clips, Some(&bg), &config, &mut Rng::new(11));
        // The same seed without a background draws the same events.
        let (without, same) = compose(&clips, None, &config, &mut Rng::new(11));
        assert_eq!(events, same);
        assert!(
            with.iter().all(|v| v.abs() <= MAX_PEAK),
            "scaled: the test needs it not to be"
        );
        let mut active = vec![false; without.len()];
        for e in &events {
            active[e.onset_sample..=e.offset_sample].fill(true);
        }
        let fg: Vec<f64> = without
            .iter()
            .zip(&active)
            .filter(|&(_, &a)| a)
            .map(|(&v, _)| f64::from(v))
            .collect();
        let p_events = fg.iter().map(|v| v * v).sum::<f64>() / fg.len() as f64;
        let p_bg = with
            .iter()
            .zip(&without)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            / with.len() as f64;
        let snr = 10.0 * (p_events / p_bg).log10();
        assert!((snr - 10.0).abs() < 0.01, "measured {snr} dB");
    }

    #[test]
    fn loud_scenes_are_scaled_to_the_peak_limit() {
        let clips: Vec<_> = (0..4)
            .map(|k| {
                (
                    burst(1.0, 0),
                    format!("l{k}"),
                    PathBuf::from(format!("c{k}")),
                )
            })
            .collect();
        let config = SceneConfig {
            gain_db: (6.0, 6.0),
            overlap_probability: 0.0,
            ..SceneConfig::default()
        };
        let (scene, events) = compose(&clips, None, &config, &mut Rng::new(1));
        let peak = scene.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((peak - MAX_PEAK).abs() < 1e-6, "peak {peak}");
        // Scaling moves no reference: the placed clip still starts there.
        let start = events[0].onset_sample - FIRST;
        assert_eq!(scene[start + 99], 0.0);
        assert_eq!(
            active_region(&scene[start..start + 700]),
            Some((FIRST, LAST))
        );
    }

    #[test]
    fn same_seed_same_scene_other_seed_other_scene() {
        let clips = clips(5, 3);
        let bg: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.1).sin() * 0.1).collect();
        let config = SceneConfig {
            snr_db: Some(20.0),
            ..SceneConfig::default()
        };
        let a = compose(&clips, Some(&bg), &config, &mut Rng::new(42));
        let b = compose(&clips, Some(&bg), &config, &mut Rng::new(42));
        let c = compose(&clips, Some(&bg), &config, &mut Rng::new(43));
        assert_eq!(a, b);
        assert_ne!(a.0, c.0);
        assert_ne!(a.1, c.1);
    }

    #[test]
    fn every_label_appears_before_any_repeats_and_no_clip_repeats_early() {
        let clips = clips(5, 3);
        for seed in 0..10 {
            let (_, events) = compose(&clips, None, &SceneConfig::default(), &mut Rng::new(seed));
            assert!(events.len() >= 15, "{} events", events.len());
            let first: BTreeSet<&str> = events[..5].iter().map(|e| e.label.as_str()).collect();
            assert_eq!(first.len(), 5, "seed {seed}: {events:?}");
            let clips_used: BTreeSet<&Path> =
                events[..15].iter().map(|e| e.source.as_path()).collect();
            assert_eq!(clips_used.len(), 15, "seed {seed}: a clip repeated early");
        }
    }

    fn dataset() -> Dataset {
        let mut clips = Vec::new();
        for g in 0..12 {
            for k in 0..3 {
                clips.push(Clip {
                    path: PathBuf::from(format!("/d/g{g}/c{k}.wav")),
                    labels: if k == 2 {
                        vec![g % 3, (g + 1) % 3]
                    } else {
                        vec![g % 3]
                    },
                    group: format!("g{g}"),
                    fold: None,
                    split: Some(if g < 3 { Split::Test } else { Split::Train }),
                    row: 0,
                });
            }
        }
        Dataset {
            name: "d".into(),
            source: PathBuf::from("/d/manifest.csv"),
            layout: Layout::Csv,
            labels: vec!["a".into(), "b".into(), "c".into()],
            clips,
        }
    }

    #[test]
    fn splits_partition_the_data_set_by_group() {
        let ds = dataset();
        let test = clips_of_split(&ds, SceneSplit::Test, 0);
        let fit = clips_of_split(&ds, SceneSplit::Train, 0);
        let val = clips_of_split(&ds, SceneSplit::Val, 0);
        assert_eq!(test, (0..9).collect::<Vec<_>>());
        assert!(!fit.is_empty() && !val.is_empty());
        let mut all: Vec<usize> = [test.clone(), fit.clone(), val.clone()].concat();
        all.sort();
        assert_eq!(all, (0..36).collect::<Vec<_>>());
        assert_eq!(splits::crossing_group(&ds, &fit, &val), None);
        // The tagger's own call, with the tagger's seed.
        assert_eq!(val, splits::validation(&ds, &train_test(&ds).0, 0).1);
        assert_eq!(single_label(&ds, &test), vec![0, 1, 3, 4, 6, 7]);
        assert_eq!(dataset_root(&ds), Path::new("/d"));
    }

    #[test]
    fn writes_wav_and_references_in_the_bundled_format() {
        let dir = tempfile::tempdir().unwrap();
        let events = vec![
            PlacedEvent {
                onset_sample: 8080,
                offset_sample: 22_256,
                label: "piano".into(),
                source: PathBuf::from("clips/piano/p005-k071.flac"),
            },
            PlacedEvent {
                onset_sample: 14_480,
                offset_sample: 30_800,
                label: "odd, label".into(),
                source: PathBuf::from("clips/x.flac"),
            },
        ];
        let samples = vec![0.0, 0.5, -0.25, 0.99];
        write_scene(dir.path(), "s", &samples, &events, 16_000).unwrap();
        let refs = std::fs::read_to_string(dir.path().join("s.csv")).unwrap();
        assert_eq!(
            refs,
            "onset,offset,label\n0.505,1.391,piano\n0.905,1.925,\"odd, label\"\n"
        );
        let sources = std::fs::read_to_string(dir.path().join("s.sources.csv")).unwrap();
        assert_eq!(
            sources.lines().nth(1),
            Some("0.505,1.391,piano,clips/piano/p005-k071.flac")
        );
        let mut wav = hound::WavReader::open(dir.path().join("s.wav")).unwrap();
        assert_eq!(wav.spec().sample_rate, 16_000);
        assert_eq!(wav.spec().bits_per_sample, 16);
        let pcm: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(pcm, vec![0, 16384, -8192, 32440]);
        write_index(dir.path(), &[IndexRow::new("s", 320_000, &events, 16_000)]).unwrap();
        let index = std::fs::read_to_string(dir.path().join("scenes.csv")).unwrap();
        assert_eq!(
            index,
            "scene,events,duration,labels\ns,2,20.000,\"odd, label;piano\"\n"
        );
    }
}
