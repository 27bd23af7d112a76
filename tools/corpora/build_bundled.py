#!/usr/bin/env python3
"""Build the small bundled dataset (data/bundled) from the MIT-licensed FluidR3 GM soundfont.

Everything is rendered from recorded instrument and drum samples of FluidR3_GM.sf2 (Debian
package fluid-soundfont-gm) with fluidsynth; no synthetic test signals.

  clips/<label>/...        single notes (9 instrument families) and drum hits (6 drum types)
  clips/mix/...            two of those sounds mixed, labelled with both labels (multi-label)
  manifest.csv             path,label,split,group,duration (labels joined by ';')
  unlabelled/*.flac        6.5 s phrases played from train-side programs and drum keys only
  unlabelled.csv           path,group,duration,source
  scenes/sceneNN.flac/csv  held-out (test-side) sounds placed at known times over a quiet
                           sea-shore background; csv is onset,offset,label
Groups: programs (or kit keys) that play the same recorded samples form one sound group; sound
groups are then paired into units (two groups with different labels) and every single clip and
the mixtures of a unit share the unit as their group, so no near-duplicate crosses the split.
Deterministic: the same soundfont and seed give the same files.
"""
from __future__ import annotations

import csv
import hashlib
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (SR, Corpus, Row, assign_splits, check_groups, fade_out, log,  # noqa: E402
                    resample, resolve, to_int16, trim_silence, write_manifest, write_unlabelled,
                    summarize, base_args)
from fluid import (ACOUSTIC, DRUM_KEYS, KEY_TO_DRUM, RENDER_SR, SYNTH_PROGRAMS, _vlq, family,  # noqa: E402
                   find_sf2, render, sample_groups)
from sf2 import SoundFont  # noqa: E402

FAMILY_RANGE = {"bass": (28, 60), "pipe": (60, 96), "chromatic_percussion": (55, 96),
                "reed": (45, 80), "brass": (40, 76), "strings": (40, 84), "piano": (36, 90),
                "organ": (36, 84), "guitar": (40, 80)}
KEY_FRACTIONS = [0.12, 0.37, 0.63, 0.88]
# acoustic drum kits of FluidR3 (bank 128) and their variants; identical renders are deduplicated
DRUM_KITS = {**{k: f"standard{k}" for k in range(0, 8)}, **{k: f"room{k - 8}" for k in range(8, 16)},
             **{k: f"power{k - 16}" for k in range(16, 20)}, **{k: f"jazz{k - 32}" for k in range(32, 37)},
             **{k: f"brush{k - 40}" for k in range(40, 43)}}
SEA_SHORE = 122  # GM program 122, a recorded sea-shore loop, used as scene background


def keys_for(prog: int) -> list[int]:
    lo, hi = FAMILY_RANGE[family(prog)]
    shift = (prog % 3) - 1
    return sorted({min(hi, max(lo, round(lo + f * (hi - lo)) + shift)) for f in KEY_FRACTIONS})


