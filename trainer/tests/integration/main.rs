//! The trainer's integration tests, linked into one test binary: every binary
//! that links Burn and tract costs seconds of link time and hundreds of MB of
//! disk, so the files below are modules of one crate rather than separate tests.

mod cli_infer;
mod cli_mel;
mod cli_pretrain;
mod cli_scenes;
mod cli_tag;
mod cli_train_tagger;
mod export_parity;
mod librosa_reference;
mod official_import;
mod probe_classifier;
mod probe_data;
