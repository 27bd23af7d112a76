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
//!
//! The RAM the tagger needs is sized from the embedded model here, with the
//! runtime itself (a build dependency): `$OUT_DIR/sizes.rs` holds `WINDOW_LEN`
//! (`Tagger::window_len`) and `ARENA_LEN` (`Model::arena_len`), so the firmware
//! reserves exactly what the model needs, and a model the runtime cannot read
//! fails the build with the runtime's error instead of the board at boot.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory");
    let model = embed(
        "MATPAC_MODEL",
        "models/tagger.onnx",
        "model.onnx",
        "a `matpac export` .onnx",
    );
    write_sizes(&model);
    embed(
        "MATPAC_SCENE",
        "clips/scene01_0-10s.wav",
        "scene.wav",
        "a 16 kHz 16-bit mono WAV",
    );
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

/// Writes `$OUT_DIR/sizes.rs`: the window and arena bytes the model at `path` needs.
fn write_sizes(path: &PathBuf) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let model = match matpac_runtime::Model::parse(&bytes) {
        Ok(model) => model,
        Err(e) => panic!(
            "MATPAC_MODEL {}: the runtime cannot run this model: {e} (use a `matpac export` .onnx)",
            path.display()
        ),
    };
    let window = matpac_runtime::Tagger::<1>::window_len(&model);
    let frame = match matpac_runtime::tagger::FeatureStream::new(&model) {
        Ok(features) => features.n_mels(),
        Err(e) => panic!(
            "MATPAC_MODEL {}: not a tagger export: {e} (use `matpac export` / `matpac quantize --out`)",
            path.display()
        ),
    };
    let text = format!(
        "/// Bytes of int8 feature window the embedded model needs (`Tagger::window_len`).\n\
         pub const WINDOW_LEN: usize = {window};\n\
         /// Bytes of activation arena the embedded model needs (`Model::arena_len`).\n\
         pub const ARENA_LEN: usize = {};\n\
         /// Bytes of one int8 feature frame (the model's mel bands).\n\
         pub const FRAME_LEN: usize = {frame};\n",
        model.arena_len()
    );
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("sizes.rs");
    std::fs::write(&out, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

/// Copies the file named by the environment variable `var` (default `default`,
/// relative to this package) to `$OUT_DIR/name`; returns the source path.
fn embed(var: &str, default: &str, name: &str, what: &str) -> PathBuf {
    println!("cargo:rerun-if-env-changed={var}");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let source = env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join(default));
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(name);
    if let Err(e) = std::fs::copy(&source, &out) {
        panic!(
            "{var}: cannot read {}: {e} (set {var} to {what})",
            source.display()
        );
    }
    source
}
