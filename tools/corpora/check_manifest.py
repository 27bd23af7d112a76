#!/usr/bin/env python3
"""Check corpus manifests: header, files exist, 16 kHz mono 16-bit, durations, no group crosses
the split, no duplicate audio. Usage: check_manifest.py CSV [CSV ...]; exit 1 on any problem."""
from __future__ import annotations

import csv
import hashlib
import sys
from collections import Counter
from pathlib import Path

import soundfile as sf


def check(path: Path) -> list[str]:
    errs = []
    rows = list(csv.DictReader(open(path, newline="")))
    if not rows:
        return [f"{path}: empty"]
    cols = list(rows[0].keys())
    if cols[0] != "path" or "group" not in cols or "duration" not in cols:
        errs.append(f"{path}: unexpected header {cols}")
    side, hashes = {}, {}
    for i, r in enumerate(rows, start=2):
        f = path.parent / r["path"]
        if not f.exists():
            errs.append(f"{path}:{i}: missing {r['path']}")
            continue
        info = sf.info(str(f))
        if info.samplerate != 16000 or info.channels != 1 or info.subtype != "PCM_16":
            errs.append(f"{path}:{i}: {r['path']} is {info.samplerate} Hz, {info.channels} ch, {info.subtype}")
        if abs(info.frames / info.samplerate - float(r["duration"])) > 0.002:
            errs.append(f"{path}:{i}: duration {r['duration']} != {info.frames / info.samplerate:.3f}")
        if "split" in r:
            if r["split"] not in ("train", "test"):
                errs.append(f"{path}:{i}: split {r['split']!r}")
            if side.setdefault(r["group"], r["split"]) != r["split"]:
                errs.append(f"{path}:{i}: group {r['group']} crosses the split")
        if "label" in r and not all(r["label"].split(";")):
            errs.append(f"{path}:{i}: empty label")
        h = hashlib.sha256(sf.read(str(f), dtype="int16")[0].tobytes()).hexdigest()
        if h in hashes:
            errs.append(f"{path}:{i}: same audio as row {hashes[h]}")
        hashes[h] = i
    labels = Counter(l for r in rows for l in r.get("label", "").split(";") if l)
    print(f"{path}: {len(rows)} rows, {len(side) or len({r['group'] for r in rows})} groups, "
          f"{len(labels)} labels, {sum(float(r['duration']) for r in rows) / 60:.1f} min"
          + (f", test {sum(r['split'] == 'test' for r in rows)}" if "split" in cols else ""))
    return errs


def main():
    errs = [e for p in sys.argv[1:] for e in check(Path(p))]
    for e in errs[:50]:
        print(e, file=sys.stderr)
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
