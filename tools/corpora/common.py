"""Shared helpers for the corpus builders: Debian packages, audio I/O, dedup, splits, manifests.

Every builder writes, under OUT/<corpus>/:
  clips/...                 16 kHz mono 16-bit FLAC clips
  manifest.csv              path,label,split,group,duration  (labelled task; path relative to the CSV)
  unlabelled.csv            path,group,duration,source       (extra audio for pretraining only; optional)
  summary.json              counts, durations, sizes, what was dropped
Clips are deduplicated by the SHA-256 of their 16 kHz int16 samples (first one, in sorted
source order, wins). Splits are made per group, so near-duplicates stay on one side.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
MANIFEST_HEADER = ["path", "label", "split", "group", "duration"]
UNLABELLED_HEADER = ["path", "group", "duration", "source"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- Debian packages

def fetch_deb(package: str, cache: Path, deb: str | None = None) -> Path:
    """Path of the package's .deb: `deb` if given, else one in `cache`, else `apt-get download`."""
    if deb:
        return Path(deb)
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(glob.glob(str(cache / f"{package}_*.deb")))
    if found:
        return Path(found[-1])
    log(f"[deb] apt-get download {package} -> {cache}")
    r = subprocess.run(["apt-get", "download", package], cwd=cache)
    found = sorted(glob.glob(str(cache / f"{package}_*.deb")))
    if r.returncode != 0 or not found:
        raise SystemExit(f"could not download {package}: run `apt-get update` first, or pass --deb PATH")
    return Path(found[-1])


def extract_deb(deb: Path, dest: Path) -> Path:
    """`dpkg-deb -x` into dest (once; a marker file records completion). No maintainer scripts run."""
    marker = dest / ".extracted"
    if marker.exists() and marker.read_text().strip() == deb.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    log(f"[deb] dpkg-deb -x {deb.name} -> {dest}")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    marker.write_text(deb.name)
    return dest


def deb_version(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                          check=True).stdout.strip()


# --------------------------------------------------------------------------- audio

