"""Minimal SoundFont 2 reader: preset names and which samples a (preset, key, velocity) plays.

Only the "hydra" (pdta chunk) is parsed; sample data is never read. Used to keep
near-duplicates together when splitting rendered notes: presets or drum keys
that play the same recorded samples end up in the same group.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

GEN_KEY_RANGE = 43
GEN_VEL_RANGE = 44
GEN_INSTRUMENT = 41
GEN_SAMPLE_ID = 53


@dataclass
class Zone:
    key: tuple[int, int] = (0, 127)
    vel: tuple[int, int] = (0, 127)
    target: int | None = None  # instrument index (preset zone) or sample id (instrument zone)


@dataclass
class Preset:
    name: str
    program: int
    bank: int
    zones: list[Zone] = field(default_factory=list)


def _chunks(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        cid = data[pos:pos + 4]
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        yield cid, pos + 8, size
        pos += 8 + size + (size & 1)


def _zones(bags: list[tuple[int, int]], gens: list[tuple[int, int]], first: int, last: int,
           target_gen: int) -> list[Zone]:
    zones = []
    for b in range(first, last):
        g0, g1 = bags[b][0], bags[b + 1][0]
        z = Zone()
        for oper, amount in gens[g0:g1]:
            lo, hi = amount & 0xFF, amount >> 8
            if oper == GEN_KEY_RANGE:
                z.key = (lo, hi)
            elif oper == GEN_VEL_RANGE:
                z.vel = (lo, hi)
            elif oper == target_gen:
                z.target = amount
        if z.target is not None:  # global zones carry no target; they only set defaults
            zones.append(z)
    return zones


class SoundFont:
    def __init__(self, path: str):
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
            raise ValueError(f"{path}: not a SoundFont 2 file")
        pdta = None
        for cid, off, size in _chunks(data, 12, len(data)):
            if cid == b"LIST" and data[off:off + 4] == b"pdta":
                pdta = (off + 4, off + size)
        if pdta is None:
            raise ValueError(f"{path}: no pdta chunk")
        sub = {cid: data[off:off + size] for cid, off, size in _chunks(data, *pdta)}

        def recs(cid: bytes, n: int):
            raw = sub[cid]
            return [raw[i:i + n] for i in range(0, len(raw) - n + 1, n)]

        phdr = [(r[:20].split(b"\0")[0].decode("latin1").strip(),) + struct.unpack("<HHH", r[20:26])
                for r in recs(b"phdr", 38)]
        pbag = [struct.unpack("<HH", r) for r in recs(b"pbag", 4)]
        pgen = [struct.unpack("<HH", r) for r in recs(b"pgen", 4)]
        inst = [(r[:20].split(b"\0")[0].decode("latin1").strip(), struct.unpack("<H", r[20:22])[0])
                for r in recs(b"inst", 22)]
        ibag = [struct.unpack("<HH", r) for r in recs(b"ibag", 4)]
        igen = [struct.unpack("<HH", r) for r in recs(b"igen", 4)]
        shdr = [r[:20].split(b"\0")[0].decode("latin1").strip() for r in recs(b"shdr", 46)]
        self.sample_names = shdr
        self.instruments = []  # list of zones per instrument
        for i in range(len(inst) - 1):
            self.instruments.append(_zones(ibag, igen, inst[i][1], inst[i + 1][1], GEN_SAMPLE_ID))
        self.presets: dict[tuple[int, int], Preset] = {}
        for i in range(len(phdr) - 1):
            name, prog, bank, bag0 = phdr[i]
            p = Preset(name, prog, bank, _zones(pbag, pgen, bag0, phdr[i + 1][3], GEN_INSTRUMENT))
            self.presets[(bank, prog)] = p

    def samples_for(self, bank: int, program: int, key: int, vel: int) -> set[int]:
        """Sample ids that sound when `key` is played at `vel` on preset (bank, program)."""
        p = self.presets[(bank, program)]
        out: set[int] = set()
        for pz in p.zones:
            if not (pz.key[0] <= key <= pz.key[1] and pz.vel[0] <= vel <= pz.vel[1]):
                continue
            for iz in self.instruments[pz.target]:
                if iz.key[0] <= key <= iz.key[1] and iz.vel[0] <= vel <= iz.vel[1]:
                    out.add(iz.target)
        return out
