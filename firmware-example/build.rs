//! Linker setup, per binary: `nano33` links the nRF52840 layout (behind the Arduino
//! bootloader at 0x10000 by default, from 0x0 with the `swd` feature) plus defmt's
//! script; `qemu` links the mps2-an386 layout. There is deliberately no `memory.x` in
//! the package root: the linker would find that one first and ignore these.
//! Host builds (the lib and `examples/host_report.rs`) get no linker arguments.
//!
//! The embedded model: `MATPAC_MODEL` (a path; default `models/tagger.onnx`) is
//! copied to `$OUT_DIR/model.onnx`, which both binaries `include_bytes!`, so
//! `MATPAC_MODEL=my.onnx cargo run --release` flashes your own export. The QEMU
//! binary's scene: `MATPAC_SCENE` (16 kHz 16-bit mono WAV; default
//! `clips/scene01_0-10s.wav`) → `$OUT_DIR/scene.wav`.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory");
    embed("MATPAC_MODEL", "models/tagger.onnx", "model.onnx", "a `matpac export` .onnx");
    embed("MATPAC_SCENE", "clips/scene01_0-10s.wav", "scene.wav", "a 16 kHz 16-bit mono WAV");
    let target = env::var("TARGET").unwrap_or_default();
    if !target.starts_with("thumb") {
        return;
    }
    let memory = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("memory");
    let board = if env::var_os("CARGO_FEATURE_SWD").is_some() {
        "nrf52840-swd"
    } else {
        "nrf52840-bootloader"
    };
    println!(
        "cargo:rustc-link-arg-bin=nano33=-L{}",
        memory.join(board).display()
    );
    println!("cargo:rustc-link-arg-bin=nano33=-Tdefmt.x");
    println!(
        "cargo:rustc-link-arg-bin=qemu=-L{}",
        memory.join("mps2-an386").display()
    );
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}

/// Copies the file named by the environment variable `var` (default `default`,
/// relative to this package) to `$OUT_DIR/name`.
fn embed(var: &str, default: &str, name: &str, what: &str) {
    println!("cargo:rerun-if-env-changed={var}");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let source = env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join(default));
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(name);
    if let Err(e) = std::fs::copy(&source, &out) {
        panic!("{var}: cannot read {}: {e} (set {var} to {what})", source.display());
    }
}
