//! `import-official` against the reference implementation: a small encoder
//! (2 × 192) with seeded random weights, saved by the reference's own model
//! code, and its "precise" embeddings of three bundled recordings
//! (`trainer/tests/fixtures/official/`, made by `tools/make_official_fixture.py`).
//! `MATPAC_OFFICIAL_FIXTURE=DIR` runs the embedding test on another fixture
//! made by the same script (e.g. a ViT-B-shaped one, too large to commit).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use matpac_trainer::audio::load_audio;
use matpac_trainer::frontend::FloatFrontend;
use matpac_trainer::io::read_npy_f32;
use matpac_trainer::matpac::official::import_official;

/// Same log-mel in, same embedding out: both sides run the same f32
/// operations in a different order (fused vs separate GEMMs, softmax and
/// LayerNorm reductions), so they differ by accumulated rounding only.
const SAME_INPUT_TOLERANCE: f32 = 1e-4;
/// From audio: the two front ends (torchaudio's STFT and mel matrix, ours)
/// differ in floating-point detail as well.
const FROM_AUDIO_TOLERANCE: f32 = 1e-3;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/official")
        .join(name)
}

fn embedding_fixture(name: &str) -> PathBuf {
    std::env::var_os("MATPAC_OFFICIAL_FIXTURE")
        .map_or_else(|| fixture(name), |dir| PathBuf::from(dir).join(name))
}

fn bundled(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/bundled")
        .join(rel)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "embedding widths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn imported_encoder_embeds_as_the_reference_does() {
    let trainer =
        import_official(&embedding_fixture("checkpoint.pt"), None, &Device::flex()).unwrap();
    let m = &trainer.cfg.model;
    assert_eq!((m.encoder_heads * 64, m.n_frames), (m.encoder_dim, 608));
    if std::env::var_os("MATPAC_OFFICIAL_FIXTURE").is_none() {
        assert_eq!((m.encoder_dim, m.encoder_depth), (192, 2));
    }
    let fe = trainer.cfg.frontend;
    assert_eq!((fe.n_fft, fe.win_length, fe.hop_length), (400, 400, 160));
    let frontend = FloatFrontend::new(&fe).unwrap();
    for (name, audio, frames) in [
        ("clip", "clips/bass/p032-k033.flac", 89),
        ("phrase", "unlabelled/phrase000.flac", 648),
        ("scene", "scenes/scene01.flac", 1998),
    ] {
        let (_, want) = read_npy_f32(&embedding_fixture(&format!("{name}.emb.npy"))).unwrap();
        let (shape, logmel) =
            read_npy_f32(&embedding_fixture(&format!("{name}.logmel.npy"))).unwrap();
        assert_eq!(shape, [80, frames]);
        let same_input = max_abs_diff(&trainer.embed_clip(&logmel, 80, frames), &want);
        let mel = frontend.log_mel(&load_audio(&bundled(audio), fe.sample_rate).unwrap());
        assert_eq!(mel.n_frames, frames);
        let from_audio = max_abs_diff(
            &trainer.embed_clip(&mel.mel_major(), mel.n_mels, mel.n_frames),
            &want,
        );
        eprintln!(
            "{name} ({frames} frames): max |ours − reference| {same_input:.2e} from its log-mel, \
             {from_audio:.2e} from audio"
        );
        assert!(same_input <= SAME_INPUT_TOLERANCE, "{name}: {same_input}");
        assert!(from_audio <= FROM_AUDIO_TOLERANCE, "{name}: {from_audio}");
    }
}

#[test]
fn a_damaged_state_dict_fails_with_one_line_naming_the_tensor() {
    for (file, names) in [
        (
            "broken_missing.pt",
            &[
                "missing key `student_encoder.blocks.0.attn.proj.bias`",
                "[64]",
            ][..],
        ),
        (
            "broken_shape.pt",
            &[
                "`student_encoder.blocks.0.mlp.fc2.weight` has shape [256, 64]",
                "expected [64, 256]",
            ][..],
        ),
        (
            "broken_extra.pt",
            &[
                "unexpected key `student_encoder.blocks.0.ls1.gamma`",
                "[64]",
            ][..],
        ),
    ] {
        let err = import_official(&fixture(file), None, &Device::flex())
            .err()
            .unwrap_or_else(|| panic!("{file} was accepted"))
            .to_string();
        assert!(!err.contains('\n'), "{file}: {err}");
        for n in names {
            assert!(err.contains(n), "{file}: `{err}` does not say `{n}`");
        }
    }
    let err = import_official(&bundled("manifest.csv"), None, &Device::flex())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not a readable PyTorch file"), "{err}");
}
