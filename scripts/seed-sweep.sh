#!/usr/bin/env bash
# Trains the tagger with several seeds and prints each figure as mean ± std:
# one seed cannot rank tagger recipes on the bundled data (docs/results.md).
#
#   scripts/seed-sweep.sh OUT SCENES_DIR "SEEDS" [train-tagger flags…]
#
# For every seed: `matpac train-tagger data/bundled --seed S FLAGS`,
# `matpac quantize --out` (int8 clip top-1 against the test clips) and
# `matpac tag --metrics` on SCENES_DIR/*.wav (e.g. the demo's test-split
# scenes, runs/demo/scenes) and on data/bundled/scenes/*.flac. Everything goes
# under OUT/seed-S/; the table is printed and written to OUT/summary.md.
# Example, the demo's distilled tagger against the same DS-CNN from scratch:
#   scripts/seed-sweep.sh runs/sweep/distilled runs/demo/scenes "0 1 2" --init runs/demo/student
#   scripts/seed-sweep.sh runs/sweep/scratch   runs/demo/scenes "0 1 2"
# MATPAC=path/to/matpac selects the binary (default: target/release/matpac).
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n 4,16p "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
out=$1 scenes=$2 seeds=$3
shift 3
cd "$(dirname "$0")/.."
matpac=${MATPAC:-target/release/matpac}
[ -x "$matpac" ] || { echo "error: $matpac not built; run cargo build --release --bin matpac (or set MATPAC)" >&2; exit 1; }
ls "$scenes"/*.wav >/dev/null 2>&1 || { echo "error: no .wav scenes in $scenes; run matpac demo or matpac scenes first" >&2; exit 1; }
mkdir -p "$out"
for s in $seeds; do
    d=$out/seed-$s
    mkdir -p "$d"
    echo "== seed $s"
    "$matpac" train-tagger data/bundled --out "$d/tagger" --seed "$s" "$@" >"$d/train.log" 2>&1
    "$matpac" quantize "$d/tagger" --data data/bundled --out "$d/tagger.onnx" >"$d/quantize.log" 2>&1
    "$matpac" tag "$d/tagger.onnx" "$scenes"/*.wav --metrics "$d/test-scenes.json" >/dev/null 2>"$d/tag-test.log"
    "$matpac" tag "$d/tagger.onnx" data/bundled/scenes/*.flac --metrics "$d/bundled-scenes.json" >/dev/null 2>"$d/tag-bundled.log"
    grep -h "validation scenes\|^test:" "$d/train.log" || true
done
python3 - "$out" $seeds <<'EOF' | tee "$out/summary.md"
import json, re, statistics as st, sys
out, seeds = sys.argv[1], sys.argv[2:]
rows = {}
def add(k, v):
    rows.setdefault(k, []).append(v)
for s in seeds:
    d = f"{out}/seed-{s}"
    train = open(f"{d}/train.log").read()
    m = re.search(r"validation scenes \(\d+\): event F1 ([0-9.]+)", train)
    add("validation-scene event F1", float(m.group(1)))
    m = re.search(r"^test: top-1 ([0-9.]+)", train, re.M)
    add("window top-1, float, %", 100 * float(m.group(1)))
    q = open(f"{d}/quantize.log").read()
    m = re.search(r"int8 clip-level top-1 ([0-9.]+)", q)
    add("clip top-1, int8, %", 100 * float(m.group(1)))
    for name, f in (("test-split scenes", "test-scenes"), ("scene01 + scene02", "bundled-scenes")):
        e = json.load(open(f"{d}/{f}.json"))["event"]
        add(f"{name}: event F1", e["f1"])
        add(f"{name}: events found", e["tp"])
        add(f"{name}: false alarms", e["fp"])
print(f"| figure ({len(seeds)} seeds: {' '.join(seeds)}) | mean ± std | per seed |")
print("|---|---:|---|")
for k, v in rows.items():
    sd = st.stdev(v) if len(v) > 1 else 0.0
    print(f"| {k} | {st.mean(v):.3g} ± {sd:.2g} | {' '.join(f'{x:.3g}' for x in v)} |")
EOF
