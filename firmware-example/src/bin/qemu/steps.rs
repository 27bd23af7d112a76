//! Instructions per layer (`bench step` lines): one window run again with SysTick
//! read after every step, and each step's kind and multiply-accumulates.

use core::fmt::{self, Write};

use cortex_m::peripheral::SYST;
use matpac_runtime::Model;
use matpac_runtime::engine::Interpreter;

use crate::timer::{INSTR_PER_TICK, SYSTICK_MASK};
use crate::writer::write_error;

/// Runs `window` through `engine` with SysTick read after every step and writes one
/// `bench step <i> <kind> macs=<MACs> instr=<instructions>[ instr_per_mac=<x.y>]`
/// line per step of `model`.
pub fn write_step_bench<W: Write>(
    out: &mut W,
    model: &Model<'_>,
    engine: &mut Interpreter<'_, '_, '_>,
    window: &[i8],
    scores: &mut [f32],
) -> Result<(), ()> {
    let mut step_ticks = [0u32; 64];
    let mut last = SYST::get_current();
    let r = engine.run_quantized_observed(window, scores, |i, _| {
        let now = SYST::get_current();
        if let Some(slot) = step_ticks.get_mut(i) {
            *slot = last.wrapping_sub(now) & SYSTICK_MASK;
        }
        last = SYST::get_current();
    });
    if let Err(e) = r {
        write_error(out, &e);
        return Err(());
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
    Ok(())
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
