#!/usr/bin/env python3
"""Drum samples of the Debian package hydrogen-drumkits, labelled by drum type, split by kit.

The drum type comes from the instrument names in each kit's drumkit.xml (kick, snare, hihat,
tom, cymbal, hand_percussion); every layer (velocity/round-robin sample) of an instrument is a
clip. Instruments whose name maps to no type (side stick, claps, snaps, effects, loops, unnamed)
and samples no instrument uses go to unlabelled.csv. group = kit, with the three Millo kits
(versions of one kit by one author) merged, so a kit never straddles the split.
Licenses differ per kit (GPL-2, GPL-2+, CC-BY-3.0, CC-BY-SA-3.0, CC0): the manifest's rows keep
the kit name, and summary.json lists each kit's license from the package's copyright file.
"""
from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Corpus, base_args, load_audio, log, resolve  # noqa: E402

HAND = ["conga", "bongo", "cajon", "djembe", "tambourine", "maraca", "shaker", "clave",
        "woodblock", "agogo", "cabasa", "timbale", "guiro", "cowbell"]
KIT_LICENSES = {  # from /usr/share/doc/hydrogen-drumkits/copyright (2017.09.19~dfsg-1)
    "ElectricEmpireKit": "GPL-2+", "HardElectro1": "GPL-2+", "VariBreaks": "GPL-2+",
    "Millo-Drums_v.1": "GPL-2", "Millo_MultiLayered2": "GPL-2", "Millo_MultiLayered3": "GPL-2",
    "ColomboAcousticDrumkit": "GPL-2+ with composition exception",
    "circAfrique v4": "CC-BY-SA-3.0", "BJA_Pacific": "CC-BY-SA-3.0-us",
    "Gimme A Hand 1.0": "GPL-2", "The Black Pearl 1.0": "GPL-2", "rumpf_kit_z01_h2": "CC-BY-3.0",
    "belofilms_GuitarStrums": "CC-BY-3.0", "Audiophob": "CC0", "ForzeeStereo": "GPL-2",
}
AUDIO_EXT = (".wav", ".flac", ".ogg", ".aif", ".aiff")


def drum_type(name: str) -> str | None:
    n = name.lower()
    words = re.split(r"[^a-z0-9]+", n)
    if any(h in n for h in HAND):
        return "hand_percussion"
    if "kick" in n or "bass drum" in n or "bassdrum" in n or "bd" in words:
        return "kick"
    if "snare" in n:
        return "snare"
    if "hat" in n or "hh" in words or "ohh" in words:
        return "hihat"
    if "tom" in words or n.startswith("tom") or " tom" in n:
        return "tom"
    if any(c in n for c in ["crash", "ride", "splash", "china", "cymbal"]) or \
            ("bell" in n and "paiste" in n):
        return "cymbal"
    return None


def kit_group(kit: str) -> str:
    return "hydrogen:millo" if kit.lower().startswith("millo") else f"hydrogen:{kit}"


def parse_kit(xml_path: Path):
    """[(instrument name, [sample file names])] from a drumkit.xml (any Hydrogen version)."""
    root = ET.parse(xml_path).getroot()
    ns = re.match(r"\{.*\}", root.tag)
    ns = ns.group(0) if ns else ""
    out = []
    for ins in root.iter(ns + "instrument"):
        name_el = ins.find(ns + "name")
        name = (name_el.text or "").strip() if name_el is not None else ""
        files = [(f.text or "").strip() for f in ins.iter(ns + "filename") if (f.text or "").strip()]
        out.append((name, files))
    lic = root.find(ns + "license")
    return out, (lic.text or "").strip() if lic is not None else ""


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-")


def main():
    p = base_args(__doc__.split("\n")[0], "hydrogen-drumkits")
    args = p.parse_args()
    out, roots = resolve(args, "hydrogen-drumkits", ["hydrogen-drumkits"])
    kits_dir = next(roots["hydrogen-drumkits"].rglob("drumkits"))
    corpus = Corpus(out, "hydrogen-drumkits")
    kit_info = {}
    for kit_dir in sorted(d for d in kits_dir.iterdir() if (d / "drumkit.xml").exists()):
        kit = kit_dir.name
        instruments, xml_license = parse_kit(kit_dir / "drumkit.xml")
        used = set()
        n_lab = 0
        for name, files in instruments:
            label = drum_type(name)
            for i, fname in enumerate(files):
                f = kit_dir / fname
                if not f.exists():
                    continue
                used.add(f.name)
                x = load_audio(str(f))
                rel = f"{slug(kit)}/{slug(name) or 'unnamed'}-{i:02d}-{slug(f.stem)}"
                if corpus.add(x, rel, label, kit_group(kit), source="hydrogen-drumkits",
                              kit=kit) and label:
                    n_lab += 1
        for f in sorted(kit_dir.iterdir()):
            if f.suffix.lower() in AUDIO_EXT and f.name not in used:
                corpus.add(load_audio(str(f)), f"{slug(kit)}/unused-{slug(f.stem)}", None,
                           kit_group(kit), source="hydrogen-drumkits", kit=kit)
        kit_info[kit] = {"license": KIT_LICENSES.get(kit, "see copyright file"),
                         "drumkit_xml_license": xml_license, "labelled_clips": n_lab}
        log(f"[hydrogen] {kit}: {n_lab} labelled")
    corpus.finish(args.test_frac, args.seed,
                  info={"package": "hydrogen-drumkits", "version": args._versions["hydrogen-drumkits"],
                        "kits": kit_info})


if __name__ == "__main__":
    main()
