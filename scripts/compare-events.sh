#!/usr/bin/env bash
# Compares the event lines a QEMU run printed with `matpac tag` (the
# workspace's binary, built here) on the same model and audio, byte for byte;
# used by firmware-example/run-qemu.sh and capi/run-qemu-c.sh.
#
#   scripts/compare-events.sh NAME MODEL AUDIO QEMU_OUT OUT_DIR
#
# NAME names the device side in messages ("firmware", "C example"); QEMU_OUT
# is the run's semihosting output; OUT_DIR receives host.events and
# qemu.events. Exits 1 when they differ or when the host found no event.
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: $0 NAME MODEL AUDIO QEMU_OUT OUT_DIR" >&2; exit 2; }
name=$1 model=$2 audio=$3 qemu_out=$4 out_dir=$5
root="$(cd "$(dirname "$0")/.." && pwd)"

(cd "$root" && nice -n 10 cargo build -q --bin matpac >&2)
"$root/target/debug/matpac" tag --format text "$model" "$audio" \
    | sed 's/^[^:]*: //' >"$out_dir/host.events"
grep '^onset=' "$qemu_out" >"$out_dir/qemu.events" || true
if ! cmp -s "$out_dir/qemu.events" "$out_dir/host.events"; then
    echo "$name events and \`matpac tag\` events differ:" >&2
    diff "$out_dir/host.events" "$out_dir/qemu.events" | head -20 >&2 || true
    exit 1
fi
events=$(wc -l <"$out_dir/host.events")
if [ "$events" -eq 0 ]; then
    echo "the tagger found no event in $audio; nothing was compared" >&2
    exit 1
fi
echo "$name events == matpac tag events ($events events)" >&2
