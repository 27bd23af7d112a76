//! The scratch layouts the convolution kernels work in, and their sizes:
//! [`PhasePlanes`] (one input channel per group: depthwise layers, a
//! one-channel stem) and [`PixelPairs`] (the Cortex-M4 pairs path). The
//! lowering plans each layer's scratch in the arena from them
//! (`model::lower`); the ops fill and read it.

use crate::model::program::ConvGeometry;

/// Most bytes of packed pixels in [`PixelPairs`] scratch of a pointwise
/// layer (its input repacked: the more pixels per band, the fewer times each
/// filter pair is packed); layers with more run in bands of pixels.
pub const PAIR_BYTES: usize = 8192;

/// Most bytes of packed pixels in [`PixelPairs`] scratch of any other
/// convolution (gathered windows, which can outgrow the input many times:
/// a 5×5 stem's are 25 bytes per output pixel).
pub const WINDOW_PAIR_BYTES: usize = 2048;

/// A convolution with at least two output channels per group, its output
/// pixels' input windows (`C/group · kH · kW` bytes, in weight order)
/// packed for dot products of two pixels with two filters at once (the
/// Cortex-M4 path, as CMSIS-NN's kernels on channels-last data): a band of
/// pixels in pairs, each pair's windows in blocks of four bytes, eight bytes
/// per block (the four of the first pixel, then the same four of the second),
/// window bytes padded to a multiple of four. After the pixels, `2 · window`
/// bytes hold the filter pair being run, packed the same way with zeros in
/// the padding. For pointwise layers the window is a pixel's channels. The
/// scratch lives in the arena, planned for its one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelPairs {
    /// Window bytes (`C/group · kH · kW`) rounded up to a multiple of 4.
    pub window: usize,
    /// Pixels per band (even; all of them, rounded up, when they fit
    /// [`PAIR_BYTES`] or [`WINDOW_PAIR_BYTES`]; at least 2).
    pub pixels: usize,
}

impl PixelPairs {
    /// The packing of `geo`, if it has at least two output channels per group.
    pub fn of(geo: &ConvGeometry) -> Option<Self> {
        let group = geo.group;
        if group == 0 || geo.out_chw[0] / group < 2 || !geo.in_chw[0].is_multiple_of(group) {
            return None;
        }
        let [kh, kw] = geo.kernel;
        let window = (geo.in_chw[0] / group)
            .checked_mul(kh)?
            .checked_mul(kw)?
            .checked_next_multiple_of(4)?;
        if window == 0 {
            return None;
        }
        let cap = if geo.is_pointwise() {
            PAIR_BYTES
        } else {
            WINDOW_PAIR_BYTES
        };
        let pixels = geo.out_chw[1].checked_mul(geo.out_chw[2])?;
        Some(Self {
            window,
            pixels: pixels
                .checked_next_multiple_of(2)?
                .min((cap / window) & !1)
                .max(2),
        })
    }

    /// Bytes of the packed pixels and the filter pair.
    pub fn len(&self) -> usize {
        self.pixels.saturating_add(2).saturating_mul(self.window)
    }

    /// Whether the packing holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Most kernel taps (`kH · kW`) a convolution runs through [`PhasePlanes`].
pub const PLANE_TAPS: usize = 25;

/// Most bytes of [`PhasePlanes`] scratch: planes taller than this are filled
/// and used in bands of output rows.
pub const PLANE_BYTES: usize = 2048;

/// Bytes past the last phase plane's row of slack (a run of outputs rounded
/// up to a whole block of four).
pub const PLANE_SLACK: usize = 3;

/// One input channel of a convolution with one input channel per group
/// (depthwise layers, and a stem on a one-channel spectrogram), no dilation, at
/// most [`PLANE_TAPS`] taps: a band of its rows, padded with the input zero
/// point and split by stride phase. Padded pixel `(y, x)` of the band lies in
/// phase plane `(y mod sy, x mod sx)` at `(y / sy, x / sx)`; output `(oy, ox)`
/// of the band then reads tap `(ky, kx)` at phase `(ky mod sy, kx mod sx)`,
/// position `(oy + ky / sy, ox + kx / sx)`: each tap is one fixed offset from
/// `oy · wq + ox`, so consecutive outputs read consecutive bytes for any
/// stride. The planes live in the arena, planned for their one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhasePlanes {
    /// Output rows per band (all of them when the whole plane fits [`PLANE_BYTES`]).
    pub rows: usize,
    /// Height of one phase plane: `rows − 1 + ⌈kH / sy⌉`.
    pub hq: usize,
    /// Width of one phase plane: `⌈Wp / sx⌉` of the padded input.
    pub wq: usize,
    /// Phases (`sy · sx`).
    pub phases: usize,
}

impl PhasePlanes {
    /// The planes of `geo`, if it is a convolution they serve.
    pub fn of(geo: &ConvGeometry) -> Option<Self> {
        let [c, _, w] = geo.in_chw;
        let [m, oh, _] = geo.out_chw;
        let [kh, kw] = geo.kernel;
        let [sy, sx] = geo.stride;
        let one_input_per_group = geo.group == c && c > 0 && m % c == 0 && m > 0;
        if !one_input_per_group || geo.dilation != [1, 1] || sy == 0 || sx == 0 || oh == 0 {
            return None;
        }
        if kh == 0 || kh.checked_mul(kw)? > PLANE_TAPS {
            return None;
        }
        let wp = w.checked_add(geo.pads[1])?.checked_add(geo.pads[3])?;
        let band = |rows: usize| {
            Some(Self {
                rows,
                hq: (rows - 1).checked_add(kh.div_ceil(sy))?,
                wq: wp.div_ceil(sx),
                phases: sy.checked_mul(sx)?,
            })
        };
        // The most output rows whose planes fit PLANE_BYTES (at least one).
        let mut rows = oh;
        while rows > 1 && band(rows)?.len() > PLANE_BYTES {
            rows -= 1;
        }
        band(rows)
    }

    /// Bytes of all phase planes, plus one row (`wq`) and [`PLANE_SLACK`]
    /// bytes of slack: outputs are computed in runs over phase-plane rows
    /// (the columns past the output width are dropped), the last of which
    /// reads up to `(kW − 1) / sx` bytes past the last plane, and up to three
    /// more where the Cortex-M4 kernel rounds a run up to whole words.
    pub fn len(&self) -> usize {
        self.phases
            .saturating_mul(self.hq)
            .saturating_mul(self.wq)
            .saturating_add(self.wq)
            .saturating_add(PLANE_SLACK)
    }

    /// Whether the planes hold no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
