#!/usr/bin/env bash
# Builds the QEMU binary (release) and runs it on qemu-system-arm's mps2-an386 (Cortex-M4),
# printing what it prints through semihosting; exits with the firmware's exit status.
#
#   ./run-qemu.sh            # run; output also saved to target/qemu/qemu.out
#   ./run-qemu.sh --check    # also require, byte for byte,
#                            # - the front-end report (up to its `end frames=` line, `bench `
#                            #   lines removed) to equal examples/host_report.rs on the host;
#                            # - the tagger's event lines to equal `matpac tag` (the
#                            #   workspace's binary) on the same WAV and model, with at
#                            #   least one event
#
# MATPAC_MODEL / MATPAC_SCENE (paths) replace the embedded model and tagged WAV (build.rs);
# the host side of --check then uses the same files.
#
# Needs qemu-system-arm (Debian: apt-get install -y qemu-system-arm). QEMU_TIMEOUT (s,
# default 120) bounds the run. The output's format is documented in src/report.rs.
set -euo pipefail
cd "$(dirname "$0")"

check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! command -v qemu-system-arm >/dev/null; then
    echo "qemu-system-arm not found (Debian: apt-get install -y qemu-system-arm)" >&2
    exit 127
fi

clip=clips/scene01_0-4s.s16le
elf=target/thumbv7em-none-eabihf/release/qemu
out_dir=target/qemu
mkdir -p "$out_dir"

nice -n 10 cargo build --release --no-default-features --features qemu --bin qemu >&2

# -icount shift=0: one virtual ns per instruction, so SysTick (25 MHz) counts instructions / 40.
status=0
../scripts/qemu-m4.sh run-qemu.sh "$elf" "$out_dir/qemu.out" -icount shift=0 || status=$?
[ "$status" -eq 0 ] || exit "$status"

if [ "$check" -eq 1 ]; then
    nice -n 10 cargo build --release --no-default-features --target x86_64-unknown-linux-gnu \
        --example host_report >&2
    target/x86_64-unknown-linux-gnu/release/examples/host_report "$clip" >"$out_dir/host.out"
    sed -n '1,/^end frames=/p' "$out_dir/qemu.out" | grep -v '^bench ' >"$out_dir/qemu.report" || true
    if ! cmp -s "$out_dir/qemu.report" "$out_dir/host.out"; then
        echo "run-qemu.sh: firmware and host reports differ:" >&2
        diff "$out_dir/host.out" "$out_dir/qemu.report" | head -20 >&2 || true
        exit 1
    fi
    frames=$(grep -c '^frame ' "$out_dir/host.out")
    echo "run-qemu.sh: firmware report == host report ($frames frames, $(wc -c <"$out_dir/host.out") bytes)" >&2

    ../scripts/compare-events.sh "run-qemu.sh: firmware" "${MATPAC_MODEL:-models/tagger.onnx}" \
        "${MATPAC_SCENE:-clips/scene01_0-10s.wav}" "$out_dir/qemu.out" "$out_dir"
    cat "$out_dir/host.events" >&2
fi
