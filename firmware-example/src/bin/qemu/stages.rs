//! The front end's cost per stage (`bench stage_instr`): window, FFT, power, mel and
//! log timed apart over frames of the embedded clip.

use core::fmt::{self, Write};
use core::hint::black_box;

use matpac_runtime::frontend::FrontendConfig;

use crate::timer::{INSTR_PER_TICK, ticks};

/// Frames timed per stage (spread over the clip).
const STAGE_FRAMES: usize = 16;

/// Instructions per stage of one frame, averaged over [`STAGE_FRAMES`] frames of the
/// clip. Mirrors `Frontend::compute_frame` with the runtime's public stage types (bench
/// only; the report above uses `Frontend` itself).
pub fn write_stage_bench<W: Write>(out: &mut W) -> fmt::Result {
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
    let frames = config.n_frames(crate::CLIP.len() / 2);
    let mut t = [0u32; 5]; // window, rfft_512 alone, fft+power, mel, log
    for k in 0..STAGE_FRAMES {
        let start = (k * frames / STAGE_FRAMES) * config.hop_length * 2;
        let bytes = crate::CLIP
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
