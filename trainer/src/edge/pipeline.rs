//! Glue shared by the edge subcommands: labelled windows of a data set's
//! splits, calibration, and the int8-vs-float evaluation in the runtime.

use super::features::{FeatureError, FeatureStats, file_windows};
use super::onnx_export::ExportError;
use super::quantize::QuantModel;
use super::student::{FloatNet, StudentConfig};
use super::tagger_head::LabelledWindows;
use crate::data::dataset::{Dataset, Split};
use matpac_runtime::engine::{Engine, Interpreter};
use matpac_runtime::frontend::FrontendConfig;
use matpac_runtime::model::Model;

/// One row of f32 per window.
pub type Rows = Vec<Vec<f32>>;

/// Window hop when cutting clips (half a window).
pub const HOP_FRAMES: usize = 49;

/// Raw (not standardised) windows of the clips `idx`, with multi-hot targets.
/// Windows of one clip all carry the clip's labels.
pub fn windows_of(
    ds: &Dataset,
    idx: &[usize],
    frontend: &FrontendConfig,
    student: &StudentConfig,
) -> Result<LabelledWindows, FeatureError> {
    let mut out = LabelledWindows::default();
    for &i in idx {
        let clip = &ds.clips[i];
        let mut target = vec![0f32; ds.labels.len()];
        clip.labels.iter().for_each(|&l| target[l] = 1.0);
        for w in file_windows(frontend, &clip.path, student.n_frames, HOP_FRAMES)? {
            out.x.push(w);
            out.y.push(target.clone());
            out.clip.push(i);
        }
    }
    Ok(out)
}

/// `(train, test)` clip indices: the data set's own split where it has one
/// (clips without a split, and `val`, count as train); otherwise everything
/// is train and test is empty.
pub fn train_test(ds: &Dataset) -> (Vec<usize>, Vec<usize>) {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, c) in ds.clips.iter().enumerate() {
        if c.split == Some(Split::Test) {
            test.push(i)
        } else {
            train.push(i)
        }
    }
    (train, test)
}

/// The labelled windows of a data set's three sides, standardised.
#[derive(Debug, Clone)]
pub struct SplitWindows {
    /// Clips the model is fitted on.
    pub fit: Vec<usize>,
    /// Held-out groups of the training side (thresholds, validation scenes).
    pub val: Vec<usize>,
    /// The data set's test side (may be empty).
    pub test: Vec<usize>,
    /// Windows of `fit`, `val`, `test`.
    pub windows: [LabelledWindows; 3],
    /// The standardisation applied.
    pub stats: FeatureStats,
}

impl SplitWindows {
    /// Splits `ds` (its test side; validation groups of the training side
    /// drawn with `seed`), cuts every clip into `student`'s windows and
    /// standardises them with `stats`, or with the fitting windows' own
    /// statistics without.
    pub fn prepare(
        ds: &Dataset,
        seed: u64,
        frontend: &FrontendConfig,
        student: &StudentConfig,
        stats: Option<FeatureStats>,
    ) -> Result<Self, FeatureError> {
        let (train_side, test) = train_test(ds);
        let (fit, val) = crate::data::splits::validation(ds, &train_side, seed);
        let mut windows: [LabelledWindows; 3] = Default::default();
        for (w, idx) in windows.iter_mut().zip([&fit, &val, &test]) {
            *w = windows_of(ds, idx, frontend, student)?;
        }
        let stats = stats.unwrap_or_else(|| FeatureStats::from_windows(&windows[0].x));
        windows.iter_mut().for_each(|w| standardise(w, &stats));
        Ok(Self {
            fit,
            val,
            test,
            windows,
            stats,
        })
    }

    /// Whether validation is a held-out part (not the fitting set itself,
    /// as with a single group).
    pub fn has_held_out(&self) -> bool {
        !self.val.is_empty() && self.val != self.fit
    }
}

/// Standardises every window in place.
pub fn standardise(w: &mut LabelledWindows, stats: &FeatureStats) {
    for x in &mut w.x {
        *x = stats.apply(x);
    }
}

/// Every `k`-th window so that at most `max` remain (deterministic).
pub fn subsample(windows: &[Vec<f32>], max: usize) -> Vec<Vec<f32>> {
    let k = windows.len().div_ceil(max.max(1)).max(1);
    windows.iter().step_by(k).cloned().collect()
}

/// Logits of `windows` from the float net and from the int8 model run by the
/// runtime's interpreter (`onnx` must output logits).
pub fn float_and_int8_logits(
    net: &FloatNet,
    onnx: &[u8],
    windows: &[Vec<f32>],
) -> Result<(Rows, Rows), ExportError> {
    let model = Model::parse(onnx).map_err(ExportError::Runtime)?;
    let mut arena = vec![0u8; model.arena_len()];
    let mut engine = Interpreter::new(&model, &mut arena).map_err(ExportError::Runtime)?;
    let mut float = Vec::with_capacity(windows.len());
    let mut int8 = Vec::with_capacity(windows.len());
    for w in windows {
        float.push(net.forward(w).logits);
        let mut y = vec![0f32; model.output_len()];
        engine.run(w, &mut y).map_err(ExportError::Runtime)?;
        int8.push(y);
    }
    Ok((float, int8))
}

/// Element-wise logistic function of logits.
pub fn sigmoid_rows(logits: &[Vec<f32>]) -> Vec<Vec<f32>> {
    logits
        .iter()
        .map(|r| r.iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect())
        .collect()
}

/// One line about the quantised model's input.
pub fn describe_input(q: &QuantModel) -> String {
    format!(
        "input [1, 1, {}, {}] int8, scale {:.4e}, zero point {}",
        q.in_shape[0], q.in_shape[1], q.input.scale, q.input.zero_point
    )
}

/// Clip embeddings of a student, `[clips · C]` row-major: the pooled
/// embedding of each standardised window (the student's own input), mean over
/// the clip's windows. What the student-vs-teacher linear probe reads.
pub fn student_clip_embeddings(
    net: &FloatNet,
    stats: &FeatureStats,
    frontend: &FrontendConfig,
    student: &StudentConfig,
    clips: &[std::path::PathBuf],
) -> Result<Vec<f32>, FeatureError> {
    let c = student.embedding_dim();
    let mut out = Vec::with_capacity(clips.len() * c);
    for path in clips {
        let windows = file_windows(frontend, path, student.n_frames, HOP_FRAMES)?;
        let mut sum = vec![0f64; c];
        for w in &windows {
            let pooled = net.forward(&stats.apply(w)).pooled;
            sum.iter_mut()
                .zip(pooled)
                .for_each(|(s, v)| *s += f64::from(v));
        }
        let n = windows.len().max(1) as f64;
        out.extend(sum.iter().map(|&s| (s / n) as f32));
    }
    Ok(out)
}
