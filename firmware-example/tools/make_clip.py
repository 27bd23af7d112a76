#!/usr/bin/env python3
"""Cut a bundled FLAC scene into the raw PCM clip that the QEMU binary embeds.

Output: signed 16-bit little-endian mono samples at 16 kHz, no header
(`clips/scene01_0-4s.s16le`). The samples are the FLAC's own 16-bit values,
not re-quantised, so host and firmware read exactly the same integers.

    python3 firmware-example/tools/make_clip.py            # from the repository root
    python3 firmware-example/tools/make_clip.py --check    # verify the committed clip

Needs `soundfile` (libsndfile) and `numpy`.
"""

import argparse
import hashlib
import pathlib
import sys

import numpy as np
import soundfile as sf

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCE = ROOT / "data" / "bundled" / "scenes" / "scene01.flac"
OUTPUT = HERE.parent / "clips" / "scene01_0-4s.s16le"
SAMPLE_RATE = 16_000
START_S = 0.0
DURATION_S = 4.0


def make() -> bytes:
    pcm, rate = sf.read(SOURCE, dtype="int16", always_2d=True)
    if rate != SAMPLE_RATE or pcm.shape[1] != 1:
        sys.exit(f"{SOURCE}: expected {SAMPLE_RATE} Hz mono, got {rate} Hz x {pcm.shape[1]}")
    start = round(START_S * SAMPLE_RATE)
    stop = start + round(DURATION_S * SAMPLE_RATE)
    if stop > pcm.shape[0]:
        sys.exit(f"{SOURCE}: only {pcm.shape[0]} samples, need {stop}")
    return pcm[start:stop, 0].astype("<i2").tobytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed clip")
    args = parser.parse_args()
    data = make()
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        if OUTPUT.read_bytes() != data:
            sys.exit(f"{OUTPUT} differs from {SOURCE} [{START_S}, {START_S + DURATION_S}) s")
        print(f"{OUTPUT.name}: up to date ({len(data) // 2} samples, sha256 {digest})")
        return
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT} ({len(data) // 2} samples, sha256 {digest})")


if __name__ == "__main__":
    main()
