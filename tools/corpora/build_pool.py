#!/usr/bin/env python3
"""Combine the built corpora under OUT into one unlabelled pretraining pool manifest.

Reads OUT/*/manifest.csv and OUT/*/unlabelled.csv and writes OUT/pool.csv with header
`path,group,duration,source` (path relative to OUT). By default the test split of every
labelled task is left out, so pretraining never hears a probe's test clips (--with-test keeps
them). Files with identical bytes in two corpora are listed once. OUT/pool_summary.json gives
hours per source.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.expanduser("~/matpac-data"))
    p.add_argument("--with-test", action="store_true", help="keep labelled test clips too")
    args = p.parse_args()
    out = Path(args.out).expanduser().resolve()
    seen = set()
    rows = []
    dup = 0
    for corpus in sorted(d for d in out.iterdir() if d.is_dir() and not d.name.startswith("_")):
        for name in ["manifest.csv", "unlabelled.csv"]:
            f = corpus / name
            if not f.exists():
                continue
            for r in csv.DictReader(open(f, newline="")):
                if r.get("split") == "test" and not args.with_test:
                    continue
                path = corpus / r["path"]
                h = hashlib.sha256(path.read_bytes()).hexdigest()
                if h in seen:
                    dup += 1
                    continue
                seen.add(h)
                src = r.get("source") or f"{corpus.name}-labelled-train"
                rows.append([f"{corpus.name}/{r['path']}", r["group"], r["duration"], src])
    rows.sort()
    with open(out / "pool.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "group", "duration", "source"])
        w.writerows(rows)
    by = defaultdict(lambda: [0, 0.0])
    for r in rows:
        by[r[3]][0] += 1
        by[r[3]][1] += float(r[2])
    summary = {"clips": len(rows), "hours": round(sum(float(r[2]) for r in rows) / 3600, 3),
               "duplicates_dropped": dup, "with_test": args.with_test,
               "by_source": {k: {"clips": v[0], "hours": round(v[1] / 3600, 3)}
                             for k, v in sorted(by.items())}}
    (out / "pool_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
