//! `matpac mel` end to end: every input format we promise, and clear one-line
//! errors (non-zero exit) for bad input.

use matpac_trainer::io::read_npy_f32;
use std::path::{Path, PathBuf};
use std::process::Command;

fn matpac(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matpac"))
        .args(args)
        .output()
        .expect("run matpac")
}

fn write_wav(path: &Path, spec: hound::WavSpec, seconds: f32) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (spec.sample_rate as f32 * seconds) as usize;
    for i in 0..n {
        let x =
            0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / spec.sample_rate as f32).sin();
        for _ in 0..spec.channels {
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(x).unwrap(),
                (_, 8) => w.write_sample((x * 127.0) as i8).unwrap(),
                (_, 16) => w.write_sample((x * 32767.0) as i16).unwrap(),
                (_, bits) => w
                    .write_sample((x * ((1i64 << (bits - 1)) - 1) as f32) as i32)
                    .unwrap(),
            }
        }
    }
    w.finalize().unwrap();
}

fn mel_of(input: &Path, fixed: bool) -> (Vec<usize>, Vec<f32>) {
    let out = input.with_extension("npy");
    let mut args = vec![
        "mel",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    if fixed {
        args.push("--fixed");
    }
    let o = matpac(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    read_npy_f32(&out).unwrap()
}

#[test]
fn every_wav_flavour_gives_the_same_features() {
    let dir = tempfile::tempdir().unwrap();
    let int = |bits, channels, rate| hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let cases = [
        ("i16.wav", int(16, 1, 16_000)),
        ("i8.wav", int(8, 1, 16_000)),
        ("i24.wav", int(24, 1, 16_000)),
        ("i32.wav", int(32, 1, 16_000)),
        (
            "f32.wav",
            hound::WavSpec {
                sample_format: hound::SampleFormat::Float,
                bits_per_sample: 32,
                ..int(16, 1, 16_000)
            },
        ),
        ("stereo.wav", int(16, 2, 16_000)),
        ("44k.wav", int(16, 1, 44_100)),
    ];
    let mut reference: Option<Vec<f32>> = None;
    for (name, spec) in cases {
        let path = dir.path().join(name);
        write_wav(&path, spec, 1.0);
        let (shape, data) = mel_of(&path, false);
        assert_eq!(shape, vec![98, 80], "{name}");
        let reference = reference.get_or_insert(data.clone());
        // A 1 kHz tone's loudest bands: 8-bit quantisation noise and the
        // resampler's passband ripple change them by well under 0.05 ln units.
        let peak = (0..80)
            .max_by(|&a, &b| reference[40 * 80 + a].total_cmp(&reference[40 * 80 + b]))
            .unwrap();
        let diff = (data[40 * 80 + peak] - reference[40 * 80 + peak]).abs();
        assert!(diff < 0.05, "{name}: peak band differs by {diff}");
    }
}

#[test]
fn flac_and_fixed_point_paths_work() {
    let clips = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/bundled/clips/piano");
    let flac = std::fs::read_dir(&clips)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("clip.flac");
    std::fs::copy(&flac, &copy).unwrap();
    let (shape_float, float) = mel_of(&copy, false);
    let (shape_fixed, fixed) = mel_of(&copy, true);
    assert_eq!(shape_float, shape_fixed);
    assert_eq!(shape_float[1], 80);
    // Fixed vs float budget (docs/frontend.md, "Accuracy budget") on the loud
    // bins; quiet bins are dominated by ε in both paths.
    let err = float
        .iter()
        .zip(&fixed)
        .filter(|(f, _)| **f > -10.0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err <= 0.02, "fixed vs float {err}");
}

#[test]
fn ogg_vorbis_stereo_at_22k_is_decoded_mixed_and_resampled() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/piano_22k_stereo.ogg");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("clip.ogg");
    std::fs::copy(&fixture, &copy).unwrap();
    let (shape, data) = mel_of(&copy, false);
    // 1 s at 16 kHz after resampling: 1 + (16000 − 400) / 160 = 98 frames.
    assert_eq!(shape, vec![98, 80]);
    // A piano note: energy well above the ε floor (ln ε = −15.9) somewhere.
    let max = data.iter().cloned().fold(f32::MIN, f32::max);
    assert!(max > -5.0, "max log-mel {max}");
}

#[test]
fn bad_inputs_fail_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"this is not audio at all, just some text").unwrap();
    let good = dir.path().join("good.wav");
    write_wav(
        &good,
        hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
        1.0,
    );
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2 + 1]).unwrap();
    let short = dir.path().join("short.wav");
    write_wav(
        &short,
        hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
        0.01,
    );
    let missing = dir.path().join("missing.wav");
    let out = dir.path().join("out.npy");
    for (path, what) in [
        (&missing, "cannot read"),
        (&empty, "no audio"),
        (&text, "not a supported audio file"),
        (&truncated, "truncated"),
        (&short, "too short"),
    ] {
        let o = matpac(&[
            "mel",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{what}: should fail");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(path.file_name().unwrap().to_str().unwrap()),
            "names the file: {stderr}"
        );
        assert!(stderr.contains(what), "says `{what}`: {stderr}");
        assert!(!out.exists(), "no output written for {what}");
    }
    let o = matpac(&["mel", "--bogus-flag"]);
    assert!(!o.status.success());
}
