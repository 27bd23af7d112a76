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

#![no_std]
#![no_main]

use core::fmt::{self, Write};
use core::hint::black_box;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hio};
use matpac_firmware_example::pcm::wav_pcm16_mono;
use matpac_firmware_example::report::{FrameTimer, write_report};
use matpac_firmware_example::tags::{ARENA_LEN, WINDOW_LEN, write_events};
use matpac_runtime::Model;
use matpac_runtime::engine::Interpreter;
use matpac_runtime::frontend::FrontendConfig;
use panic_semihosting as _;

/// The embedded clip: 64 000 samples, s16le mono (1-byte aligned, hence decoded in chunks).
static CLIP: &[u8] = include_bytes!("../../clips/scene01_0-4s.s16le");

/// The int8 tagger: `MATPAC_MODEL` at build time, default `models/tagger.onnx` (build.rs).
static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.onnx"));
/// The clip to tag: `MATPAC_SCENE` at build time, default `clips/scene01_0-10s.wav` (the
/// first 10 s of `data/bundled/scenes/scene01.flac`, 16 kHz 16-bit mono).
static SCENE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/scene.wav"));

/// SysTick is a 24-bit down-counter.
const SYSTICK_MASK: u32 = 0x00FF_FFFF;
/// 1 ns per instruction (`-icount shift=0`) at a 25 MHz SysTick clock (40 ns per tick).
const INSTR_PER_TICK: u32 = 40;
/// Per-frame counts kept for the `bench ticks` lines (the clip has 398 frames).
const MAX_FRAMES: usize = 512;
/// Counts per `bench ticks` line.
const TICKS_PER_LINE: usize = 20;

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
        let _ = writeln!(out, "error {e:?}");
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

/// Tags [`SCENE`] with [`MODEL`] (event lines as `matpac tag` prints them), then
/// times one inference window alone: `bench window_instr=<instructions>`.
fn tag_scene<W: Write>(out: &mut W) -> Result<(), ()> {
    let fail = |out: &mut W, what: &dyn fmt::Debug| {
        let _ = writeln!(out, "error {what:?}");
    };
    let model = match Model::parse(MODEL) {
        Ok(m) => m,
        Err(e) => {
            fail(out, &e);
            return Err(());
        }
    };
    let Some((rate, pcm)) = wav_pcm16_mono(SCENE) else {
        {
            fail(out, &"scene: not a 16-bit mono WAV");
            return Err(());
        }
    };
    let (window_len, arena_len) = (model.input_len(), model.arena_len());
    if window_len > WINDOW_LEN || arena_len > ARENA_LEN {
        {
            fail(out, &(window_len, arena_len));
            return Err(());
        }
    }
    writeln!(
        out,
        "tags model_bytes={} arena={arena_len} window={window_len} sample_rate={rate} samples={} model_struct_bytes={} tagger_struct_bytes={}",
        MODEL.len(),
        pcm.len() / 2,
        core::mem::size_of::<Model<'static>>(),
        core::mem::size_of::<matpac_runtime::tagger::Tagger<'static, 'static, 'static, { matpac_firmware_example::tags::MAX_CLASSES }>>()
    )
    .map_err(|_| ())?;
    let mut window = [0i8; WINDOW_LEN];
    let mut arena = [0u8; ARENA_LEN];
    if let Err(e) = write_events(
        out,
        &model,
        pcm,
        &mut window[..window_len],
        &mut arena[..arena_len],
    ) {
        {
            fail(out, &e);
            return Err(());
        }
    }
    // The window now holds the clip's last features: time one inference on it.
    let mut scores = [0f32; matpac_firmware_example::tags::MAX_CLASSES];
    let n = model.output_len().min(scores.len());
    let mut engine = match Interpreter::new(&model, &mut arena[..arena_len]) {
        Ok(e) => e,
        Err(e) => {
            fail(out, &e);
            return Err(());
        }
    };
    let used_before = stack_high_water();
    let below = repaint_stack_below_sp();
    let (t, r) = ticks(|| engine.run_quantized(&window[..window_len], &mut scores[..n]));
    if let Err(e) = r {
        {
            fail(out, &e);
            return Err(());
        }
    }
    let inference_stack = stack_high_water().saturating_sub(below);
    // The same window again, SysTick read after every step: instructions per layer.
    let mut step_ticks = [0u32; 64];
    let mut last = SYST::get_current();
    let r = engine.run_quantized_observed(&window[..window_len], &mut scores[..n], |i, _| {
        let now = SYST::get_current();
        if let Some(slot) = step_ticks.get_mut(i) {
            *slot = last.wrapping_sub(now) & SYSTICK_MASK;
        }
        last = SYST::get_current();
    });
    if let Err(e) = r {
        {
            fail(out, &e);
            return Err(());
        }
    }
    for (i, step) in model.steps().iter().enumerate() {
        let instr = u64::from(step_ticks.get(i).copied().unwrap_or(0)) * u64::from(INSTR_PER_TICK);
        let (kind, macs) = step_macs(step);
        write!(out, "bench step {i} {kind} macs={macs} instr={instr}").map_err(|_| ())?;
        if macs > 0 {
            let tenths = instr * 10 / macs as u64;
            write!(out, " instr_per_mac={}.{}", tenths / 10, tenths % 10).map_err(|_| ())?;
        }
        writeln!(out).map_err(|_| ())?;
    }
    writeln!(
        out,
        "bench window_instr={} stack_used_bytes={} inference_stack_bytes={inference_stack}",
        u64::from(t) * u64::from(INSTR_PER_TICK),
        used_before.max(stack_high_water())
    )
    .map_err(|_| ())
}

