//! Power spectrum: microfft's f32 `rfft_512`, then block floating point to
//! integers.
//!
//! The FFT runs in f32 (the Cortex-M4F has an FPU; microfft uses plain `+`/`×`
//! with no fused multiply-add, so x86_64 and thumbv7em give identical bits).
//! Its output is scaled by one power of two per frame so that the largest
//! component lies in `[2^29, 2^30)`, converted to integers, and squared in
//! 64 bits; the power `re² + im² < 2^61` is then rounded to 31 bits.

use super::config::{FFT_BINS, FFT_LEN};

/// Components are scaled to magnitude below `2^COMPONENT_BITS`.
const COMPONENT_BITS: i32 = 30;
/// `re² + im² < 2^61`; dropping this many bits leaves a power below `2^31`.
const POWER_DROP_BITS: u32 = 30;

/// Computes the one-sided power spectrum of `buf` (overwritten by the FFT) over
/// the bins `used` (the filterbank's support); other bins are set to zero.
///
/// Only the used bins set the frame's scale: a strong component the
/// filterbank ignores (DC below `f_min`, say) must not cost the used bins their
/// precision.
///
/// Returns `shift` such that `|X[k]|² = power[k] · 2^−shift` in the units of
/// `buf`. `max_scale_exp` caps the per-frame scale `2^a` (see
/// [`super::log::LogQ`]), so that quiet frames keep the log's ε term in range.
pub fn power_spectrum(
    buf: &mut [f32; FFT_LEN],
    power: &mut [u32; FFT_BINS],
    used: core::ops::Range<usize>,
    max_scale_exp: i32,
) -> i32 {
    let spectrum = microfft::real::rfft_512(buf);
    // microfft packs the real Nyquist bin into the imaginary part of bin 0.
    let nyquist = spectrum[0].im;
    spectrum[0].im = 0.0;
    let half = used.start.min(FFT_LEN / 2)..used.end.min(FFT_LEN / 2);
    let with_nyquist = used.end == FFT_BINS;
    // |v| compared as bits: monotonic for finite floats, and no call to
    // `fmaxf` (Cortex-M4's FPU has no max instruction).
    let abs_bits = |v: f32| v.to_bits() & 0x7fff_ffff;
    let mut max_bits = spectrum[half.clone()]
        .iter()
        .fold(0, |m, c| m.max(abs_bits(c.re)).max(abs_bits(c.im)));
    if with_nyquist {
        max_bits = max_bits.max(abs_bits(nyquist));
    }
    // a = COMPONENT_BITS − 1 − floor(log2(max_abs)), read from the f32 exponent.
    let exponent = (max_bits >> 23) as i32 - 127;
    let a = if max_bits == 0 {
        max_scale_exp
    } else {
        (COMPONENT_BITS - 1 - exponent).min(max_scale_exp)
    }
    .clamp(-126, 127);
    let scale = f32::from_bits(((a + 127) as u32) << 23);
    // |v·2^a| < 2^30: the f32 → i32 conversion is exact truncation (one VCVT
    // on the M4F; going through i64 would call a soft-float routine).
    let square = |re: f32, im: f32| {
        let (re, im) = ((re * scale) as i32 as i64, (im * scale) as i32 as i64);
        let p = (re * re + im * im) as u64;
        ((p + (1 << (POWER_DROP_BITS - 1))) >> POWER_DROP_BITS) as u32
    };
    power.fill(0);
    for (p, c) in power[half.clone()].iter_mut().zip(&spectrum[half]) {
        *p = square(c.re, c.im);
    }
    if with_nyquist {
        power[FFT_BINS - 1] = square(nyquist, 0.0);
    }
    // |X|² = (|X|·2^a)² · 2^−2a = power · 2^(POWER_DROP_BITS − 2a)
    2 * a - POWER_DROP_BITS as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_naive_dft_power() {
        let mut buf = [0f32; FFT_LEN];
        for (n, b) in buf.iter_mut().enumerate().take(400) {
            *b = ((n * 7919 % 1000) as f32 - 500.0) * 1000.0;
        }
        let input = buf;
        let mut power = [0u32; FFT_BINS];
        let shift = power_spectrum(&mut buf, &mut power, 0..FFT_BINS, 60);
        let max_p = (0..FFT_BINS)
            .map(|k| naive_power(&input, k))
            .fold(0.0, f64::max);
        for (k, &p) in power.iter().enumerate() {
            let expect = naive_power(&input, k);
            let got = p as f64 * 2f64.powi(-shift);
            // Error budget: f32 FFT (~1e-6 of the largest component) plus the
            // 31-bit rounding of the power (2^-31 of the largest power).
            assert!(
                (got - expect).abs() <= 1e-5 * max_p,
                "bin {k}: {got} vs {expect}"
            );
        }
    }

    fn naive_power(x: &[f32; FFT_LEN], k: usize) -> f64 {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for (n, &v) in x.iter().enumerate() {
            let ph = -2.0 * std::f64::consts::PI * (k * n) as f64 / FFT_LEN as f64;
            re += v as f64 * ph.cos();
            im += v as f64 * ph.sin();
        }
        re * re + im * im
    }
}