def h(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def render_midi(sf2: str, events, seconds: float, gain: float = 0.5) -> np.ndarray:
    """Render a list of (time_s, order, bytes) MIDI events; returns mono float32 at 16 kHz."""
    trk = bytearray(_vlq(0) + b"\xff\x51\x03" + (500000).to_bytes(3, "big"))
    last = 0
    for t, _, data in sorted(events, key=lambda e: (e[0], e[1])):
        tick = round(t * 960)
        trk += _vlq(tick - last) + data
        last = tick
    trk += _vlq(max(0, round(seconds * 960) - last)) + b"\xff\x2f\x00"
    smf = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(trk)) + trk
    with tempfile.TemporaryDirectory() as td:
        mid, wav = os.path.join(td, "p.mid"), os.path.join(td, "p.wav")
        Path(mid).write_bytes(smf)
        subprocess.run(["fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", str(gain),
                        "-r", str(RENDER_SR), "-O", "float", "-T", "wav", "-F", wav, sf2, mid],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        x, sr = sf.read(wav, dtype="float32", always_2d=True)
    x = resample(x.mean(axis=1), sr, SR)
    return x[:int(seconds * SR)]


def main():
    p = base_args(__doc__.split("\n")[0], "bundled")
    p.add_argument("--dest", default=str(Path(__file__).resolve().parents[2] / "data" / "bundled"),
                   help="where to write the bundled set (default: the repo's data/bundled)")
    p.add_argument("--phrases", type=int, default=40)
    p.add_argument("--scenes", type=int, default=2)
    args = p.parse_args()
    _, roots = resolve(args, "bundled", ["fluid-soundfont-gm"])
    sf2 = find_sf2(roots["fluid-soundfont-gm"])
    sfont = SoundFont(sf2)
    dest = Path(args.dest)
    for sub in ["clips", "unlabelled", "scenes"]:
        if (dest / sub).exists():
            shutil.rmtree(dest / sub)
    rng = random.Random(args.seed)

    # ---- sound groups: instrument programs and drum (kit, key) items sharing samples
    progs = [pr for pr in range(128) if family(pr) in ACOUSTIC and pr not in SYNTH_PROGRAMS]
    items = {f"p{pr:03d}": [(0, pr, k, 100) for k in keys_for(pr)] for pr in progs}
    drum_items = {f"kit{kit:03d}k{key:03d}": [(128, kit, key, 100)]
                  for kit in DRUM_KITS for key in KEY_TO_DRUM}
    groups = sample_groups(sfont, {**items, **drum_items})

    corpus = Corpus(dest, "bundled", min_seconds=0.1)
    clips_of: dict[str, list] = defaultdict(list)  # sound group -> [(label, audio, rel)]
    for pr in progs:
        name = sfont.presets[(0, pr)].name
        fam = family(pr)
        notes = [(k, 100) for k in keys_for(pr)]
        for (k, _), x in zip(notes, render(sf2, 0, pr, notes, hold=0.8, slot=1.8)):
            rel = f"{fam}/p{pr:03d}-k{k:03d}"
            clips_of[groups[f"p{pr:03d}"]].append((fam, x, rel, f"program {pr} {name}, key {k}"))
    for kit, kname in DRUM_KITS.items():
        notes = [(key, 100) for key in sorted(KEY_TO_DRUM)]
        for (key, _), x in zip(notes, render(sf2, 128, kit, notes, hold=0.5, slot=2.0,
                                              drums=True)):
            x = x[:int(1.5 * SR)]  # cymbals ring long; 1.5 s is plenty
            lab = KEY_TO_DRUM[key]
            rel = f"{lab}/{kname}-k{key:03d}"
            clips_of[groups[f"kit{kit:03d}k{key:03d}"]].append((lab, fade_out(x), rel,
                                                                f"kit {kit} {kname}, key {key}"))

    # ---- units: pairs of sound groups with different labels
    order = sorted(clips_of, key=lambda g: h(args.seed + g))
    label_of = {g: clips_of[g][0][0] for g in order}
    units: list[list[str]] = []
    pending = list(order)
    while pending:
        a = pending.pop(0)
        j = next((i for i, b in enumerate(pending) if label_of[b] != label_of[a]), None)
        units.append([a] + ([pending.pop(j)] if j is not None else []))
    unit_of = {g: f"u{i:02d}:" + "+".join(sorted(u)) for i, u in enumerate(units) for g in u}

    for g in order:
        for lab, x, rel, desc in clips_of[g]:
            corpus.add(x, rel, lab, unit_of[g], desc=desc)
    # mixtures: one per unit of two groups, random clip of each, second one delayed 0-0.3 s
    for u in units:
        if len(u) < 2:
            continue
        (la, xa, ra, _), (lb, xb, rb, _) = (rng.choice(clips_of[u[0]]), rng.choice(clips_of[u[1]]))
        d = int(rng.uniform(0.0, 0.3) * SR)
        n = max(xa.size, xb.size + d)
        mix = np.zeros(n, np.float32)
        mix[:xa.size] += xa * rng.uniform(0.6, 1.0)
        mix[d:d + xb.size] += xb * rng.uniform(0.6, 1.0)
        mix *= 0.5 / float(np.abs(mix).max())
        name = f"mix/{Path(ra).name}+{Path(rb).name}"
        corpus.add(mix, name, ";".join(sorted([la, lb])), unit_of[u[0]],
                   desc=f"mixture of {ra} and {rb}")
    assign_splits(corpus.labelled, args.test_frac, args.seed)
    check_groups(corpus.labelled)
    write_manifest(dest / "manifest.csv", corpus.labelled)
    side = {r.group: r.split for r in corpus.labelled}

    # ---- unlabelled phrases from train-side programs and drum keys only
    train_progs = sorted({pr for pr in progs if side.get(unit_of[groups[f"p{pr:03d}"]]) == "train"})
    train_drums = sorted({(kit, key) for kit in DRUM_KITS for key in KEY_TO_DRUM
                          if side.get(unit_of[groups[f"kit{kit:03d}k{key:03d}"]]) == "train"})
    ul_dir = dest / "unlabelled"
    ul_dir.mkdir(parents=True)
    ul_rows = []
    for i in range(args.phrases):
        seconds = 6.5
        ev = []
        chans = rng.sample(train_progs, 2 if i % 3 else 1)
        for c, pr in enumerate(chans):
            ev += [(0.0, 0, bytes([0xB0 | c, 0, 0])), (0.0, 1, bytes([0xC0 | c, pr]))]
            lo, hi = FAMILY_RANGE[family(pr)]
            t = rng.uniform(0.0, 0.5)
            key = rng.randint(lo + 6, hi - 6)
            while t < seconds - 0.6:
                dur = rng.choice([0.25, 0.5, 0.5, 0.75, 1.0])
                key = min(hi, max(lo, key + rng.choice([-5, -3, -2, -1, 0, 1, 2, 3, 4, 7])))
                vel = rng.randint(70, 115)
                ev += [(t, 3, bytes([0x90 | c, key, vel])),
                       (min(t + dur * 0.9, seconds - 0.1), 2, bytes([0x80 | c, key, 0]))]
                t += dur
        if i % 2 == 0:  # a drum pattern on channel 10
            kit = rng.choice([k for k in DRUM_KITS if any(kk == k for kk, _ in train_drums)])
            keys = [key for kk, key in train_drums if kk == kit]
            ev.append((0.0, 1, bytes([0xC9, kit])))
            step = rng.choice([0.25, 0.3])
            pattern = [rng.choice(keys) if rng.random() < 0.6 else None for _ in range(8)]
            t, j = 0.0, 0
            while t < seconds - 0.3:
                if pattern[j % 8] is not None:
                    ev += [(t, 3, bytes([0x99, pattern[j % 8], rng.randint(60, 115)])),
                           (t + 0.1, 2, bytes([0x89, pattern[j % 8], 0]))]
                t += step
                j += 1
        x = render_midi(sf2, ev, seconds)
        x = fade_out(x * (0.5 / max(1e-6, float(np.abs(x).max()))), 0.05)
        rel = f"unlabelled/phrase{i:03d}.flac"
        sf.write(str(dest / rel), to_int16(x), SR, format="FLAC", subtype="PCM_16")
        desc = "programs " + "+".join(map(str, chans)) + (" + drums" if i % 2 == 0 else "")
        ul_rows.append(Row(rel, "", f"phrase{i:03d}", round(x.size / SR, 3),
                           extra={"source": f"fluid-phrase {desc}"}))
    write_unlabelled(dest / "unlabelled.csv", ul_rows)

    # ---- scenes: test-side single sounds at known times over a quiet recorded background
    test_singles = [(r.label, r.path) for r in corpus.labelled
                    if r.split == "test" and ";" not in r.label]
    by_label = defaultdict(list)
    for lab, path in test_singles:
        by_label[lab].append(path)
    (dest / "scenes").mkdir()
    for s in range(args.scenes):
        seconds = 20.0
        bg = render_midi(sf2, [(0.0, 0, bytes([0xB0, 0, 0])), (0.0, 1, bytes([0xC0, SEA_SHORE])),
                               (0.0, 3, bytes([0x90, 60, 100])),
                               (seconds, 2, bytes([0x80, 60, 0]))], seconds + 0.5)
        bg = bg[:int(seconds * SR)]
        bg *= 10 ** (-40 / 20) / max(1e-9, float(np.sqrt(np.mean(bg ** 2))))  # -40 dBFS RMS
        scene = bg.copy()
        labels = rng.sample(sorted(by_label), len(by_label))
        events = []
        t = 0.5
        for lab in labels:
            path = rng.choice(by_label[lab])
            x, _ = sf.read(str(dest / path), dtype="float32")
            x = x * rng.uniform(0.6, 1.0)
            on = int(t * SR)
            x = x[:max(0, min(x.size, scene.size - on))]
            scene[on:on + x.size] += x
            core = trim_silence(x, db=-40.0, pad=0.0)
            start = int(np.flatnonzero(np.abs(x) > np.abs(x).max() * 0.01)[0]) if x.size else 0
            events.append((round(t + start / SR, 3), round(t + (start + core.size) / SR, 3), lab,
                           path))
            # next onset: usually after this sound, sometimes overlapping it
            t += rng.choice([0.4, 0.7]) if rng.random() < 0.35 else x.size / SR + rng.uniform(0.3, 1.2)
            if t > seconds - 2.0:
                break
        scene *= min(1.0, 0.9 / float(np.abs(scene).max()))
        name = f"scene{s + 1:02d}"
        sf.write(str(dest / "scenes" / f"{name}.flac"), to_int16(scene), SR, format="FLAC",
                 subtype="PCM_16")
        with open(dest / "scenes" / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["onset", "offset", "label"])
            for on, off, lab, _ in sorted(events):
                w.writerow([f"{on:.3f}", f"{off:.3f}", lab])
        with open(dest / "scenes" / f"{name}.sources.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["onset", "offset", "label", "clip"])
            for on, off, lab, path in sorted(events):
                w.writerow([f"{on:.3f}", f"{off:.3f}", lab, path])

    s = summarize(dest, corpus.labelled, ul_rows)
    s["dropped"] = dict(corpus.dropped)
    s["total_bytes"] = sum(q.stat().st_size for q in dest.rglob("*.flac"))
    log(str(s))


if __name__ == "__main__":
    main()
