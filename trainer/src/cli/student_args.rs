//! The student-training flags `matpac distill` and `matpac train-tagger` share.

use crate::edge::student::StudentConfig;
use crate::edge::tagger_head::TaggerTrainConfig;

/// Student size and optimisation flags.
#[derive(Debug, Clone, clap::Args)]
pub struct StudentTraining {
    /// Student size: `default` (≈ 32 k params, 2.4 M MACs) or `tiny`.
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// Epochs.
    #[arg(long, default_value_t = TaggerTrainConfig::default().epochs)]
    pub epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = TaggerTrainConfig::default().batch)]
    pub batch: usize,
    /// Peak learning rate (cosine to 0).
    #[arg(long, default_value_t = TaggerTrainConfig::default().lr)]
    pub lr: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl StudentTraining {
    /// The `--preset` architecture with `n_outputs` outputs.
    pub fn student(&self, n_outputs: usize) -> anyhow::Result<StudentConfig> {
        match self.preset.as_str() {
            "default" => Ok(StudentConfig {
                n_outputs,
                ..StudentConfig::default()
            }),
            "tiny" => Ok(StudentConfig::tiny(n_outputs)),
            other => anyhow::bail!("unknown preset {other:?} (default, tiny)"),
        }
    }
}
