//! Tagging the embedded scene: the event lines (as `matpac tag` prints them), then one
//! inference window timed alone (`bench window_instr=`) with its own stack, and per
//! layer ([`crate::steps`]).

use core::fmt::Write;

use matpac_firmware_example::pcm::wav_pcm16_mono;
use matpac_firmware_example::tags::{ARENA_LEN, MAX_CLASSES, WINDOW_LEN, write_events};
use matpac_runtime::Model;
use matpac_runtime::engine::Interpreter;

use crate::stack::{repaint_stack_below_sp, stack_high_water};
use crate::steps::write_step_bench;
use crate::timer::{INSTR_PER_TICK, ticks};
use crate::writer::write_error;

/// Tags [`crate::SCENE`] with [`crate::MODEL`] (event lines as `matpac tag` prints them), then
/// times one inference window alone: `bench window_instr=<instructions>`.
pub fn tag_scene<W: Write>(out: &mut W) -> Result<(), ()> {
    let model = match Model::parse(crate::MODEL) {
        Ok(m) => m,
        Err(e) => {
            write_error(out, &e);
            return Err(());
        }
    };
    let Some((rate, pcm)) = wav_pcm16_mono(crate::SCENE) else {
        write_error(out, &"scene: not a 16-bit mono WAV");
        return Err(());
    };
    let (window_len, arena_len) = (model.input_len(), model.arena_len());
    if window_len > WINDOW_LEN || arena_len > ARENA_LEN {
        write_error(out, &(window_len, arena_len));
        return Err(());
    }
    writeln!(
        out,
        "tags model_bytes={} arena={arena_len} window={window_len} sample_rate={rate} samples={} model_struct_bytes={} tagger_struct_bytes={}",
        crate::MODEL.len(),
        pcm.len() / 2,
        core::mem::size_of::<Model<'static>>(),
        core::mem::size_of::<matpac_runtime::tagger::Tagger<'static, 'static, 'static, { MAX_CLASSES }>>()
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
        write_error(out, &e);
        return Err(());
    }
    // The window now holds the clip's last features: time one inference on it.
    let mut scores = [0f32; MAX_CLASSES];
    let n = model.output_len().min(scores.len());
    let mut engine = match Interpreter::new(&model, &mut arena[..arena_len]) {
        Ok(e) => e,
        Err(e) => {
            write_error(out, &e);
            return Err(());
        }
    };
    let used_before = stack_high_water();
    let below = repaint_stack_below_sp();
    let (t, r) = ticks(|| engine.run_quantized(&window[..window_len], &mut scores[..n]));
    if let Err(e) = r {
        write_error(out, &e);
        return Err(());
    }
    let inference_stack = stack_high_water().saturating_sub(below);
    write_step_bench(
        out,
        &model,
        &mut engine,
        &window[..window_len],
        &mut scores[..n],
    )?;
    writeln!(
        out,
        "bench window_instr={} stack_used_bytes={} inference_stack_bytes={inference_stack}",
        u64::from(t) * u64::from(INSTR_PER_TICK),
        used_before.max(stack_high_water())
    )
    .map_err(|_| ())
}