def resample(x: np.ndarray, sr_in: int, sr_out: int = SR) -> np.ndarray:
    if sr_in == sr_out:
        return x.astype(np.float32)
    try:
        import soxr
        return soxr.resample(x.astype(np.float32), sr_in, sr_out, quality="HQ").astype(np.float32)
    except ImportError:  # pragma: no cover - fallback
        from math import gcd
        from scipy.signal import resample_poly
        g = gcd(sr_in, sr_out)
        return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def load_audio(src, sr_out: int = SR) -> np.ndarray:
    """Decode a file path or bytes (WAV/FLAC/OGG Vorbis) to mono float32 at sr_out."""
    if isinstance(src, (bytes, bytearray)):
        src = io.BytesIO(src)
    x, sr = sf.read(src, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return resample(x, sr, sr_out)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def trim_silence(x: np.ndarray, db: float = -60.0, pad: float = 0.02, sr: int = SR) -> np.ndarray:
    """Cut leading/trailing samples quieter than `db` below the peak (keeps `pad` s either side)."""
    if x.size == 0:
        return x
    peak = float(np.abs(x).max())
    if peak <= 0:
        return x[:0]
    thr = peak * 10 ** (db / 20)
    idx = np.flatnonzero(np.abs(x) > thr)
    p = int(pad * sr)
    return x[max(0, idx[0] - p): min(x.size, idx[-1] + 1 + p)]


def fade_out(x: np.ndarray, seconds: float = 0.01, sr: int = SR) -> np.ndarray:
    n = min(x.size, int(seconds * sr))
    if n > 0:
        x = x.copy()
        x[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return x


# --------------------------------------------------------------------------- corpus writer

@dataclass
class Row:
    path: str
    label: str
    group: str
    duration: float
    split: str = ""
    extra: dict = field(default_factory=dict)


class Corpus:
    """Writes clips under root/clips, deduplicated by content hash, and keeps manifest rows."""

    def __init__(self, root: Path, name: str, min_seconds: float = 0.05, min_peak: float = 1e-3):
        self.root = Path(root)
        self.name = name
        self.clips = self.root / "clips"
        if self.clips.exists():
            shutil.rmtree(self.clips)
        self.clips.mkdir(parents=True)
        self.min_samples = int(min_seconds * SR)
        self.min_peak = min_peak
        self.hashes: dict[str, str] = {}
        self.labelled: list[Row] = []
        self.unlabelled: list[Row] = []
        self.dropped = Counter()

    def add(self, x: np.ndarray, rel: str, label: str | None, group: str, source: str = "",
            **extra) -> bool:
        """Write clip `x` (float32, 16 kHz mono) as clips/<rel>.flac. label None = unlabelled.

        Returns False (and writes nothing) for a duplicate, a too-short or a silent clip."""
        if x.size < self.min_samples:
            self.dropped["too_short"] += 1
            return False
        if float(np.abs(x).max()) < self.min_peak:
            self.dropped["silent"] += 1
            return False
        pcm = to_int16(x)
        h = hashlib.sha256(pcm.tobytes()).hexdigest()
        if h in self.hashes:
            self.dropped["duplicate"] += 1
            return False
        rel = rel if rel.endswith(".flac") else rel + ".flac"
        path = self.clips / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), pcm, SR, format="FLAC", subtype="PCM_16")
        self.hashes[h] = rel
        row = Row(f"clips/{rel}", label or "", group, round(pcm.size / SR, 3),
                  extra={"source": source, **extra})
        (self.labelled if label else self.unlabelled).append(row)
        return True

    def finish(self, test_frac: float = 0.2, seed: str = "matpac", fixed_test_groups=None,
               info: dict | None = None) -> dict:
        if fixed_test_groups is not None:
            for r in self.labelled:
                r.split = "test" if r.group in fixed_test_groups else "train"
        else:
            assign_splits(self.labelled, test_frac, seed)
        check_groups(self.labelled)
        write_manifest(self.root / "manifest.csv", self.labelled)
        if self.unlabelled:
            write_unlabelled(self.root / "unlabelled.csv", self.unlabelled)
        s = summarize(self.root, self.labelled, self.unlabelled)
        s["corpus"] = self.name
        s["dropped"] = dict(self.dropped)
        s.update(info or {})
        (self.root / "summary.json").write_text(json.dumps(s, indent=2) + "\n")
        log(json.dumps(s, indent=2))
        return s


# --------------------------------------------------------------------------- splits

def _h(s: str) -> str:
    return hashlib.sha1(s.encode()).hexdigest()


def assign_splits(rows: list[Row], test_frac: float = 0.2, seed: str = "matpac") -> None:
    """Group-level split, roughly stratified by label, deterministic.

    Groups are visited in a seeded hash order; a group goes to test while every label it carries
    is still below its test target (test_frac of that label's clips). Every label that has at
    least two groups then gets at least one test group and keeps at least one train group."""
    by_group: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_group[r.group].append(r)
    label_total = Counter(l for r in rows for l in r.label.split(";"))
    label_groups: dict[str, set] = defaultdict(set)
    for g, rs in by_group.items():
        for r in rs:
            for l in r.label.split(";"):
                label_groups[l].add(g)
    target = {l: test_frac * n for l, n in label_total.items()}
    test_count = Counter()
    test_groups: set[str] = set()
    for g in sorted(by_group, key=lambda g: _h(seed + g)):
        cnt = Counter(l for r in by_group[g] for l in r.label.split(";"))
        if all(test_count[l] + c <= target[l] * 1.25 + 1 for l, c in cnt.items()) and \
                any(test_count[l] < target[l] for l in cnt):
            test_groups.add(g)
            test_count.update(cnt)
    for l, gs in sorted(label_groups.items()):
        if len(gs) < 2:
            continue
        if not gs & test_groups:  # give the label its smallest group
            g = min(sorted(gs), key=lambda g: len(by_group[g]))
            test_groups.add(g)
        if gs <= test_groups:  # keep one train group
            g = max(sorted(gs), key=lambda g: len(by_group[g]))
            test_groups.discard(g)
    for r in rows:
        r.split = "test" if r.group in test_groups else "train"


