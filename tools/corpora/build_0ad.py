#!/usr/bin/env python3
"""Sound effects, music and ambience of 0 A.D. (Debian package 0ad-data; the game is not installed).

The .deb is unpacked with dpkg-deb -x and the audio is read straight out of
mods/public/public.zip. Labelled task (manifest.csv): sound effects labelled by folder, ten
classes (attack/impact, attack/weapon, actor/human/death, resource/gathering, resource/mining,
actor/fauna/animal, actor/singlesteps, resource/construction, resource/lumbering, attack/fire).
group = folder + file name without its take number (arrow_wood_01..21 -> arrow_wood), so takes
of one sound stay on one side. Everything else under audio/ (music, ambience, voices, interface
and other effects) goes to unlabelled.csv for pretraining; recordings longer than 30 s are cut
into 10 s chunks (group = the recording).
License: CC-BY-SA-3.0, Wildfire Games (see the package's copyright file and audio/LICENSE.txt).
"""
from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Corpus, base_args, chunk, load_audio, log, resolve  # noqa: E402

CLASSES = ["attack/impact", "attack/weapon", "actor/human/death", "resource/gathering",
           "resource/mining", "actor/fauna/animal", "actor/singlesteps", "resource/construction",
           "resource/lumbering", "attack/fire"]
AUDIO_EXT = (".ogg", ".wav", ".flac")


def take_group(folder: str, stem: str) -> str:
    return f"0ad:{folder}/" + re.sub(r"[_-]?\d+[a-z]?$", "", stem.lower())


def main():
    p = base_args(__doc__.split("\n")[0], "0ad")
    p.add_argument("--chunk-seconds", type=float, default=10.0)
    args = p.parse_args()
    out, roots = resolve(args, "0ad", ["0ad-data"])
    zpath = next(roots["0ad-data"].rglob("public.zip"))
    corpus = Corpus(out, "0ad")
    with zipfile.ZipFile(zpath) as z:
        names = sorted(n for n in z.namelist()
                       if n.startswith("audio/") and n.lower().endswith(AUDIO_EXT))
        lic = z.read("audio/LICENSE.txt").decode("utf-8", "replace") if "audio/LICENSE.txt" in z.namelist() else ""
        log(f"[0ad] {len(names)} audio files in {zpath.name}")
        for i, n in enumerate(names):
            rel = n[len("audio/"):]
            folder, stem = rel.rsplit("/", 1)[0], Path(rel).stem
            label = folder if folder in CLASSES else None
            try:
                x = load_audio(z.read(n))
            except Exception as e:
                log(f"[0ad] skip {n}: {e}")
                corpus.dropped["unreadable"] += 1
                continue
            if label:
                corpus.add(x, f"sfx/{Path(rel).with_suffix('')}", label, take_group(folder, stem),
                           source="0ad-sfx")
                continue
            kind = rel.split("/")[0]
            source = {"music": "0ad-music", "ambient": "0ad-ambient"}.get(kind, "0ad-other")
            pieces = chunk(x, args.chunk_seconds) if x.size > 30 * 16000 else [x]
            for j, piece in enumerate(pieces):
                suffix = f"-{j:03d}" if len(pieces) > 1 else ""
                corpus.add(piece, f"{kind}/{Path(rel).with_suffix('')}{suffix}", None,
                           f"0ad:{Path(rel).with_suffix('')}", source=source)
            if i % 100 == 0:
                log(f"[0ad] {i}/{len(names)}")
    (out / "LICENSE-audio.txt").write_text(lic)
    corpus.finish(args.test_frac, args.seed,
                  info={"package": "0ad-data", "version": args._versions["0ad-data"],
                        "license": "CC-BY-SA-3.0 (Wildfire Games)"})


if __name__ == "__main__":
    main()
