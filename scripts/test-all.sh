#!/usr/bin/env bash
# Runs every check of matpac-edge: import cycles, formatting and clippy
# (warnings are errors) for the workspace, the Cortex-M4F runtime build and the
# firmware; the workspace's unit, integration and cross-crate tests; the
# no_std runtime build for Cortex-M4F; the runtime's library tests for
# aarch64 under qemu-aarch64 (its NEON kernels); the firmware example's QEMU run
# compared with the host and its bootloader image checked without a board
# (flash-bootloader.sh --dry-run); and the C interface's example built with
# arm-none-eabi-gcc and run on the same QEMU; last, the trainer's `cuda`
# feature type-checked (scripts/cuda-build-check.sh --check: Debian packages
# stand in for the LLVM bundle it would download, see docs/gpu.md), or with
# MATPAC_CUDA_CHECK=1 compiled and linked.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== no import cycles between module files (runtime, trainer)"
python3 scripts/import_cycles.py runtime/src trainer/src

echo "== formatting (workspace and firmware)"
cargo fmt --all --check
(cd firmware-example && cargo fmt --check)

echo "== clippy: workspace (all targets), runtime and C interface for thumbv7em-none-eabihf, firmware (Nano 33 binary with and without usb-serial, QEMU binary, host glue tests)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p matpac-runtime --target thumbv7em-none-eabihf --no-default-features -- -D warnings
cargo clippy -p matpac-capi --target thumbv7em-none-eabihf -- -D warnings
(cd firmware-example \
    && cargo clippy --release --bin nano33 -- -D warnings \
    && cargo clippy --release --bin nano33 --features usb-serial -- -D warnings \
    && cargo clippy --release --no-default-features --features qemu --bin qemu -- -D warnings \
    && cargo clippy --no-default-features --target x86_64-unknown-linux-gnu --lib --tests -- -D warnings)

echo "== workspace tests"
cargo test --workspace

echo "== runtime builds for thumbv7em-none-eabihf (no_std, no default features)"
cargo build -p matpac-runtime --target thumbv7em-none-eabihf --no-default-features

echo "== runtime on aarch64 (NEON kernels): clippy, and the library's tests under qemu-aarch64"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo clippy -p matpac-runtime --target aarch64-unknown-linux-gnu -- -D warnings
cargo test -p matpac-runtime --target aarch64-unknown-linux-gnu --lib

echo "== firmware: glue tests on the host; Nano 33 BLE Sense binary builds; QEMU Cortex-M4 run (DSP kernel check, report and events equal the host's, byte for byte); the bootloader .bin (usb-serial) builds and starts with its vector table at 0x10000 (no board)"
(cd firmware-example \
    && cargo test --no-default-features --target x86_64-unknown-linux-gnu --lib \
    && cargo build --release --bin nano33 && ./run-qemu.sh --check \
    && ./flash-bootloader.sh --dry-run)

echo "== C interface: C example (arm-none-eabi-gcc, libmatpac_capi.a for thumbv7em-none-eabihf) on QEMU Cortex-M4, events equal matpac tag's, byte for byte"
./capi/run-qemu-c.sh --check

if [ "${MATPAC_CUDA_CHECK:-0}" = 1 ]; then
    echo "== trainer builds with --features cuda (compile and link only, no GPU needed)"
    ./scripts/cuda-build-check.sh
else
    echo "== trainer type-checks with --features cuda (cargo check, all targets; no GPU needed)"
    ./scripts/cuda-build-check.sh --check
fi

echo "all tests passed"
