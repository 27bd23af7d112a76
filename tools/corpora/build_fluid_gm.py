#!/usr/bin/env python3
"""Render every preset of the FluidR3 GM soundfont (Debian: fluid-soundfont-gm) note by note.

Writes two corpora:
  OUT/fluid-gm/        melodic presets (bank 0 GM programs and their bank 8/16 variations),
                       labelled by GM instrument family for the 9 acoustic families; the other
                       families (ensemble, synth lead/pad/effects, ethnic, percussive, sound
                       effects) and the synth bass/brass programs go to unlabelled.csv.
  OUT/fluid-gm-drums/  every drum kit (bank 128) key by key at two velocities, labelled
                       kick/snare/hihat/tom/cymbal/hand_percussion by GM key.
Groups: presets (or kit keys) that play any of the same recorded samples are one group, so a
program and the programs that reuse its samples, or one drum sample across kits, never
straddle the split. Needs the `fluidsynth` program (apt-get install fluidsynth).
License of the audio: MIT (FluidR3_GM by Frank Wen, see the package's copyright file).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Corpus, base_args, log, resolve  # noqa: E402
from fluid import (ACOUSTIC, KEY_TO_DRUM, SYNTH_PROGRAMS, UNLABELLED_KITS, family, find_sf2,  # noqa: E402
                   preset_list, render, sample_groups)
from sf2 import SoundFont  # noqa: E402

KEY_RANGES = {  # rendered keys per family (inclusive), every `step` semitones
    "bass": (28, 64), "pipe": (55, 96), "chromatic_percussion": (48, 96), "reed": (40, 84),
    "brass": (36, 80), "sound_effects": (48, 72), "percussive": (36, 72),
}
DEFAULT_RANGE = (36, 84)


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()


def main():
    p = base_args(__doc__.split("\n")[0], "fluid-gm")
    p.add_argument("--step", type=int, default=2, help="semitones between rendered keys (2)")
    p.add_argument("--velocity", type=int, default=100)
    p.add_argument("--drum-velocities", default="70,120")
    p.add_argument("--limit", type=int, default=0, help="only the first N presets (testing)")
    args = p.parse_args()
    out, roots = resolve(args, "fluid-gm", ["fluid-soundfont-gm"])
    sf2 = find_sf2(roots["fluid-soundfont-gm"])
    sfont = SoundFont(sf2)
    info = {"package": "fluid-soundfont-gm", "version": args._versions["fluid-soundfont-gm"],
            "license": "MIT (FluidR3_GM, Frank Wen)"}

    # ---- melodic presets
    presets = preset_list(sfont, melodic=True)
    if args.limit:
        presets = presets[:args.limit]
    plan = {}
    for bank, prog, name in presets:
        lo, hi = KEY_RANGES.get(family(prog), DEFAULT_RANGE)
        keys = list(range(lo, hi + 1, args.step))
        plan[f"b{bank:03d}p{prog:03d}"] = (bank, prog, name, [(k, args.velocity) for k in keys])
    groups = sample_groups(sfont, {i: [(b, pr, k, v) for k, v in notes]
                                   for i, (b, pr, _, notes) in plan.items()})
    corpus = Corpus(out, "fluid-gm")
    for item, (bank, prog, name, notes) in sorted(plan.items()):
        fam = family(prog)
        label = fam if fam in ACOUSTIC and prog not in SYNTH_PROGRAMS else None
        log(f"[fluid-gm] {item} {name} ({fam}){'' if label else ' unlabelled'}")
        clips = render(sf2, bank, prog, notes, hold=1.0, slot=2.0)
        for (key, vel), x in zip(notes, clips):
            corpus.add(x, f"{fam}/{item}-{slug(name)}/k{key:03d}-v{vel:03d}", label,
                       f"fluid:{groups[item]}", source="fluid-gm")
    corpus.finish(args.test_frac, args.seed, info=info)

    # ---- drum kits
    vels = [int(v) for v in args.drum_velocities.split(",")]
    kits = preset_list(sfont, melodic=False)
    if args.limit:
        kits = kits[:max(1, args.limit // 8)]
    items = {}
    for bank, kit, name in kits:
        for key in range(27, 88):
            items[f"kit{kit:03d}k{key:03d}"] = [(bank, kit, key, v) for v in vels]
    groups = sample_groups(sfont, items)
    drums = Corpus(out.parent / "fluid-gm-drums", "fluid-gm-drums")
    for bank, kit, name in kits:
        notes = [(key, v) for key in range(27, 88) for v in vels]
        log(f"[fluid-gm-drums] kit {kit} {name}")
        clips = render(sf2, bank, kit, notes, hold=1.0, slot=2.5, drums=True)
        for (key, vel), x in zip(notes, clips):
            item = f"kit{kit:03d}k{key:03d}"
            label = KEY_TO_DRUM.get(key) if kit not in UNLABELLED_KITS else None
            drums.add(x, f"kit{kit:03d}-{slug(name)}/k{key:03d}-v{vel:03d}", label,
                      f"fluid-drum:{groups[item]}", source="fluid-gm-drums")
    drums.finish(args.test_frac, args.seed, info=info)


if __name__ == "__main__":
    main()
