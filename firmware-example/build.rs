//! Linker setup, per binary: `nano33` links the nRF52840 layout (behind the Arduino
//! bootloader at 0x10000 by default, from 0x0 with the `swd` feature) plus defmt's
//! script; `qemu` links the mps2-an386 layout. There is deliberately no `memory.x` in
//! the package root: the linker would find that one first and ignore these.
//! Host builds (the lib and `examples/host_report.rs`) get no linker arguments.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory");
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
