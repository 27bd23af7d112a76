//! A trained student on disk: `DIR/student.toml` (architecture, feature
//! statistics, classes, thresholds, provenance) beside `DIR/student.bpk`
//! (Burn burnpack weights). Both written atomically; the TOML last, so a
//! folder with a TOML always has its weights.

use super::features::FeatureStats;
use super::student::{Student, StudentConfig};
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use matpac_runtime::tagger::TaggerConfig;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the student was trained for and on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentInfo {
    /// Architecture.
    pub student: StudentConfig,
    /// Feature standardisation.
    pub features: FeatureStats,
    /// Class names in output order (empty for a distilled embedding model).
    pub class_names: Vec<String>,
    /// Per-class thresholds (validation-chosen).
    pub thresholds: Vec<f32>,
    /// The streaming tagger's settings, when chosen on validation scenes
    /// (smoothing, top-k; absent in older checkpoints: the runtime's defaults).
    #[serde(default)]
    pub tagger: Option<TaggerConfig>,
    /// Free text: command, data, date.
    pub provenance: String,
}

/// Checkpoint errors name the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct CheckpointError {
    /// File.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

fn err(path: &Path, reason: impl std::fmt::Display) -> CheckpointError {
    CheckpointError {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Writes `dir/student.bpk` then `dir/student.toml`.
pub fn save(dir: &Path, info: &StudentInfo, model: &Student) -> Result<(), CheckpointError> {
    let weights = dir.join("student.bpk");
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| err(&weights, e))?
        .to_vec();
    crate::io::atomic_write(&weights, |w| w.write_all(&bytes)).map_err(|e| err(&weights, e))?;
    let toml_path = dir.join("student.toml");
    let text = toml::to_string(info).map_err(|e| err(&toml_path, e))?;
    crate::io::atomic_write(&toml_path, |w| w.write_all(text.as_bytes()))
        .map_err(|e| err(&toml_path, e))
}

/// Reads what [`save`] wrote, building the model on `device`.
pub fn load(dir: &Path, device: &Device) -> Result<(StudentInfo, Student), CheckpointError> {
    let toml_path = dir.join("student.toml");
    let text = std::fs::read_to_string(&toml_path).map_err(|e| err(&toml_path, e))?;
    let info: StudentInfo = toml::from_str(&text).map_err(|e| err(&toml_path, e))?;
    info.student.validate().map_err(|e| err(&toml_path, e))?;
    let weights = dir.join("student.bpk");
    let bytes = std::fs::read(&weights).map_err(|e| err(&weights, e))?;
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| err(&weights, e))?;
    let model = info
        .student
        .init(device)
        .try_load_record(record)
        .map_err(|e| err(&weights, e))?;
    Ok((info, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let device = Device::flex();
        device.seed(5);
        let config = StudentConfig {
            n_frames: 12,
            n_mels: 8,
            ..StudentConfig::tiny(2)
        };
        let model = config.init(&device);
        let info = StudentInfo {
            student: config.clone(),
            features: FeatureStats {
                mean: -7.0,
                std: 3.0,
            },
            class_names: vec!["a".into(), "b".into()],
            thresholds: vec![0.4, 0.6],
            tagger: Some(TaggerConfig {
                smoothing_windows: 3,
                top_k: 2,
                ..TaggerConfig::default()
            }),
            provenance: "test".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &info, &model).unwrap();
        let (info2, model2) = load(dir.path(), &device).unwrap();
        assert_eq!(info2, info);
        assert_eq!(model2.to_float_net(&config), model.to_float_net(&config));
    }
}
