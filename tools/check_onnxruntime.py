#!/usr/bin/env python3
"""Run an exported matpac tagger in onnxruntime, the runtime and tract on the same
feature windows of real audio, and print how far apart the three are.

    cargo build --bin matpac
    python3 tools/check_onnxruntime.py runs/demo/tagger.onnx data/bundled/clips/*/*.flac

Windows: the runtime's fixed-point log-mel (`matpac mel --fixed`), cut every 49
frames into the model's [98, 80] input and standardised with the mean/std stored
in the model's metadata, exactly as the trainer feeds the student. The model's
float output (sigmoid scores) is compared element-wise. Needs numpy and
onnxruntime (PyPI); development only, the Rust tests never run it.
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parent.parent
HOP_FRAMES = 49


def windows(matpac: str, files: list[str], frames: int, mean: float, std: float) -> np.ndarray:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(files):
            npy = pathlib.Path(tmp) / f"{i}.npy"
            subprocess.run([matpac, "mel", f, "--fixed", "--out", str(npy)], check=True,
                           stdout=subprocess.DEVNULL)
            mel = np.load(npy)
            if mel.shape[0] < frames:
                continue
            for t in range(0, mel.shape[0] - frames + 1, HOP_FRAMES):
                out.append((mel[t:t + frames] - mean) / std)
    return np.stack(out)[:, None].astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("audio", nargs="+")
    p.add_argument("--matpac", default=str(ROOT / "target/debug/matpac"))
    args = p.parse_args()
    meta = {m.key: m.value for m in onnx.load(args.model).metadata_props}
    try:
        mean, std = float(meta["matpac.feature_mean"]), float(meta["matpac.feature_std"])
    except KeyError as e:
        sys.exit(f"{args.model}: missing metadata {e}: not a matpac tagger export")
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    frames = inp.shape[2]
    x = windows(args.matpac, args.audio, frames, mean, std)
    y_ort = np.concatenate([sess.run(None, {inp.name: w[None]})[0] for w in x])
    results = {"onnxruntime": y_ort}
    with tempfile.TemporaryDirectory() as tmp:
        xs = pathlib.Path(tmp) / "x.npy"
        np.save(xs, x)
        for engine in ["runtime", "tract"]:
            ys = pathlib.Path(tmp) / f"{engine}.npy"
            subprocess.run([args.matpac, "infer", args.model, "--input", str(xs), "--out", str(ys),
                            "--engine", engine], check=True, stdout=subprocess.DEVNULL)
            results[engine] = np.load(ys).reshape(y_ort.shape)
    print(f"{args.model}: {x.shape[0]} windows of {len(args.audio)} files, {y_ort.shape[1]} scores each")
    names = list(results)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = np.abs(results[a] - results[b])
            print(f"  {a:>11} vs {b:<11}: max |Δ| {d.max():.3e}, bit-equal {np.mean(d == 0) * 100:.1f} %")


if __name__ == "__main__":
    main()
