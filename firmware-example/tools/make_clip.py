#!/usr/bin/env python3
"""Cut a bundled FLAC scene into the clips that the QEMU binary embeds.

Outputs: `clips/scene01_0-4s.s16le`, signed 16-bit little-endian mono samples at
16 kHz without header (the front-end report), and `clips/scene01_0-10s.wav`, a
16-bit mono WAV of the first 10 s (tagged in QEMU and by `matpac tag` on the
host). The samples are the FLAC's own 16-bit values, not re-quantised, so host
and firmware read exactly the same integers.

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
WAV_OUTPUT = HERE.parent / "clips" / "scene01_0-10s.wav"
WAV_DURATION_S = 10.0


def make(duration_s: float = DURATION_S) -> bytes:
    pcm, rate = sf.read(SOURCE, dtype="int16", always_2d=True)
    if rate != SAMPLE_RATE or pcm.shape[1] != 1:
        sys.exit(f"{SOURCE}: expected {SAMPLE_RATE} Hz mono, got {rate} Hz x {pcm.shape[1]}")
    start = round(START_S * SAMPLE_RATE)
    stop = start + round(duration_s * SAMPLE_RATE)
    if stop > pcm.shape[0]:
        sys.exit(f"{SOURCE}: only {pcm.shape[0]} samples, need {stop}")
    return pcm[start:stop, 0].astype("<i2").tobytes()


def wav(pcm: bytes) -> bytes:
    """A canonical 44-byte-header WAV (PCM, mono, 16-bit) around `pcm`."""
    import struct

    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, 2 * SAMPLE_RATE, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed clip")
    args = parser.parse_args()
    for out, data, seconds in [
        (OUTPUT, make(), DURATION_S),
        (WAV_OUTPUT, wav(make(WAV_DURATION_S)), WAV_DURATION_S),
    ]:
        digest = hashlib.sha256(data).hexdigest()
        if args.check:
            if out.read_bytes() != data:
                sys.exit(f"{out} differs from {SOURCE} [{START_S}, {START_S + seconds}) s")
            print(f"{out.name}: up to date ({len(data)} bytes, sha256 {digest})")
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        print(f"wrote {out} ({len(data)} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
