//! `matpac soak MODEL.onnx --clip FILE --hours 24`: the long-run reliability
//! check. One host [`Tagger`] (the firmware's code) listens to `--hours` of
//! audio, faster than real time: the clip, then `--gap` seconds of silence,
//! over and over. From the second repetition on, the tagger is in the same
//! state at the start of every repetition (the first one starts from an empty
//! window), so each must give the same events, shifted by the repetition's
//! start (an event still open at the end of one repetition is reported in
//! the next, with a negative relative onset). The check compares every
//! repetition with the second (sample offsets are `u64`, so nothing wraps)
//! and the process's resident memory before and after (the tagger allocates
//! nothing after construction).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use matpac_runtime::Model;
use matpac_runtime::tagger::{Event, Tagger, TaggerConfig};

use crate::audio::{load_audio, to_pcm_i16};

/// Most classes the soak tagger handles.
const MAX_CLASSES: usize = 256;

/// Arguments of `matpac soak`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The exported tagger.
    pub model: PathBuf,
    /// Clip repeated for the whole run.
    #[arg(long)]
    pub clip: PathBuf,
    /// Hours of audio to stream.
    #[arg(long, default_value_t = 24.0)]
    pub hours: f64,
    /// Seconds of silence after each repetition (longer than a window plus smoothing).
    #[arg(long, default_value_t = 3.0)]
    pub gap: f64,
}

/// Resident set size of this process, bytes (Linux `/proc/self/statm`; 0 elsewhere).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Events of one repetition, times in samples relative to its start.
fn relative(events: &[Event], start: u64) -> Vec<(i64, i64, usize, u32)> {
    let rel = |t: u64| t as i64 - start as i64;
    events
        .iter()
        .map(|e| (rel(e.onset), rel(e.offset), e.class, e.score.to_bits()))
        .collect()
}

/// Streams, checks, reports.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.hours > 0.0 && args.gap >= 0.0) {
        bail!("--hours must be > 0 and --gap ≥ 0");
    }
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("{}: cannot read model", args.model.display()))?;
    let model = Model::parse(&bytes).map_err(|e| anyhow!("{}: {e}", args.model.display()))?;
    let mut window = vec![0i8; Tagger::<MAX_CLASSES>::window_len(&model)];
    let mut arena = vec![0u8; model.arena_len()];
    let mut tagger = TaggerConfig::for_model(&model)
        .and_then(|config| Tagger::<MAX_CLASSES>::new(&model, config, &mut window, &mut arena))
        .map_err(|e| anyhow!("{}: {e}", args.model.display()))?;
    let rate = tagger.frontend_config().sample_rate;
    let mut pcm = to_pcm_i16(&load_audio(&args.clip, rate)?);
    pcm.resize(pcm.len() + (args.gap * f64::from(rate)) as usize, 0);
    let per_rep = pcm.len() as u64;
    let total = (args.hours * 3600.0 * f64::from(rate)) as u64;
    let reps = total.div_ceil(per_rep).max(3);
    report_soak(&mut tagger, &pcm, reps, rate, &args.clip)
}

fn report_soak(
    tagger: &mut Tagger<'_, '_, '_, MAX_CLASSES>,
    pcm: &[i16],
    reps: u64,
    rate: u32,
    clip: &Path,
) -> anyhow::Result<()> {
    let per_rep = pcm.len() as u64;
    let bar = crate::progress::bar(
        reps,
        true,
        "{bar:30} {pos}/{len} repetitions [{elapsed_precise}<{eta_precise}] {msg}",
    );
    let t0 = Instant::now();
    let mut second = Vec::new();
    let mut events = Vec::new();
    let mut rss_early = 0;
    let mut total_events = 0u64;
    for rep in 0..reps {
        events.clear();
        tagger
            .push(pcm, |e| events.push(e))
            .map_err(|e| anyhow!("repetition {rep}: {e}"))?;
        total_events += events.len() as u64;
        let rel = relative(&events, rep * per_rep);
        if rep == 1 {
            second = rel;
            rss_early = rss_bytes();
        } else if rep > 1 && rel != second {
            bail!(
                "repetition {rep} (at {:.1} h) gave other events than the second:\n  second {second:?}\n  now    {rel:?}",
                (rep * per_rep) as f64 / f64::from(rate) / 3600.0
            );
        }
        bar.inc(1);
        bar.set_message(format!("{total_events} events"));
    }
    bar.finish();
    let audio_s = (reps * per_rep) as f64 / f64::from(rate);
    let wall = t0.elapsed().as_secs_f64();
    let rss_end = rss_bytes();
    println!(
        "soak: {:.2} h of audio ({reps} × {} + silence) in {:.0} s ({:.0}× real time); {} events, every repetition from the second on identical ({} events each); resident memory {:.1} MiB after two repetitions, {:.1} MiB at the end",
        audio_s / 3600.0,
        clip.display(),
        wall,
        audio_s / wall,
        total_events,
        second.len(),
        rss_early as f64 / (1 << 20) as f64,
        rss_end as f64 / (1 << 20) as f64
    );
    if rss_end > rss_early + (1 << 20) {
        bail!("resident memory grew by more than 1 MiB during the run");
    }
    Ok(())
}
