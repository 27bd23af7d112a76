//! What `matpac quantize` and `matpac export` share: loading a student,
//! calibrating its int8 twin on the training side of a data set, and writing
//! the `.onnx` with its metadata.

use crate::data::readers;
use crate::edge::checkpoint;
use crate::edge::onnx_export::{ExportMeta, OutputKind, to_onnx, write_onnx};
use crate::edge::pipeline::{describe_input, standardise, subsample, train_test, windows_of};
use crate::edge::quantize::{Calibration, QuantModel, quantize};
use crate::edge::student::FloatNet;
use crate::edge::tagger_head::LabelledWindows;
use burn::tensor::Device;
use matpac_runtime::frontend::FrontendConfig;
use matpac_runtime::model::Model;

/// Parses `minmax` or a percentile.
pub fn parse_calibration(s: &str) -> anyhow::Result<Calibration> {
    if s.eq_ignore_ascii_case("minmax") {
        return Ok(Calibration::MinMax);
    }
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (50.0..=100.0).contains(&p) => Ok(Calibration::Percentile(p)),
        _ => {
            anyhow::bail!("--calibration: expected `minmax` or a percentile in 50..=100, got {s:?}")
        }
    }
}

/// Loaded checkpoint, its float net and the quantised model.
pub struct Prepared {
    /// Checkpoint metadata.
    pub info: checkpoint::StudentInfo,
    /// BatchNorm-folded float student.
    pub net: FloatNet,
    /// int8 student.
    pub q: QuantModel,
    /// Standardised test-side windows with targets.
    pub test: LabelledWindows,
}

/// Loads the student, cuts DATA into windows, calibrates.
pub fn prepare(
    student: &std::path::Path,
    data: &std::path::Path,
    calibration: &str,
    max_windows: usize,
) -> anyhow::Result<Prepared> {
    let cal = parse_calibration(calibration)?;
    let (info, model) = checkpoint::load(student, &Device::flex())?;
    let ds = readers::open(data)?;
    if ds.labels != info.class_names && !info.class_names.is_empty() {
        anyhow::bail!(
            "{}: labels {:?} differ from the student's classes {:?}",
            data.display(),
            ds.labels,
            info.class_names
        );
    }
    let frontend = FrontendConfig::default();
    let (train, test) = train_test(&ds);
    let mut cal_w = windows_of(&ds, &train, &frontend, &info.student)?;
    let mut test_w = windows_of(&ds, &test, &frontend, &info.student)?;
    standardise(&mut cal_w, &info.features);
    standardise(&mut test_w, &info.features);
    let cal_x = subsample(&cal_w.x, max_windows);
    let net = model.to_float_net(&info.student);
    let q = quantize(&net, &cal_x, cal);
    eprintln!(
        "calibrated on {} windows ({:?}); {}",
        cal_x.len(),
        cal,
        describe_input(&q)
    );
    Ok(Prepared {
        info,
        net,
        q,
        test: test_w,
    })
}

/// The export metadata of a prepared model.
pub fn meta(p: &Prepared, output: OutputKind) -> ExportMeta {
    ExportMeta {
        frontend: FrontendConfig::default(),
        class_names: p.info.class_names.clone(),
        thresholds: p.info.thresholds.clone(),
        tagger: p.info.tagger,
        feature_mean: p.info.features.mean,
        feature_std: p.info.features.std,
        provenance: p.info.provenance.clone(),
        output,
    }
}

/// What `matpac export` (or `quantize --out`) wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Written {
    /// File size, bytes.
    pub bytes: usize,
    /// Parameters.
    pub params: usize,
    /// Multiply-accumulates per window.
    pub macs: usize,
    /// Runtime activation arena, bytes.
    pub arena: usize,
}

/// Writes `p` as an `.onnx` with `output` to `out`, checks that the runtime
/// parses it, prints and returns its size, parameters, MACs and arena.
pub fn write(p: &Prepared, output: OutputKind, out: &std::path::Path) -> anyhow::Result<Written> {
    let bytes = to_onnx(&p.q, &meta(p, output))?;
    write_onnx(out, &bytes)?;
    let model = Model::parse(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let stats = p.info.student.stats();
    println!(
        "{}: {} B, {} params, {} MACs/window, arena {} B, output {:?} [1, {}]",
        out.display(),
        bytes.len(),
        stats.params,
        stats.macs,
        model.arena_len(),
        output,
        model.output_len()
    );
    Ok(Written {
        bytes: bytes.len(),
        params: stats.params,
        macs: stats.macs,
        arena: model.arena_len(),
    })
}
