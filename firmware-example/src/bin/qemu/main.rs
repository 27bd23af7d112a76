//! QEMU `mps2-an386` (ARM AN386 FPGA image: Cortex-M4 with FPU, 25 MHz SysTick core
//! clock): runs the runtime's fixed-point front end over an embedded 4 s clip (16 kHz,
//! s16le, cut from `data/bundled/scenes/scene01.flac` by `tools/make_clip.py`), prints
//! the report of `src/report.rs` through semihosting, then `bench …` lines with SysTick
//! counts per front-end frame, and exits through semihosting (status 0 on success).
//!
//! ```text
//! qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -icount shift=0 \
//!     -semihosting-config enable=on,target=native -kernel target/thumbv7em-none-eabihf/release/qemu
//! ```
//!
//! NOTE: `-icount shift=0` makes virtual time advance 1 ns per instruction, so SysTick
//! on the 25 MHz core clock ticks once per 40 instructions, deterministically. Without
//! it the counts follow host time and mean nothing. Everything except the `bench` lines
//! is identical to `examples/host_report.rs` on the host (`run-qemu.sh --check`).
//!
//! One job per module: [`writer`] (semihosting output), [`timer`] (SysTick as an
//! instruction counter), [`stack`] (painted-stack high-water marks), [`stages`] (the
//! front end per stage), [`tagging`] (events and one timed inference window),
//! [`steps`] (instructions per layer); the kernel check is the library's.

#![no_std]
#![no_main]

mod stack;
mod stages;
mod steps;
mod tagging;
mod timer;
mod writer;

use core::fmt::Write;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hio};
use matpac_firmware_example::report::write_report;
use matpac_runtime::frontend::FrontendConfig;
use panic_semihosting as _;

use stack::stack_high_water;
use stages::write_stage_bench;
use tagging::tag_scene;
use timer::{SYSTICK_MASK, SysTickTimer};
use writer::{LineWriter, write_error};

/// The embedded clip: 64 000 samples, s16le mono (1-byte aligned, hence decoded in chunks).
static CLIP: &[u8] = include_bytes!("../../../clips/scene01_0-4s.s16le");

/// The int8 tagger: `MATPAC_MODEL` at build time, default `models/tagger.onnx` (build.rs).
static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.onnx"));
/// The clip to tag: `MATPAC_SCENE` at build time, default `clips/scene01_0-10s.wav` (the
/// first 10 s of `data/bundled/scenes/scene01.flac`, 16 kHz 16-bit mono).
static SCENE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/scene.wav"));

#[entry]
fn main() -> ! {
    let status = match run() {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(()) => debug::EXIT_FAILURE,
    };
    debug::exit(status);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// The whole run: report, its bench lines, the kernel check, tagging; `Err` after an
/// `error` line (or when the host output is unavailable).
fn run() -> Result<(), ()> {
    let mut out = LineWriter::new(hio::hstdout()?);
    let mut cp = cortex_m::Peripherals::take().ok_or(())?;
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(SYSTICK_MASK);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();

    let mut timer = SysTickTimer::new();
    let result = write_report(&mut out, &FrontendConfig::default(), CLIP, &mut timer);
    if let Err(e) = result {
        write_error(&mut out, &e);
        out.flush();
        return Err(());
    }
    timer.write_bench(&mut out).map_err(|_| ())?;
    let report_stack = stack_high_water();
    write_stage_bench(&mut out).map_err(|_| ())?;
    writeln!(
        out,
        "bench stack_used_bytes report={report_stack} with_stage_bench={} frontend_struct_bytes={}",
        stack_high_water(),
        core::mem::size_of::<matpac_runtime::frontend::Frontend>()
    )
    .map_err(|_| ())?;
    out.flush();
    let mismatches = matpac_firmware_example::kernel_check::run(&mut out).map_err(|_| ())?;
    out.flush();
    if mismatches > 0 {
        return Err(());
    }
    tag_scene(&mut out)?;
    out.flush();
    Ok(())
}