/// A step's kind (`conv KHxKW sSHxSW gG`, `matmul`, `pool`, `elementwise`) and its
/// multiply-accumulates.
fn step_macs(step: &matpac_runtime::model::Step<'_>) -> (StepKind, usize) {
    use matpac_runtime::model::Step;
    match step {
        Step::Conv(c) => {
            let g = &c.geo;
            let [m, oh, ow] = g.out_chw;
            let cpg = g.in_chw[0] / g.group.max(1);
            (
                StepKind::Conv(g.kernel, g.stride, g.group),
                m * oh * ow * cpg * g.kernel[0] * g.kernel[1],
            )
        }
        Step::MatMul(mm) => (StepKind::Other("matmul"), mm.mkn[0] * mm.mkn[1] * mm.mkn[2]),
        Step::Pool(_) => (StepKind::Other("pool"), 0),
        Step::Elementwise(_) => (StepKind::Other("elementwise"), 0),
    }
}

/// How a step is named in the `bench step` lines.
enum StepKind {
    Conv([usize; 2], [usize; 2], usize),
    Other(&'static str),
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conv(k, s, g) => write!(f, "conv{}x{}/s{}x{}/g{}", k[0], k[1], s[0], s[1], g),
            Self::Other(name) => f.write_str(name),
        }
    }
}

/// Elapsed SysTick ticks of `f` (down-counter, mod 2^24).
#[inline(always)]
fn ticks<R>(f: impl FnOnce() -> R) -> (u32, R) {
    let start = SYST::get_current();
    let r = f();
    (start.wrapping_sub(SYST::get_current()) & SYSTICK_MASK, r)
}

/// Frames timed per stage (spread over the clip).
const STAGE_FRAMES: usize = 16;

/// Instructions per stage of one frame, averaged over [`STAGE_FRAMES`] frames of the
/// clip. Mirrors `Frontend::compute_frame` with the runtime's public stage types (bench
/// only; the report above uses `Frontend` itself).
fn write_stage_bench<W: Write>(out: &mut W) -> fmt::Result {
    use matpac_runtime::frontend::{FFT_BINS, FFT_LEN, fft, log::LogQ, mel::MelQ, window};

    let config = FrontendConfig::default();
    let Ok(mel) = MelQ::new(&config) else {
        return writeln!(out, "bench stage error");
    };
    let log = LogQ::new(config.log_eps);
    let hann = window::HannQ15::new(config.win_length);
    let fixed_bits = matpac_runtime::frontend::mel_exponent_bits(&mel);
    let max_scale_exp = matpac_runtime::frontend::max_scale_exp(&mel, &log);

    let mut pcm = [0i16; FFT_LEN];
    let mut buf = [0f32; FFT_LEN];
    let mut power = [0u32; FFT_BINS];
    let mut sums = [0u64; 128];
    let n_mels = config.n_mels.min(sums.len());
    let frames = config.n_frames(CLIP.len() / 2);
    let mut t = [0u32; 5]; // window, rfft_512 alone, fft+power, mel, log
    for k in 0..STAGE_FRAMES {
        let start = (k * frames / STAGE_FRAMES) * config.hop_length * 2;
        let bytes = CLIP
            .get(start..start + 2 * config.win_length)
            .unwrap_or(&[]);
        let n = matpac_firmware_example::pcm::decode_s16le(bytes, &mut pcm);
        let pcm = pcm.get(..n).unwrap_or(&[]);
        t[0] += ticks(|| hann.apply(pcm, &mut buf)).0;
        let mut copy = buf;
        t[1] += ticks(|| black_box(microfft::real::rfft_512(black_box(&mut copy))).len()).0;
        let (dt, shift) =
            ticks(|| fft::power_spectrum(&mut buf, &mut power, mel.used_bins(), max_scale_exp));
        t[2] += dt;
        t[3] += ticks(|| mel.apply(&power, &mut sums)).0;
        let s = shift + fixed_bits;
        t[4] += ticks(|| {
            let log = log.at_exponent(black_box(s));
            for &m in black_box(&sums).iter().take(n_mels) {
                black_box(log.ln_q16(m));
            }
        })
        .0;
    }
    let per_frame = |ticks: u32| ticks as u64 * u64::from(INSTR_PER_TICK) / STAGE_FRAMES as u64;
    writeln!(
        out,
        "bench stage_instr frames={STAGE_FRAMES} window={} rfft512={} fft_power={} mel={} log={} sum={}",
        per_frame(t[0]),
        per_frame(t[1]),
        per_frame(t[2]),
        per_frame(t[3]),
        per_frame(t[4]),
        per_frame(t[0] + t[2] + t[3] + t[4]),
    )
}

