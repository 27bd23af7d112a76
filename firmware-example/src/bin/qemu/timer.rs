//! SysTick as an instruction counter (`-icount shift=0`: one instruction per virtual
//! ns, so the 25 MHz SysTick ticks once per 40 instructions): the per-frame timer of
//! the front-end report and the timing of any closure.

use core::fmt::{self, Write};

use cortex_m::peripheral::SYST;
use matpac_firmware_example::report::FrameTimer;

/// SysTick is a 24-bit down-counter.
pub const SYSTICK_MASK: u32 = 0x00FF_FFFF;
/// 1 ns per instruction (`-icount shift=0`) at a 25 MHz SysTick clock (40 ns per tick).
pub const INSTR_PER_TICK: u32 = 40;
/// Per-frame counts kept for the `bench ticks` lines (the clip has 398 frames).
const MAX_FRAMES: usize = 512;
/// Counts per `bench ticks` line.
const TICKS_PER_LINE: usize = 20;

/// Elapsed SysTick ticks of `f` (down-counter, mod 2^24).
#[inline(always)]
pub fn ticks<R>(f: impl FnOnce() -> R) -> (u32, R) {
    let start = SYST::get_current();
    let r = f();
    (start.wrapping_sub(SYST::get_current()) & SYSTICK_MASK, r)
}

/// Accumulates SysTick ticks over `Frontend::process` calls and assigns them to the
/// frame that the last call completed (a frame's count includes the calls that only
/// buffered samples for it).
pub struct SysTickTimer {
    started: u32,
    pending: u32,
    frames: usize,
    ticks: [u32; MAX_FRAMES],
    total: u64,
}

impl SysTickTimer {
    /// No frames timed yet.
    pub fn new() -> Self {
        Self {
            started: 0,
            pending: 0,
            frames: 0,
            ticks: [0; MAX_FRAMES],
            total: 0,
        }
    }

    /// Writes the `bench ticks` lines (per frame) and the `bench frames=` summary.
    pub fn write_bench<W: Write>(&self, out: &mut W) -> fmt::Result {
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
