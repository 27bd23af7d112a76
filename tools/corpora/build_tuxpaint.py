#!/usr/bin/env python3
"""Spoken stamp descriptions and stamp sounds of the Debian package tuxpaint-stamps-default.

Tux Paint stamps come with recordings: `NAME.ogg` (a sound effect), `NAME_desc.ogg` (English
description), `NAME_desc_LANG.ogg` (description in another language) and `NAME_LANG.ogg` (the
stamp's name spoken in LANG, e.g. numbers). Speech is labelled with its base language code
(en_GB -> en); languages with at least --min-clips clips form the labelled language-id task
(manifest.csv), the rest of the speech and all sound effects go to unlabelled.csv (pretraining).
group = stamp (folder + name), so every recording of one stamp, in any language, is on one side.
Note: each language has few speakers, so language id here is also partly speaker id.
License: GPL-2 (Bill Kendrick and Tux Paint contributors; see the package's copyright file).
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Corpus, base_args, load_audio, log, resolve  # noqa: E402

LANG_RE = re.compile(r"^(.*)_([a-z]{2,3}(?:_[A-Z]{2})?)$")
SIBLING_EXT = (".png", ".svg", ".ogg", ".txt", ".dat", ".wav")


def classify(f: Path):
    """(stamp key, language or None for a sound effect)."""
    stem = f.stem
    if "_desc" in stem:
        base, _, rest = stem.partition("_desc")
        lang = rest.lstrip("_").split(".")[0] or "en"  # one file is named NAME_desc_da.ogg.ogg
        return f.parent / base, lang.split("_")[0]
    m = LANG_RE.match(stem)
    if m and any((f.parent / (m.group(1) + e)).exists() for e in SIBLING_EXT):
        return f.parent / m.group(1), m.group(2).split("_")[0]
    return f.parent / stem, None


def main():
    p = base_args(__doc__.split("\n")[0], "tuxpaint-stamps")
    p.add_argument("--min-clips", type=int, default=200,
                   help="languages with fewer speech clips are unlabelled (200)")
    args = p.parse_args()
    out, roots = resolve(args, "tuxpaint-stamps", ["tuxpaint-stamps-default"])
    stamps = next(roots["tuxpaint-stamps-default"].rglob("stamps"))
    files = sorted(f for f in stamps.rglob("*") if f.suffix.lower() in (".ogg", ".wav"))
    items = [(f,) + classify(f) for f in files]
    counts = Counter(lang for _, _, lang in items if lang)
    labelled_langs = sorted(l for l, n in counts.items() if n >= args.min_clips)
    log(f"[tuxpaint] {len(files)} files; speech per language: {dict(counts.most_common())}")
    corpus = Corpus(out, "tuxpaint-stamps")
    for f, stamp, lang in items:
        rel_stamp = stamp.relative_to(stamps).as_posix()
        try:
            x = load_audio(str(f))
        except Exception as e:  # a broken file should not stop the build
            log(f"[tuxpaint] skip {f}: {e}")
            corpus.dropped["unreadable"] += 1
            continue
        rel = f.relative_to(stamps).with_suffix("").as_posix()
        if lang is None:
            corpus.add(x, f"sfx/{rel}", None, f"tuxpaint:{rel_stamp}", source="tuxpaint-sfx")
        else:
            corpus.add(x, f"speech/{rel}", lang if lang in labelled_langs else None,
                       f"tuxpaint:{rel_stamp}", source="tuxpaint-speech")
    corpus.finish(args.test_frac, args.seed,
                  info={"package": "tuxpaint-stamps-default",
                        "version": args._versions["tuxpaint-stamps-default"],
                        "license": "GPL-2", "labelled_languages": labelled_langs,
                        "speech_clips_per_language": dict(counts.most_common())})


if __name__ == "__main__":
    main()
