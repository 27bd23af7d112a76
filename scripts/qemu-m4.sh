#!/usr/bin/env bash
# Runs a Cortex-M4 ELF on qemu-system-arm's mps2-an386 with semihosting,
# saving and printing what it prints; exits with its status (124 = timeout,
# QEMU_TIMEOUT seconds, default 120). Used by firmware-example/run-qemu.sh and
# capi/run-qemu-c.sh.
#
#   scripts/qemu-m4.sh NAME ELF OUT [QEMU_ARGS...]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 NAME ELF OUT [QEMU_ARGS...]" >&2; exit 2; }
name=$1 elf=$2 out=$3
shift 3
status=0
timeout "${QEMU_TIMEOUT:-120}" qemu-system-arm \
    -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    "$@" \
    -semihosting-config enable=on,target=native \
    -kernel "$elf" >"$out" || status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
    echo "$name: qemu exited with status $status (124 = timeout)" >&2
fi
exit "$status"
