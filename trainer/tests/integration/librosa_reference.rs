//! The front end against librosa: fixtures made by
//! `tools/make_frontend_fixtures.py` (committed; no Python needed here).

use matpac_runtime::frontend::FrontendConfig;
use matpac_runtime::frontend::mel::SlaneyFilterbank;
use matpac_trainer::audio::to_pcm_i16;
use matpac_trainer::frontend::{FloatFrontend, fixed_log_mel};
use matpac_trainer::io::read_npy_f32;
use std::path::PathBuf;

/// Filterbank weights agree with librosa's f64 filterbank to this (absolute).
const FILTERBANK_TOL: f64 = 1e-6;
/// Float log-mel agrees with librosa to this (natural-log units), bins within
/// 60 dB of the frame maximum.
const FLOAT_TOL: f32 = 1e-4;
/// The fixed-point path's budget against any float reference (`docs/frontend.md`).
const FIXED_TOL: f32 = 0.02;
const SIGNALS: [&str; 4] = ["tone", "chirp", "noise", "bundled_clip"];

fn fixture(name: &str) -> (Vec<usize>, Vec<f32>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/librosa")
        .join(name);
    read_npy_f32(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn filterbank_matches_librosa() {
    for n_fft in [512, 400] {
        let config = FrontendConfig {
            n_fft,
            ..Default::default()
        };
        let bank = SlaneyFilterbank::new(&config).unwrap();
        let (shape, librosa) = fixture(&format!("mel_fb_{n_fft}.npy"));
        assert_eq!(shape, vec![80, n_fft / 2 + 1]);
        let mut max_err = 0.0f64;
        for m in 0..80 {
            for k in 0..shape[1] {
                // The fixture is read back as f32, so compare at f32 precision
                // of the reference (relative 6e-8 of weights below 0.03).
                max_err = max_err.max((bank.weight(m, k) - librosa[m * shape[1] + k] as f64).abs());
            }
        }
        println!("filterbank n_fft {n_fft}: max |Δ| = {max_err:.2e}");
        assert!(max_err <= FILTERBANK_TOL, "n_fft {n_fft}: {max_err}");
    }
}

/// Max |a − b| over bins within 60 dB of each reference frame's maximum.
fn max_scored_error(got: &[f32], reference: &[f32], n_mels: usize) -> f32 {
    let mut max_err = 0.0f32;
    for (g, r) in got.chunks(n_mels).zip(reference.chunks(n_mels)) {
        let top = r.iter().cloned().fold(f32::MIN, f32::max);
        for (a, b) in g.iter().zip(r) {
            if *b >= top - 6.0 * std::f32::consts::LN_10 {
                max_err = max_err.max((a - b).abs());
            }
        }
    }
    max_err
}

#[test]
fn log_mel_matches_librosa() {
    let config = FrontendConfig::default();
    let float = FloatFrontend::new(&config).unwrap();
    for name in SIGNALS {
        let (_, x) = fixture(&format!("signal_{name}.npy"));
        let (shape, reference) = fixture(&format!("logmel_{name}.npy"));
        let got = float.log_mel(&x);
        assert_eq!(vec![got.n_frames, got.n_mels], shape, "{name}");
        let float_err = max_scored_error(&got.data, &reference, 80);
        let fixed = fixed_log_mel(&config, &to_pcm_i16(&x)).unwrap();
        let fixed_err = max_scored_error(&fixed.data, &reference, 80);
        println!("{name:13} float vs librosa {float_err:.2e}, fixed vs librosa {fixed_err:.4}");
        assert!(float_err <= FLOAT_TOL, "{name}: float {float_err}");
        assert!(fixed_err <= FIXED_TOL, "{name}: fixed {fixed_err}");
    }
}
