"""Render SoundFont notes one by one with the fluidsynth command-line program.

Each preset is rendered from one small MIDI file: note i starts at i*slot seconds, is released
after `hold` seconds, and all sound on the channel is cut (CC 120) just before the next slot.
Rendering is at 48 kHz without reverb or chorus; the result is resampled to 16 kHz and cut
into one clip per note, trailing silence (< -60 dB re. the clip peak) trimmed, 10 ms fade-out.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from collections import defaultdict

import numpy as np
import soundfile as sf

from common import SR, fade_out, resample, trim_silence
from sf2 import SoundFont

RENDER_SR = 48000
TPQ = 480  # ticks per quarter; tempo 120 bpm -> 960 ticks per second
TICKS_PER_S = 960

FAMILIES = ["piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble",
            "brass", "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic",
            "percussive", "sound_effects"]
# The 9 acoustic families used as labels; ensemble (synth strings/voices sharing samples with
# pads) and the synth/ethnic/percussive/effects families are rendered for pretraining only.
ACOUSTIC = ["piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "brass", "reed",
            "pipe"]
SYNTH_PROGRAMS = {38, 39, 62, 63}  # synth bass 1-2, synth brass 1-2: not acoustic

# GM percussion keys (channel 10) -> drum type, same names as the Hydrogen corpus.
DRUM_KEYS = {
    "kick": [35, 36],
    "snare": [38, 40],
    "hihat": [42, 44, 46],
    "tom": [41, 43, 45, 47, 48, 50],
    "cymbal": [49, 51, 52, 53, 55, 57, 59],
    "hand_percussion": [54, 56, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 75, 76, 77],
}
KEY_TO_DRUM = {k: d for d, ks in DRUM_KEYS.items() for k in ks}
UNLABELLED_KITS = {48, 56}  # Orchestra kit (timpani on the tom keys), SFX kit


def family(program: int) -> str:
    return FAMILIES[program // 8]


def find_sf2(root) -> str:
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f == "FluidR3_GM.sf2":
                return os.path.join(dirpath, f)
    raise FileNotFoundError(f"FluidR3_GM.sf2 not found under {root}")


def _vlq(n: int) -> bytes:
    b = [n & 0x7F]
    n >>= 7
    while n:
        b.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(b))


def midi_file(channel: int, bank: int, program: int, notes, hold: float, slot: float) -> bytes:
    """Type-0 SMF: bank select + program change, then one note per slot."""
    ev = [(0, 0, bytes([0xB0 | channel, 0, bank & 0x7F])),
          (0, 1, bytes([0xC0 | channel, program]))]
    for i, (key, vel) in enumerate(notes):
        t0 = round(i * slot * TICKS_PER_S)
        ev.append((t0 + 2, 3, bytes([0x90 | channel, key, vel])))
        ev.append((t0 + 2 + round(hold * TICKS_PER_S), 2, bytes([0x80 | channel, key, 0])))
        ev.append((t0 + round((slot - 0.02) * TICKS_PER_S), 1, bytes([0xB0 | channel, 120, 0])))
    ev.sort(key=lambda e: (e[0], e[1]))
    trk = bytearray(_vlq(0) + b"\xff\x51\x03" + (500000).to_bytes(3, "big"))
    last = 0
    for t, _, data in ev:
        trk += _vlq(t - last) + data
        last = t
    end = round(len(notes) * slot * TICKS_PER_S)
    trk += _vlq(max(0, end - last)) + b"\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, TPQ) + b"MTrk" + struct.pack(">I", len(trk)) + trk


def render(sf2: str, bank: int, program: int, notes, hold: float = 1.0, slot: float = 2.0,
           drums: bool = False, gain: float = 0.5, peak: float | None = 0.5):
    """Render `notes` [(key, velocity)] on preset (bank, program); one float32 16 kHz clip each.

    peak: normalise each clip to this peak (None keeps fluidsynth's level)."""
    if shutil.which("fluidsynth") is None:
        raise SystemExit("fluidsynth not found: apt-get install fluidsynth")
    channel = 9 if drums else 0
    with tempfile.TemporaryDirectory() as td:
        mid = os.path.join(td, "n.mid")
        wav = os.path.join(td, "n.wav")
        with open(mid, "wb") as f:
            f.write(midi_file(channel, 0 if drums else bank, program, notes, hold, slot))
        subprocess.run(["fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", str(gain),
                        "-r", str(RENDER_SR), "-O", "float", "-T", "wav", "-F", wav, sf2, mid],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        x, sr = sf.read(wav, dtype="float32", always_2d=True)
    x = resample(x.mean(axis=1), sr, SR)
    out = []
    n = int(round(slot * SR))
    for i in range(len(notes)):
        seg = x[i * n:(i + 1) * n]
        seg = trim_silence(seg, db=-60.0)
        if seg.size and peak is not None:
            seg = seg * (peak / float(np.abs(seg).max()))
        out.append(fade_out(seg) if seg.size else seg)
    return out


def sample_groups(sfont: SoundFont, items):
    """Union-find over items that share any recorded sample.

    items: {item_id: [(bank, program, key, vel), ...]} -> {item_id: group representative}."""
    parent = {i: i for i in items}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    owner = {}
    for it in sorted(items, key=str):
        for (bank, prog, key, vel) in items[it]:
            for s in sfont.samples_for(bank, prog, key, vel):
                if s in owner:
                    ra, rb = find(it), find(owner[s])
                    if ra != rb:
                        parent[max(ra, rb, key=str)] = min(ra, rb, key=str)
                else:
                    owner[s] = it
    return {i: find(i) for i in items}


def preset_list(sfont: SoundFont, melodic: bool = True):
    """(bank, program, name) of melodic presets (banks < 128) or drum kits (bank 128)."""
    out = []
    for (bank, prog), p in sorted(sfont.presets.items()):
        if (bank < 128) == melodic:
            out.append((bank, prog, p.name))
    return out


def group_members(mapping):
    g = defaultdict(list)
    for k, v in mapping.items():
        g[v].append(k)
    return g
