#!/usr/bin/env bash
# Prints the firmware's measurements: flash and static RAM of both binaries (from their
# ELF section headers; `nano33` with and without `usb-serial`), where nano33's flash and
# RAM go per crate (tools/size_breakdown.py: linker symbols, largest symbols and stack
# frames), the device budget of issue 18 (flash <= 128 KiB, static RAM + inference stack
# <= 48 KiB) and the front end's instructions per frame on QEMU's mps2-an386
# (`-icount shift=0`) per front-end frame and per inference window (per layer too),
# converted to milliseconds at the nRF52840's 64 MHz, and the stack one inference uses.
#
#   ./measure.sh                      # CPI=1.5 by default (see below)
#   CPI=1.25 ./measure.sh
#
# Flash = .vector_table + .text + .rodata + .data (its initial values live in flash);
# static RAM = .data + .bss + .uninit (the stack comes on top: QEMU's high-water mark is
# printed by the QEMU binary). The QEMU binary's .rodata holds the 125 KB clip.
# Uses readelf (binutils), since Debian's `size` does not read ARM ELF; llvm-size -A
# gives the same section sizes.
#
# CPI: QEMU counts instructions, not cycles. A Cortex-M4 spends more than one cycle on
# loads (2), taken branches (2-4), VDIV/VSQRT (14), and nRF52840 flash wait states (the
# instruction cache hides most of them); CPI = 1.5 is a deliberately conservative guess
# until the board's DWT cycle counter (logged by `nano33`) replaces it.
set -euo pipefail
cd "$(dirname "$0")"
cpi=${CPI:-1.5}

nice -n 10 cargo build --release --bin nano33 --features usb-serial >&2
cp target/thumbv7em-none-eabihf/release/nano33 target/nano33-usb-serial.elf
nice -n 10 cargo build --release --bin nano33 >&2
nice -n 10 cargo build --release --no-default-features --features qemu --bin qemu >&2

sizes() {
    local flash=0 ram=0 name size
    # `readelf -S -W` rows: [Nr] Name Type Addr Off Size ...; sizes in hex.
    while read -r name size; do
        case "$name" in
            .vector_table | .text | .rodata) flash=$((flash + 16#$size)) ;;
            .data) flash=$((flash + 16#$size)); ram=$((ram + 16#$size)) ;;
            .bss | .uninit) ram=$((ram + 16#$size)) ;;
        esac
    done < <(readelf -S -W "$1" | sed -n 's/^ *\[ *[0-9]*\] *\(\.[^ ]*\) *[A-Z_]* *[0-9a-f]* *[0-9a-f]* *\([0-9a-f]*\) .*/\1 \2/p')
    printf '%-18s flash %7d B (%5d KiB)   static RAM %6d B (%3d KiB)\n' "$2" "$flash" $((flash / 1024)) "$ram" $((ram / 1024))
    if [ "${3:-}" = budget ]; then
        budget_flash=$flash budget_ram=$ram
    fi
}
echo "== sizes (release, opt-level s, fat LTO)"
sizes target/thumbv7em-none-eabihf/release/nano33 nano33 budget
sizes target/nano33-usb-serial.elf "nano33 usb-serial"
sizes target/thumbv7em-none-eabihf/release/qemu qemu

echo "== where nano33's bytes go (per crate; tools/size_breakdown.py says how they are counted)"
python3 tools/size_breakdown.py target/thumbv7em-none-eabihf/release/nano33 \
    --model-bytes "$(wc -c <"${MATPAC_MODEL:-models/tagger.onnx}")"

echo "== front end on QEMU mps2-an386 (-icount shift=0, 40 instructions per SysTick tick)"
out=$(./run-qemu.sh)
grep '^bench \(frames\|stage_instr\|stack\)' <<<"$out"
mean=$(grep -o 'instr_per_frame_mean=[0-9]*' <<<"$out" | cut -d= -f2)
awk -v i="$mean" -v cpi="$cpi" 'BEGIN {
    ms = i * cpi / 64e6 * 1e3
    printf "per 10 ms frame: %d instructions x CPI %.2f / 64 MHz = %.3f ms (%.1f %% of real time)\n", i, cpi, ms, ms / 10 * 100 }'

echo "== inference on QEMU (one window of the embedded model; DSP kernels checked first)"
grep '^kernel_check\|^bench \(step\|window_instr\)' <<<"$out"
window=$(grep -o 'window_instr=[0-9]*' <<<"$out" | cut -d= -f2)
stack=$(grep -o 'inference_stack_bytes=[0-9]*' <<<"$out" | cut -d= -f2)
awk -v w="$window" -v f="$mean" -v cpi="$cpi" 'BEGIN {
    ms = w * cpi / 64e6 * 1e3
    total = (w + 50 * f) * cpi / 64e6 * 1e3
    printf "per window: %d instructions x CPI %.2f / 64 MHz = %.1f ms\n", w, cpi, ms
    printf "per 0.5 s stride (window + 50 frames): %.1f ms (%.1f %% of real time)\n", total, total / 500 * 100 }'
echo "nano33 RAM: static above + ${stack} B of stack below the interpreter during inference"

# Issue 18's device budget for nano33 with the default model.
echo "== budget: flash <= 131072 B (128 KiB), static RAM + inference stack <= 49152 B (48 KiB)"
printf 'nano33 flash %d B: %s\n' "$budget_flash" \
    "$([ "$budget_flash" -le 131072 ] && echo within || echo "over by $((budget_flash - 131072)) B")"
printf 'nano33 static RAM + inference stack %d B: %s\n' $((budget_ram + stack)) \
    "$([ $((budget_ram + stack)) -le 49152 ] && echo within || echo "over by $((budget_ram + stack - 49152)) B")"
echo "(start-up needs more stack than inference: see the largest stack frames above; the board's own high-water mark is not measured)"
