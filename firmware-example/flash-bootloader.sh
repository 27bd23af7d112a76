#!/usr/bin/env bash
# Flashes the `nano33` binary through the Arduino bootloader over USB (no probe, no
# Arduino IDE): builds it with the `usb-serial` feature (events on the USB serial port)
# in the bootloader layout (application at 0x10000), converts the ELF to a raw .bin,
# checks that the .bin starts with the application's vector table, and writes it with
# bossac. See README.md, "Flash the board" and "Troubleshooting".
#
#   ./flash-bootloader.sh                       # build, check, wait for the bootloader, flash
#   ./flash-bootloader.sh --port /dev/ttyACM1   # another port (macOS: /dev/cu.usbmodem…, Windows: COM5)
#   ./flash-bootloader.sh --touch               # no double tap: reset the running firmware into
#                                               # the bootloader with a 1200-baud touch
#   ./flash-bootloader.sh --dry-run             # build and check only; print the commands
#
# Before flashing, the board must be in its bootloader: double-tap the reset button (the
# orange LED pulses; the script asks for it, then waits for the port), or pass --touch
# when the board runs this firmware with `usb-serial` (or an Arduino sketch): opening its
# port at 1200 baud and closing it resets it into the bootloader, as the Arduino IDE does.
#
# BOSSAC (a path) picks the bossac; otherwise `bossac` on PATH, then the one the
# Arduino mbed core installs (Arduino's fork: upstream bossac does not know the
# nRF52840). CARGO_FEATURES (default `usb-serial`) replaces the build's features.
# Needs arm-none-eabi-objcopy (or llvm-objcopy / rust-objcopy) and readelf; the dry run
# needs no board and no bossac.
set -euo pipefail
cd "$(dirname "$0")"

dry_run=0
touch=0
port=
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --touch) touch=1 ;;
        --port) port=${2:?--port needs a serial port}; shift ;;
        *) echo "usage: $0 [--dry-run] [--touch] [--port PORT]" >&2; exit 2 ;;
    esac
    shift
done

# The bootloader layout (memory/nrf52840-bootloader/memory.x): the application starts
# here, 960 KiB long; RAM is 256 KiB from 0x20000000.
app_start=$((0x10000))
app_len=$((960 * 1024))
ram_start=$((0x20000000))
ram_end=$((0x20040000))

objcopy=
for tool in arm-none-eabi-objcopy llvm-objcopy rust-objcopy; do
    if command -v "$tool" >/dev/null; then objcopy=$tool; break; fi
done
if [ -z "$objcopy" ]; then
    echo "no objcopy found (Debian: apt-get install -y binutils-arm-none-eabi)" >&2
    exit 127
fi

features=${CARGO_FEATURES-usb-serial}
elf=target/thumbv7em-none-eabihf/release/nano33
bin=target/nano33.bin
nice -n 10 cargo build --release --bin nano33 ${features:+--features "$features"} >&2
"$objcopy" -O binary "$elf" "$bin"

# The vector table must be the ELF's first section, at the application start.
vt=$(readelf -S -W "$elf" | sed -n 's/^ *\[ *[0-9]*\] *\.vector_table *[A-Z]* *\([0-9a-f]*\) .*/\1/p')
if [ -z "$vt" ] || [ $((16#$vt)) -ne "$app_start" ]; then
    echo "$elf: .vector_table at 0x${vt:-none}, not 0x10000: built for the SWD layout (--features swd)?" >&2
    exit 1
fi
size=$(wc -c <"$bin")
if [ "$size" -lt 8 ] || [ "$size" -gt "$app_len" ]; then
    echo "$bin: $size bytes; the application space from 0x10000 holds $app_len" >&2
    exit 1
fi
# Its first two words: the initial stack pointer (in RAM) and the reset handler (a Thumb
# address inside the image)
# (bytes, little-endian; `od -t x4` would read them in the host's byte order).
read -r b0 b1 b2 b3 b4 b5 b6 b7 < <(od -A n -t x1 -N 8 "$bin")
sp=$((16#$b3$b2$b1$b0)) reset=$((16#$b7$b6$b5$b4))
if [ "$sp" -le "$ram_start" ] || [ "$sp" -gt "$ram_end" ]; then
    printf '%s: initial stack pointer 0x%08x is not in RAM (0x%08x..0x%08x]\n' "$bin" "$sp" "$ram_start" "$ram_end" >&2
    exit 1
fi
if [ $((reset & 1)) -ne 1 ] || [ "$reset" -lt "$app_start" ] || [ "$reset" -ge $((app_start + size)) ]; then
    printf '%s: reset vector 0x%08x is not a Thumb address in 0x%08x..0x%08x\n' "$bin" "$reset" "$app_start" $((app_start + size)) >&2
    exit 1
fi
printf 'flash-bootloader.sh: %s: %d bytes for 0x%08x, stack pointer 0x%08x, reset 0x%08x\n' \
    "$bin" "$size" "$app_start" "$sp" "$reset" >&2

bossac=${BOSSAC:-}
if [ -z "$bossac" ]; then
    bossac=$(command -v bossac || true)
fi
if [ -z "$bossac" ]; then
    for found in "$HOME"/.arduino15/packages/arduino/tools/bossac/*/bossac \
        "$HOME"/Library/Arduino15/packages/arduino/tools/bossac/*/bossac; do
        if [ -x "$found" ]; then bossac=$found; fi
    done
fi
case "$(uname -s)" in
    Darwin) default_port=$(ls /dev/cu.usbmodem* 2>/dev/null | head -n 1 || true) ;;
    *) default_port=/dev/ttyACM0 ;;
esac
port=${port:-${default_port:-/dev/ttyACM0}}
# Arduino's upload command for the Nano 33 BLE (its platform's bossac pattern): the
# bootloader writes the image at the application start.
command=("${bossac:-bossac}" -d "--port=$port" -U -i -e -w -R "$bin")
# The 1200-baud touch: open at 1200 baud, close (DTR drops).
case "$(uname -s)" in
    Darwin) touch_command=(stty -f "$port" 1200) ;;
    *) touch_command=(stty -F "$port" 1200) ;;
esac

if [ "$dry_run" -eq 1 ]; then
    if [ "$touch" -eq 1 ]; then
        echo "flash-bootloader.sh: dry run; would run: ${touch_command[*]}" >&2
    fi
    echo "flash-bootloader.sh: dry run; would run: ${command[*]}" >&2
    exit 0
fi
if [ -z "$bossac" ]; then
    echo "bossac not found: install the Arduino mbed core for the Nano 33 BLE (arduino-cli core install arduino:mbed_nano) or set BOSSAC" >&2
    exit 127
fi
# The application's own serial port may have the same name as the bootloader's: wait for
# the reset (touch or user), then for the port to enumerate (device files only; Windows'
# COMn are not).
if [ "$touch" -eq 1 ]; then
    echo "resetting the board into its bootloader (1200-baud touch on $port) ..." >&2
    "${touch_command[@]}"
    sleep 2
elif [ -t 0 ]; then
    read -r -p "double-tap the reset button (the orange LED pulses), then press Enter " _
fi
case "$port" in
    /dev/*)
        for _ in $(seq 20); do
            [ -e "$port" ] && break
            sleep 0.5
        done
        if [ ! -e "$port" ]; then
            echo "$port did not appear in 10 s: see README.md, Troubleshooting (or pass --port)" >&2
            exit 1
        fi
        ;;
esac
"${command[@]}"
