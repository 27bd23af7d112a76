//! The runtime's fixed-point front end against the trainer's float front end,
//! before int8 rounding, over signals that stress each stage: tones, chirps,
//! white and pink noise, clicks, silence, DC and full-scale square waves.
//!
//! Budget (`docs/frontend.md`, "Accuracy budget"): max |Δ| ≤ 0.02 natural-log
//! units on mel bins within 60 dB of the frame maximum. The measured error is
//! printed.

use matpac_runtime::frontend::FrontendConfig;
use matpac_trainer::frontend::{FloatFrontend, fixed_log_mel};
use std::f64::consts::PI;

/// Allowed error, natural-log units (the front-end budget of `docs/frontend.md`).
const MAX_ERROR: f32 = 0.02;
/// Bins further than 60 dB below the frame maximum are not scored.
const SCORED_RANGE: f32 = 6.0 * std::f32::consts::LN_10;

const N: usize = 16_000;

struct Lcg(u64);
impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

fn pcm(f: impl Fn(usize) -> f64) -> Vec<i16> {
    (0..N)
        .map(|i| (f(i) * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn signals() -> Vec<(&'static str, Vec<i16>)> {
    let t = |i: usize| i as f64 / 16_000.0;
    let mut white = Lcg(1);
    let white_noise: Vec<f64> = (0..N).map(|_| white.uniform()).collect();
    // Pink noise: Paul Kellet's refined filter over white noise.
    let mut pink_rng = Lcg(2);
    let mut b = [0.0f64; 7];
    let pink: Vec<f64> = (0..N)
        .map(|_| {
            let w = pink_rng.uniform();
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let y = b.iter().sum::<f64>() + w * 0.5362;
            b[6] = w * 0.115926;
            y * 0.11
        })
        .collect();
    vec![
        (
            "tone 1 kHz, -6 dBFS",
            pcm(|i| 0.5 * (2.0 * PI * 1000.0 * t(i)).sin()),
        ),
        (
            "tone 97 Hz, -40 dBFS",
            pcm(|i| 0.01 * (2.0 * PI * 97.0 * t(i)).sin()),
        ),
        (
            "tone 7.5 kHz, -80 dBFS",
            pcm(|i| 1e-4 * (2.0 * PI * 7500.0 * t(i)).sin()),
        ),
        (
            "two tones",
            pcm(|i| {
                0.4 * (2.0 * PI * 300.0 * t(i)).sin() + 0.001 * (2.0 * PI * 5000.0 * t(i)).sin()
            }),
        ),
        (
            "linear chirp 50 Hz-8 kHz",
            pcm(|i| 0.7 * (2.0 * PI * (50.0 + 3975.0 * t(i)) * t(i)).sin()),
        ),
        ("white noise, full scale", pcm(|i| white_noise[i])),
        ("white noise, -60 dBFS", pcm(|i| 1e-3 * white_noise[i])),
        ("pink noise", pcm(|i| pink[i])),
        ("clicks", pcm(|i| if i % 1234 == 0 { 0.99 } else { 0.0 })),
        ("silence", vec![0; N]),
        ("one LSB noise", pcm(|i| white_noise[i].signum() / 32768.0)),
        ("DC +0.5", pcm(|_| 0.5)),
        ("DC full scale negative", vec![i16::MIN; N]),
        (
            "square 440 Hz full scale",
            pcm(|i| {
                if (2.0 * PI * 440.0 * t(i)).sin() >= 0.0 {
                    1.0
                } else {
                    -1.0
                }
            }),
        ),
        (
            "square 3 kHz full scale",
            pcm(|i| {
                if (2.0 * PI * 3000.0 * t(i)).sin() >= 0.0 {
                    1.0
                } else {
                    -1.0
                }
            }),
        ),
    ]
}

#[test]
fn fixed_point_matches_float_within_budget() {
    let config = FrontendConfig::default();
    let float = FloatFrontend::new(&config).unwrap();
    let mut worst = 0.0f32;
    for (name, x) in signals() {
        let fixed = fixed_log_mel(&config, &x).unwrap();
        let samples: Vec<f32> = x.iter().map(|&v| v as f32 / 32768.0).collect();
        let reference = float.log_mel(&samples);
        assert_eq!(fixed.n_frames, reference.n_frames, "{name}");
        let mut max_err = 0.0f32;
        let mut scored = 0usize;
        for t in 0..reference.n_frames {
            let (f, r) = (fixed.frame(t), reference.frame(t));
            assert!(f.iter().all(|v| v.is_finite()), "{name}: non-finite output");
            let top = r.iter().cloned().fold(f32::MIN, f32::max);
            for (a, b) in f.iter().zip(r) {
                if *b >= top - SCORED_RANGE {
                    max_err = max_err.max((a - b).abs());
                    scored += 1;
                }
            }
        }
        println!("{name:28} max |fixed − float| = {max_err:.5} over {scored} scored bins");
        assert!(max_err <= MAX_ERROR, "{name}: {max_err} > {MAX_ERROR}");
        worst = worst.max(max_err);
    }
    println!("worst over all signals: {worst:.5} (budget {MAX_ERROR})");
}
