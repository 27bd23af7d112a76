#!/usr/bin/env bash
# Builds the C example (examples/c/) for QEMU mps2-an386 (Cortex-M4F) with
# arm-none-eabi-gcc against libmatpac_capi.a (thumbv7em-none-eabihf), runs it in
# qemu-system-arm with semihosting, and prints what it prints.
#
#   ./run-qemu-c.sh            # run; output also saved to target/capi-c/qemu.out
#   ./run-qemu-c.sh --check    # also require its event lines to equal, byte for byte,
#                              # `matpac tag` (the workspace's binary) on the same WAV and
#                              # model, with at least one event
#
# It embeds the model and WAV of firmware-example/run-qemu.sh: MATPAC_MODEL / MATPAC_SCENE
# (paths) replace them. WINDOW_LEN / ARENA_LEN (bytes) replace the example's static
# buffer budgets (8 KiB and 32 KiB; the example's `sizes` line prints what the model
# needs, and init fails with a status if the budget is short). QEMU_TIMEOUT (s, default
# 120) bounds the run.
#
# Needs qemu-system-arm, arm-none-eabi-gcc and newlib (headers, nano.specs); on Debian:
#   apt-get install -y qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)

check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

for tool in qemu-system-arm:qemu-system-arm arm-none-eabi-gcc:"gcc-arm-none-eabi libnewlib-arm-none-eabi"; do
    if ! command -v "${tool%%:*}" >/dev/null; then
        echo "${tool%%:*} not found (Debian: apt-get install -y ${tool#*:})" >&2
        exit 127
    fi
done

model=$(realpath "${MATPAC_MODEL:-$root/firmware-example/models/tagger.onnx}")
scene=$(realpath "${MATPAC_SCENE:-$root/firmware-example/clips/scene01_0-10s.wav}")
out_dir=$root/target/capi-c
mkdir -p "$out_dir"

# The static library, built like the Rust firmware (firmware-example/Cargo.toml): size
# first, LTO, the runtime's kernels for speed. panic=abort is the target's default.
CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=fat \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    nice -n 10 cargo build -q --release -p matpac-capi --target thumbv7em-none-eabihf \
    --config 'profile.release.package.matpac-runtime.opt-level=2' >&2
lib=$root/target/thumbv7em-none-eabihf/release/libmatpac_capi.a

elf=$out_dir/c-example.elf
# No OS, no stack protection: the linker's "executable stack" warning (objects without a
# .note.GNU-stack, as arm-none-eabi-gcc emits them) does not apply.
nice -n 10 arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 \
    -std=c11 -Os -g -Wall -Wextra -Werror -ffunction-sections -fdata-sections \
    -I include -DWINDOW_LEN="${WINDOW_LEN:-8192}" -DARENA_LEN="${ARENA_LEN:-32768}" \
    -DMODEL_FILE="\"$model\"" -DSCENE_FILE="\"$scene\"" \
    -nostartfiles --specs=nano.specs --specs=nosys.specs \
    -T examples/c/mps2-an386.ld -Wl,--gc-sections -Wl,-Map="$out_dir/c-example.map" \
    -Wl,--no-warn-execstack \
    examples/c/main.c examples/c/board.c examples/c/blobs.S "$lib" -o "$elf"

status=0
"$root/scripts/qemu-m4.sh" run-qemu-c.sh "$elf" "$out_dir/qemu.out" || status=$?
[ "$status" -eq 0 ] || exit "$status"

if [ "$check" -eq 1 ]; then
    "$root/scripts/compare-events.sh" "run-qemu-c.sh: C example" "$model" "$scene" "$out_dir/qemu.out" "$out_dir"
fi
