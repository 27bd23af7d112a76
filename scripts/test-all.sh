#!/usr/bin/env bash
# Runs every test of matpac-edge: the workspace's unit, integration and
# cross-crate tests, the no_std runtime build for Cortex-M4F, and (when the
# firmware example is present) its QEMU run compared with the host; last, the
# trainer's `cuda` feature compiles and links (scripts/cuda-build-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== workspace tests"
cargo test --workspace

echo "== runtime builds for thumbv7em-none-eabihf (no_std, no default features)"
cargo build -p matpac-runtime --target thumbv7em-none-eabihf --no-default-features

echo "== firmware: glue tests on the host; Nano 33 BLE Sense binary builds; QEMU Cortex-M4 run (DSP kernel check, report and events equal the host's, byte for byte)"
(cd firmware-example \
    && cargo test --no-default-features --target x86_64-unknown-linux-gnu --lib \
    && cargo build --release --bin nano33 && ./run-qemu.sh --check)

echo "== trainer builds with --features cuda (compile and link only, no GPU needed)"
./scripts/cuda-build-check.sh

echo "all tests passed"
