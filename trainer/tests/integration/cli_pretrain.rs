//! `matpac pretrain` and `matpac embed` end to end on a few generated WAV files
//! (tiny preset, a handful of updates): features cached and reused, an
//! unreadable file skipped and reported, a short clip padded, resume, metrics,
//! and one embedding row per clip in input order.

use matpac_trainer::io::read_npy_f32;
use std::path::Path;
use std::process::{Command, Output};

fn write_wav(path: &Path, seconds: f32, f0: f32, seed: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut state = seed;
    for i in 0..(seconds * 16_000.0) as usize {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (state >> 16) as f32 / 65_536.0 - 0.5;
        let tone = (2.0 * std::f32::consts::PI * f0 * i as f32 / 16_000.0).sin();
        w.write_sample(((0.3 * tone + 0.05 * noise) * 32_767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

fn matpac(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_matpac"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "matpac {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `matpac embed --checkpoint run --data data --out out`; the `.npy` it wrote
/// (shape, values).
fn embed(run: &str, data: &str, out: &Path) -> (Vec<usize>, Vec<f32>) {
    matpac(&[
        "embed",
        "--checkpoint",
        run,
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
    ]);
    read_npy_f32(out).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn pretrain_resume_and_embed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("audio");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    write_wav(&data.join("a.wav"), 7.0, 440.0, 1);
    write_wav(&data.join("sub/b.wav"), 2.0, 1_000.0, 2);
    write_wav(&data.join("c.wav"), 0.3, 3_000.0, 3); // 28 frames: padded to 608
    std::fs::write(data.join("broken.wav"), b"RIFF not really").unwrap();
    let (run, cache) = (dir.path().join("run"), dir.path().join("cache"));
    let (d, r, c) = (
        data.to_str().unwrap(),
        run.to_str().unwrap(),
        cache.to_str().unwrap(),
    );

    let first = matpac(&[
        "pretrain", "--data", d, "--preset", "tiny", "--out", r, "--steps", "3", "--cache", c,
        "--quiet",
    ]);
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(log.contains("3 clips (3 decoded now"), "{log}");
    let skipped = std::fs::read_to_string(run.join("skipped.txt")).unwrap();
    assert!(
        skipped.contains("broken.wav") && skipped.lines().count() == 1,
        "{skipped}"
    );
    for f in [
        "checkpoint.mpk",
        "metrics.csv",
        "metrics.png",
        "config.toml",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    // A second run without --resume refuses to overwrite the checkpoint.
    let refused = Command::new(env!("CARGO_BIN_EXE_matpac"))
        .args([
            "pretrain", "--data", d, "--preset", "tiny", "--out", r, "--steps", "3", "--cache", c,
        ])
        .output()
        .unwrap();
    assert!(
        !refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--resume")
    );

    let second = matpac(&[
        "pretrain", "--data", d, "--out", r, "--steps", "5", "--cache", c, "--resume", "--quiet",
    ]);
    let log = String::from_utf8_lossy(&second.stderr);
    assert!(
        log.contains("0 decoded now, 3 from"),
        "features reused: {log}"
    );
    assert!(
        log.contains("resuming") && log.contains("update 5:"),
        "{log}"
    );
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let steps: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(steps, ["0", "1", "2", "3", "4"], "{csv}");

    // `embed` writes one row per clip, so it needs every clip readable.
    std::fs::remove_file(data.join("broken.wav")).unwrap();
    let emb = dir.path().join("emb.npy");
    let (shape, values) = embed(r, d, &emb);
    assert_eq!(
        shape,
        vec![3, 5 * 64],
        "3 readable clips × (5 bands × width 64)"
    );
    assert!(values.iter().all(|v| v.is_finite()));
    let paths = std::fs::read_to_string(dir.path().join("emb.paths.txt")).unwrap();
    let names: Vec<&str> = paths
        .lines()
        .map(|l| l.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, ["a.wav", "c.wav", "b.wav"], "sorted input order");
}

/// A run with `--set frontend.n_fft=400` records that front end, and `embed`
/// (and the probes' `embed_clips`) compute its features with n_fft 400, not
/// the runtime's 512.
#[test]
fn a_checkpoint_is_embedded_with_its_own_front_end() {
    use matpac_runtime::frontend::FrontendConfig;
    use matpac_trainer::audio::load_audio;
    use matpac_trainer::eval::embed::{ClipEncoder, embed_clips};
    use matpac_trainer::frontend::FloatFrontend;
    use matpac_trainer::matpac::checkpoint;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("audio");
    std::fs::create_dir_all(&data).unwrap();
    write_wav(&data.join("a.wav"), 1.5, 440.0, 1);
    write_wav(&data.join("b.wav"), 1.0, 2_500.0, 2);
    let (run, cache) = (dir.path().join("run"), dir.path().join("cache"));
    let (d, r) = (data.to_str().unwrap(), run.to_str().unwrap());
    let out = matpac(&[
        "pretrain",
        "--data",
        d,
        "--preset",
        "tiny",
        "--out",
        r,
        "--steps",
        "1",
        "--cache",
        cache.to_str().unwrap(),
        "--set",
        "frontend.n_fft=400",
        "--quiet",
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("n_fft 400"), "{log}");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("n_fft = 400"), "{config}");
    let ckpt = run.join("checkpoint.mpk");
    assert_eq!(checkpoint::load_config(&ckpt).unwrap().frontend.n_fft, 400);

    let emb = dir.path().join("emb.npy");
    let (shape, cli) = embed(r, d, &emb);
    assert_eq!(shape, vec![2, 5 * 64]);

    let encoder = ClipEncoder::from_checkpoint(&run, &burn::tensor::Device::flex()).unwrap();
    assert_eq!(encoder.frontend().n_fft, 400);
    let clips = [data.join("a.wav"), data.join("b.wav")];
    let embed_with = |fe: &FrontendConfig| -> Vec<f32> {
        let frontend = FloatFrontend::new(fe).unwrap();
        clips
            .iter()
            .flat_map(|p| encoder.embed(&frontend.log_mel(&load_audio(p, 16_000).unwrap())))
            .collect()
    };
    let max_diff = |a: &[f32], b: &[f32]| {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    let n400 = embed_with(&FrontendConfig {
        n_fft: 400,
        ..FrontendConfig::default()
    });
    let n512 = embed_with(&FrontendConfig::default());
    assert!(max_diff(&cli, &n400) < 1e-5, "embed uses n_fft 400");
    assert!(
        max_diff(&cli, &n512) > 1e-3,
        "and not 512: {}",
        max_diff(&cli, &n512)
    );
    let probe = embed_clips(&encoder, &clips, Some(&dir.path().join("emb-cache")), false).unwrap();
    assert!(max_diff(&probe.data, &n400) < 1e-5, "probe embeddings too");
}
