//! Command-line interface: one file per subcommand, each a thin layer over the library.

mod calibrated;
mod demo;
mod distill;
mod embed;
mod export;
mod export_encoder;
mod import_official;
mod infer;
mod mel;
mod pretrain;
mod probe;
mod probe_suite;
mod quantize;
mod scenes;
mod soak;
mod student_args;
mod tag;
mod train_tagger;

use clap::{Parser, Subcommand};

/// MATPAC edge: self-supervised audio pretraining down to microcontrollers.
#[derive(Debug, Parser)]
#[command(name = "matpac", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute the log-mel features of one audio file and write them as .npy `[frames, mels]`.
    Mel(mel::Args),
    /// Run an int8 .onnx model on float .npy input with the runtime or tract; write .npy output.
    Infer(infer::Args),
    /// Tag audio files with an exported model, using the runtime's streaming tagger.
    Tag(tag::Args),
    /// MATPAC self-supervised pretraining on a folder of unlabelled audio.
    Pretrain(pretrain::Args),
    /// A published MATPAC encoder (the reference implementation's `.pt`) as a run folder.
    ImportOfficial(import_official::Args),
    /// The pretrained encoder as `.safetensors` (the reference's keys) or float `.onnx`.
    ExportEncoder(export_encoder::Args),
    /// Clip embeddings of a pretrained encoder, one row per clip, as .npy.
    Embed(embed::Args),
    /// Linear probe on frozen clip embeddings: accuracy over the data set's splits.
    Probe(probe::Args),
    /// The probe on every available task: MATPAC vs λ = 0 vs random init, one markdown table.
    ProbeSuite(probe_suite::Args),
    /// Distil the DS-CNN student from a frozen MATPAC encoder on unlabelled audio.
    Distill(distill::Args),
    /// Train the DS-CNN student as a multi-label tagger (sigmoid head, per-class thresholds).
    TrainTagger(train_tagger::Args),
    /// Post-training int8 quantisation: per-layer error, float vs int8 accuracy.
    Quantize(quantize::Args),
    /// Quantise and write the int8 `.onnx` (with metadata) the runtime runs.
    Export(export::Args),
    /// Labelled clips of one split laid on timelines, with exact onset/offset references.
    Scenes(scenes::Args),
    /// Long-run check: hours of audio through one streaming tagger, faster than real time.
    Soak(soak::Args),
    /// The whole pipeline on the bundled data: pretrain → probe → distill → tagger → int8 → tag; report.md.
    Demo(demo::Args),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Mel(args) => mel::run(args),
        Command::Infer(args) => infer::run(args),
        Command::Tag(args) => tag::run(args),
        Command::Pretrain(args) => pretrain::run(args),
        Command::ImportOfficial(args) => import_official::run(args),
        Command::ExportEncoder(args) => export_encoder::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Probe(args) => probe::run(args),
        Command::ProbeSuite(args) => probe_suite::run(args).map(drop),
        Command::Distill(args) => distill::run(args).map(drop),
        Command::TrainTagger(args) => train_tagger::run(args).map(drop),
        Command::Quantize(args) => quantize::run(args).map(drop),
        Command::Export(args) => export::run(args).map(drop),
        Command::Demo(args) => demo::run(args),
        Command::Soak(args) => soak::run(args),
        Command::Scenes(args) => scenes::run(args).map(drop),
    }
}
