//! Tagging an embedded clip: the runtime's streaming [`Tagger`] over 16-bit
//! PCM, each event written as one line in the text format of
//! `matpac tag --format text` (without its `FILE: ` prefix):
//!
//! ```text
//! onset=0.500 offset=1.480 class=piano score=0.912
//! ```
//!
//! The QEMU binary prints these lines through semihosting; `run-qemu.sh --check`
//! requires them to equal what `matpac tag` prints on the host for the same WAV
//! and model.

use core::fmt::Write;

use matpac_runtime::Model;
use matpac_runtime::tagger::{Tagger, TaggerConfig};

use crate::line::write_line;
use crate::pcm::decode_s16le;
use crate::report::ReportError;

/// Most classes the firmware's tagger handles.
pub const MAX_CLASSES: usize = 16;
// `WINDOW_LEN` and `ARENA_LEN`: what the embedded model needs, computed by
// build.rs with the runtime (the default student: 7,840 B and 23,520 B;
// the arena budget of docs/architecture.md, "Device budgets": ≤ 32 KiB).
include!(concat!(env!("OUT_DIR"), "/sizes.rs"));
/// Samples decoded and pushed per chunk (one hop at 16 kHz, as a DMA buffer would).
pub const CHUNK: usize = 160;

/// Runs a fresh tagger (default [`TaggerConfig`]) for `model` over `pcm_le`
/// (s16le mono at the model's rate) and writes one line per event, then
/// `tags end events=<N>`. `window` needs `Tagger::window_len(model)` bytes,
/// `arena` `model.arena_len()`. Returns the number of events.
pub fn write_events<W: Write>(
    out: &mut W,
    model: &Model<'_>,
    pcm_le: &[u8],
    window: &mut [i8],
    arena: &mut [u8],
) -> Result<usize, ReportError> {
    let mut tagger =
        Tagger::<MAX_CLASSES>::new(model, TaggerConfig::for_model(model)?, window, arena)?;
    let rate = tagger.frontend_config().sample_rate;
    let mut events = 0usize;
    let mut failed = false;
    let mut chunk = [0i16; CHUNK];
    let mut on_event = |e: matpac_runtime::tagger::Event, name: &str, out: &mut W| {
        events += 1;
        failed |= write_line(out, &e, name, rate).is_err();
    };
    // The tagger borrows the model's class names; the closure needs them by index.
    let names = |class: usize| {
        model
            .metadata(matpac_runtime::metadata::CLASS_NAMES)
            .and_then(|n| matpac_runtime::metadata::list(n).nth(class))
            .unwrap_or("")
    };
    for bytes in pcm_le.chunks(2 * CHUNK) {
        let n = decode_s16le(bytes, &mut chunk);
        tagger.push(chunk.get(..n).unwrap_or(&[]), |e| {
            on_event(e, names(e.class), out)
        })?;
    }
    tagger.finish(|e| on_event(e, names(e.class), out));
    if failed {
        return Err(ReportError::Write);
    }
    writeln!(out, "tags end events={events}")?;
    Ok(events)
}
