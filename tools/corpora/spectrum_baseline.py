#!/usr/bin/env python3
"""Baseline for a labelled corpus: a linear classifier on each clip's average log
spectrum (no learned encoder). If it scores as well as the encoders' linear probes, the
task is separable by recording channel or speaker and says little about the encoders
(the case of tuxpaint language id: 98.2 % on the given split, see
trainer/src/eval/README.md).

    python3 tools/corpora/spectrum_baseline.py ~/matpac-data/tuxpaint-stamps/manifest.csv

Reads a manifest written by the build_*.py scripts (path,label,group,duration,split;
paths relative to the manifest's folder). Needs numpy, soundfile and scikit-learn
(development only; the Rust tests never run it).
"""
import argparse
import csv
from pathlib import Path

import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

N_FFT, HOP, BANDS = 512, 160, 64


def log_bands(path: Path, edges: np.ndarray) -> np.ndarray:
    """Mean and std over frames of log energies in log-spaced FFT bands."""
    x, _ = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (0, N_FFT)), N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)) ** 2
    bands = np.stack([power[:, a:b].sum(axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1)
    logs = np.log(bands + 1e-8)
    return np.concatenate([logs.mean(axis=0), logs.std(axis=0)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("manifest", type=Path, help="manifest.csv with a split column")
    args = ap.parse_args()
    root = args.manifest.parent
    rows = [r for r in csv.DictReader(open(args.manifest)) if r.get("label")]
    if not rows or "split" not in rows[0]:
        raise SystemExit(f"{args.manifest}: needs labelled rows and a split column")
    edges = np.unique(np.geomspace(1, N_FFT // 2, BANDS + 1).astype(int))
    x = np.array([log_bands(root / r["path"], edges) for r in rows])
    y = np.array([r["label"] for r in rows])
    train = np.array([r["split"] == "train" for r in rows])
    half = x.shape[1] // 2
    for name, cols in [("mean + std of log bands", slice(None)), ("mean of log bands", slice(0, half))]:
        scaler = StandardScaler().fit(x[train][:, cols])
        model = LogisticRegression(max_iter=3000).fit(scaler.transform(x[train][:, cols]), y[train])
        acc = 100 * model.score(scaler.transform(x[~train][:, cols]), y[~train])
        print(f"{name}: test accuracy {acc:.2f} % ({train.sum()} train / {(~train).sum()} test clips)")


if __name__ == "__main__":
    main()