def check_groups(rows: list[Row]) -> None:
    side: dict[str, str] = {}
    for r in rows:
        if side.setdefault(r.group, r.split) != r.split:
            raise AssertionError(f"group {r.group} crosses the split")


# --------------------------------------------------------------------------- manifests

def write_manifest(path: Path, rows: list[Row]) -> None:
    rows = sorted(rows, key=lambda r: r.path)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(MANIFEST_HEADER)
        for r in rows:
            w.writerow([r.path, r.label, r.split, r.group, f"{r.duration:.3f}"])


def write_unlabelled(path: Path, rows: list[Row]) -> None:
    rows = sorted(rows, key=lambda r: r.path)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(UNLABELLED_HEADER)
        for r in rows:
            w.writerow([r.path, r.group, f"{r.duration:.3f}", r.extra.get("source", "")])


def dir_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())


def summarize(root: Path, labelled: list[Row], unlabelled: list[Row]) -> dict:
    per_label = defaultdict(lambda: {"train": 0, "test": 0})
    for r in labelled:
        for l in r.label.split(";"):
            per_label[l][r.split] += 1
    return {
        "labelled_clips": len(labelled),
        "labelled_hours": round(sum(r.duration for r in labelled) / 3600, 3),
        "labelled_groups": len({r.group for r in labelled}),
        "train_clips": sum(r.split == "train" for r in labelled),
        "test_clips": sum(r.split == "test" for r in labelled),
        "unlabelled_clips": len(unlabelled),
        "unlabelled_hours": round(sum(r.duration for r in unlabelled) / 3600, 3),
        "unlabelled_by_source": {k: {"clips": v[0], "hours": round(v[1] / 3600, 3)}
                                 for k, v in sorted(_by_source(unlabelled).items())},
        "bytes": dir_bytes(root / "clips"),
        "per_label": dict(sorted(per_label.items())),
    }


def _by_source(rows: list[Row]) -> dict:
    out: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for r in rows:
        out[r.extra.get("source", "")][0] += 1
        out[r.extra.get("source", "")][1] += r.duration
    return out


def chunk(x: np.ndarray, seconds: float = 10.0, min_last: float = 3.0, sr: int = SR):
    """Split a long recording into consecutive chunks of `seconds` (a short tail joins the last)."""
    n = int(seconds * sr)
    if x.size <= n + int(min_last * sr):
        return [x]
    out = [x[i:i + n] for i in range(0, x.size, n)]
    if len(out) > 1 and out[-1].size < min_last * sr:
        out[-2] = np.concatenate([out[-2], out[-1]])
        out.pop()
    return out


def base_args(description: str, default_name: str):
    import argparse
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=os.path.expanduser("~/matpac-data"),
                   help="output root (default ~/matpac-data); the corpus goes to OUT/%s" % default_name)
    p.add_argument("--cache", default=None,
                   help="where .deb files and their extraction live (default OUT/_cache)")
    p.add_argument("--deb", action="append", default=[],
                   help="use this already downloaded .deb instead of apt-get download (repeatable)")
    p.add_argument("--test-frac", type=float, default=0.2)
    p.add_argument("--seed", default="matpac")
    return p


def resolve(args, name: str, packages: list[str]) -> tuple[Path, dict[str, Path]]:
    """Output folder and {package: extracted root} for the builder's packages."""
    out = Path(args.out).expanduser().resolve()
    cache = Path(args.cache).expanduser().resolve() if args.cache else out / "_cache"
    given = {Path(d).name.split("_")[0]: d for d in args.deb}
    roots = {}
    versions = {}
    for pkg in packages:
        deb = fetch_deb(pkg, cache / "debs", given.get(pkg))
        versions[pkg] = deb_version(deb)
        roots[pkg] = extract_deb(deb, cache / "extract" / pkg)
    args._versions = versions
    return out / name, roots
