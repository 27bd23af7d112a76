//! Fixed 2-D sin-cos position embeddings (MAE / M2D / MATPAC).
//!
//! For a grid of `n_freq × n_time` patches in frequency-major order
//! (token `f · n_time + t`), channel `c` of a `dim`-wide embedding is:
//! - `c < dim/2`: the 1-D table of the **time** index `t` (width `dim/2`),
//! - `c ≥ dim/2`: the 1-D table of the **frequency** index `f`.
//!
//! The 1-D table of width `w` at position `p` is
//! `[sin(p·ω_0) … sin(p·ω_{w/2−1}), cos(p·ω_0) … cos(p·ω_{w/2−1})]` with
//! `ω_i = 10000^(−i / (w/2))`. The reference builds its grid with
//! `meshgrid(grid_w, grid_h)` and encodes `grid[0]` (time) first; this
//! module reproduces that order. The CLS row, when asked for, is all zeros.

/// The 1-D sin-cos table entry for position `pos`, width `w` (even), channel `c`.
pub fn sincos_1d(w: usize, pos: f64, c: usize) -> f64 {
    let half = w / 2;
    let (i, sin) = if c < half {
        (c, true)
    } else {
        (c - half, false)
    };
    let omega = 1.0 / 10000f64.powf(i as f64 / half as f64);
    if sin {
        (pos * omega).sin()
    } else {
        (pos * omega).cos()
    }
}

/// Row-major `[(cls as usize) + n_freq·n_time, dim]` table, computed in f64.
///
/// # Panics
/// If `dim` is not a multiple of 4 (each half needs an even width).
pub fn sincos_2d(dim: usize, n_freq: usize, n_time: usize, cls: bool) -> Vec<f32> {
    assert!(
        dim.is_multiple_of(4),
        "sin-cos embedding width {dim} must be a multiple of 4"
    );
    let half = dim / 2;
    let mut out = Vec::with_capacity((n_freq * n_time + cls as usize) * dim);
    if cls {
        out.extend(std::iter::repeat_n(0.0f32, dim));
    }
    for f in 0..n_freq {
        for t in 0..n_time {
            for c in 0..half {
                out.push(sincos_1d(half, t as f64, c) as f32);
            }
            for c in 0..half {
                out.push(sincos_1d(half, f as f64, c) as f32);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f32 rounding of values in [-1, 1].
    const MAX_ERROR: f32 = 1e-7;

    #[test]
    fn table_matches_formula() {
        let (dim, nf, nt) = (16, 5, 38);
        let table = sincos_2d(dim, nf, nt, true);
        assert_eq!(table.len(), (1 + nf * nt) * dim);
        assert!(
            table[..dim].iter().all(|&x| x == 0.0),
            "CLS row must be zero"
        );
        // Spot values written out by hand from the formula (dim 16: two 8-wide halves,
        // 4 frequencies each, ω = 1, 0.1, 0.01, 0.001).
        let omegas = [1.0f64, 0.1, 0.01, 0.001];
        for (f, t) in [(0usize, 0usize), (0, 1), (2, 7), (4, 37)] {
            let row = &table[(1 + f * nt + t) * dim..][..dim];
            for (i, &w) in omegas.iter().enumerate() {
                let expect = [
                    (i, (t as f64 * w).sin()),
                    (4 + i, (t as f64 * w).cos()),
                    (8 + i, (f as f64 * w).sin()),
                    (12 + i, (f as f64 * w).cos()),
                ];
                for (c, v) in expect {
                    assert!(
                        (row[c] - v as f32).abs() <= MAX_ERROR,
                        "f={f} t={t} c={c}: {} vs {v}",
                        row[c]
                    );
                }
            }
        }
    }

    #[test]
    fn paper_width_first_half_is_time() {
        let table = sincos_2d(768, 5, 38, false);
        // Token (f=3, t=0): time half is sin(0)=0 / cos(0)=1; frequency half is not.
        let row = &table[3 * 38 * 768..][..768];
        assert!(row[..192].iter().all(|&x| x == 0.0));
        assert!(row[192..384].iter().all(|&x| x == 1.0));
        assert!((row[384] - 3f32.sin()).abs() <= MAX_ERROR);
    }
}