/// Paints the unused stack again (everything more than 64 bytes below the
/// current stack pointer, which this function's own frame fits in) so that the
/// next [`stack_high_water`] measures what follows; returns the bytes in use
/// above that point (subtract it from the next high-water mark).
fn repaint_stack_below_sp() -> usize {
    unsafe extern "C" {
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let top = &raw const _stack_start as usize;
    let floor = &raw const _stack_end as usize;
    let sp = cortex_m::register::msp::read() as usize;
    let limit = sp.saturating_sub(64) & !3;
    let mut addr = floor;
    while addr < limit {
        // SAFETY: [_stack_end, sp − 64) is stack RAM below every live frame
        // (this bench runs with interrupts idle: nothing else uses the stack
        // meanwhile), word-aligned; cortex-m-rt painted it the same way at reset.
        unsafe { (addr as *mut u32).write_volatile(cortex_m_rt::STACK_PAINT_VALUE) };
        addr += 4;
    }
    top - limit
}

/// Bytes of the stack ever used: cortex-m-rt (`paint-stack`) filled the stack with
/// `STACK_PAINT_VALUE` at reset; the lowest word that differs marks the deepest use.
fn stack_high_water() -> usize {
    unsafe extern "C" {
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let top = &raw const _stack_start as usize;
    let mut addr = &raw const _stack_end as usize;
    while addr < top {
        // SAFETY: [_stack_end, _stack_start) is RAM reserved for the stack by
        // cortex-m-rt's linker script, word-aligned (asserted there); reading it is
        // always valid, and a volatile read of a painted word races with nothing.
        let word = unsafe { (addr as *const u32).read_volatile() };
        if word != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        addr += 4;
    }
    top - addr
}

/// Accumulates SysTick ticks over `Frontend::process` calls and assigns them to the
/// frame that the last call completed (a frame's count includes the calls that only
/// buffered samples for it).
struct SysTickTimer {
    started: u32,
    pending: u32,
    frames: usize,
    ticks: [u32; MAX_FRAMES],
    total: u64,
}

impl SysTickTimer {
    fn new() -> Self {
        Self {
            started: 0,
            pending: 0,
            frames: 0,
            ticks: [0; MAX_FRAMES],
            total: 0,
        }
    }

    fn write_bench<W: Write>(&self, out: &mut W) -> fmt::Result {
        let kept = self.frames.min(MAX_FRAMES);
        let mut sorted = self.ticks;
        let sorted = sorted.get_mut(..kept).unwrap_or(&mut []);
        for (line, counts) in self
            .ticks
            .get(..kept)
            .unwrap_or(&[])
            .chunks(TICKS_PER_LINE)
            .enumerate()
        {
            write!(out, "bench ticks {}", line * TICKS_PER_LINE)?;
            for t in counts {
                write!(out, " {t}")?;
            }
            writeln!(out)?;
        }
        sorted.sort_unstable();
        let min = sorted.first().copied().unwrap_or(0);
        let max = sorted.last().copied().unwrap_or(0);
        let median = sorted.get(kept / 2).copied().unwrap_or(0);
        let mean = self.total.checked_div(self.frames as u64).unwrap_or(0);
        let instr = u64::from(INSTR_PER_TICK);
        writeln!(
            out,
            "bench frames={} ticks_total={} ticks_min={min} ticks_median={median} ticks_max={max} instr_per_tick={INSTR_PER_TICK} instr_per_frame_mean={} instr_per_frame_median={}",
            self.frames,
            self.total,
            mean * instr,
            u64::from(median) * instr,
        )
    }
}

impl FrameTimer for SysTickTimer {
    #[inline(always)]
    fn start(&mut self) {
        self.started = SYST::get_current();
    }

    #[inline(always)]
    fn stop(&mut self, frame: Option<usize>) {
        let now = SYST::get_current();
        // Down-counter: elapsed = start − now (mod 2^24); one call is far below 2^24 ticks.
        self.pending = self
            .pending
            .saturating_add(self.started.wrapping_sub(now) & SYSTICK_MASK);
        if let Some(index) = frame {
            if let Some(slot) = self.ticks.get_mut(index) {
                *slot = self.pending;
            }
            self.total += u64::from(self.pending);
            self.frames += 1;
            self.pending = 0;
        }
    }
}

/// Buffers text and hands it to the host one line per semihosting call (each call is a
/// trap into QEMU; per-`write_str` calls would be many times slower).
struct LineWriter {
    stream: hio::HostStream,
    buf: [u8; 512],
    len: usize,
}

impl LineWriter {
    fn new(stream: hio::HostStream) -> Self {
        Self {
            stream,
            buf: [0; 512],
            len: 0,
        }
    }

    fn flush(&mut self) {
        if let Some(bytes) = self.buf.get(..self.len) {
            let _ = self.stream.write_all(bytes);
        }
        self.len = 0;
    }
}

impl Write for LineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}
