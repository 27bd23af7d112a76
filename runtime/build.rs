//! Emits `cfg(matpac_dsp)` for targets with the Armv7E-M DSP extension (dual
//! 16-bit multiply-accumulate `SMLAD`, `SXTB16`, `PKHBT`): `thumbv7em-*`
//! (Cortex-M4/M7), which always have it. Armv8-M Mainline (`thumbv8m.main-*`)
//! makes it optional, so it is left out. Stable Rust has no
//! `cfg(target_feature = "dsp")`, so the target triple decides;
//! the kernels in `src/engine/kernels/dsp/arm.rs` use these instructions under it.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(matpac_dsp)");
    println!("cargo::rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em") {
        println!("cargo::rustc-cfg=matpac_dsp");
    }
}
