#!/usr/bin/env python3
"""Reference fixtures for the log-mel front end, computed with librosa.

Writes under trainer/tests/fixtures/librosa/:
  mel_fb_512.npy, mel_fb_400.npy   librosa.filters.mel(sr=16000, n_fft, n_mels=80,
                                   fmin=50, fmax=8000, htk=False, norm="slaney"), f64 [80, n_fft//2+1]
  signal_<name>.npy                the input, f32 in [-1, 1) (i16 / 32768 values)
  logmel_<name>.npy                ln(melspectrogram + eps), f64 [frames, 80], n_fft = 512

Our spec puts the 400 windowed samples at the start of the 512-point FFT frame
and starts frame t at sample 160 t; librosa centres the 400-sample window inside
the 512-sample frame (a circular shift, which leaves |X|^2 unchanged). Padding
the signal with 56 zeros on each side therefore makes librosa's frame t cover
exactly our samples [160 t, 160 t + 400).

Run from the repository root:  python3 tools/make_frontend_fixtures.py
(needs numpy, librosa and soundfile from PyPI; the Rust tests do not need Python).
"""
import pathlib

import librosa
import numpy as np
import soundfile as sf

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "trainer" / "tests" / "fixtures" / "librosa"
SR, WIN, HOP, N_MELS, FMIN, FMAX = 16000, 400, 160, 80, 50.0, 8000.0
EPS = float(np.finfo(np.float32).eps)


def as_pcm(x):
    """Quantise to i16 and back, as the Rust side reads PCM."""
    q = np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767)
    return (q / 32768.0).astype(np.float32)


def signals():
    t = np.arange(SR) / SR
    rng = np.random.default_rng(7)
    first = sorted((ROOT / "data" / "bundled" / "clips").rglob("*.flac"))[0]
    clip, sr = sf.read(first)
    assert sr == SR
    return {
        "tone": as_pcm(0.5 * np.sin(2 * np.pi * 1000 * t)),
        "chirp": as_pcm(0.6 * np.sin(2 * np.pi * (50 + 3975 * t) * t)),
        "noise": as_pcm(0.3 * rng.standard_normal(SR).clip(-3, 3) / 3),
        "bundled_clip": as_pcm(clip[:SR]),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for n_fft in (512, 400):
        fb = librosa.filters.mel(sr=SR, n_fft=n_fft, n_mels=N_MELS, fmin=FMIN, fmax=FMAX,
                                 htk=False, norm="slaney", dtype=np.float64)
        np.save(OUT / f"mel_fb_{n_fft}.npy", fb)
    pad = (512 - WIN) // 2
    for name, x in signals().items():
        np.save(OUT / f"signal_{name}.npy", x)
        padded = np.pad(x.astype(np.float64), (pad, pad))
        mel = librosa.feature.melspectrogram(
            y=padded, sr=SR, n_fft=512, hop_length=HOP, win_length=WIN, window="hann",
            center=False, power=2.0, n_mels=N_MELS, fmin=FMIN, fmax=FMAX, htk=False,
            norm="slaney", dtype=np.float64)
        logmel = np.ascontiguousarray(np.log(mel + EPS).T)  # [frames, mels], C order
        assert logmel.shape[0] == 1 + (len(x) - WIN) // HOP
        np.save(OUT / f"logmel_{name}.npy", logmel)
        print(f"{name}: {logmel.shape}")


if __name__ == "__main__":
    main()
