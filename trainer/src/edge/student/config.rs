//! The student's architecture: presets, the geometry of every layer, and the
//! parameter, MAC and arena estimates derived from it.

use serde::{Deserialize, Serialize};

/// One depthwise-separable block: its output channels and the depthwise stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockConfig {
    /// Pointwise output channels.
    pub channels: usize,
    /// Depthwise stride (time, mel).
    pub stride: [usize; 2],
}

/// Student architecture (plain data; [`StudentConfig::init`] builds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StudentConfig {
    /// Frames per window (H).
    pub n_frames: usize,
    /// Mel bands (W).
    pub n_mels: usize,
    /// Stem output channels.
    pub stem_channels: usize,
    /// Stem kernel (time, mel); odd sizes, padded by half on each side.
    pub stem_kernel: [usize; 2],
    /// Stem stride (time, mel).
    pub stem_stride: [usize; 2],
    /// Depthwise kernel (odd, square).
    pub dw_kernel: usize,
    /// The depthwise-separable blocks.
    pub blocks: Vec<BlockConfig>,
    /// Head outputs (classes, or the embedding projection's width).
    pub n_outputs: usize,
    /// BatchNorm after every convolution (folded before quantisation).
    pub batch_norm: bool,
}

impl Default for StudentConfig {
    /// ≈ 32 k parameters, ≈ 2.4 M MACs, ≈ 23 KB int8 arena for 98 × 80 input.
    fn default() -> Self {
        let b = |channels, s| BlockConfig {
            channels,
            stride: [s, s],
        };
        Self {
            n_frames: 98,
            n_mels: 80,
            stem_channels: 16,
            stem_kernel: [5, 5],
            stem_stride: [2, 4],
            dw_kernel: 3,
            blocks: vec![b(32, 2), b(64, 2), b(128, 1), b(128, 1)],
            n_outputs: 15,
            batch_norm: true,
        }
    }
}

impl StudentConfig {
    /// A very small student for tests (same code path).
    pub fn tiny(n_outputs: usize) -> Self {
        let b = |channels, s| BlockConfig {
            channels,
            stride: [s, s],
        };
        Self {
            stem_channels: 4,
            blocks: vec![b(8, 2), b(16, 2)],
            n_outputs,
            ..Self::default()
        }
    }

    /// Checks the geometry (odd kernels, positive sizes, non-empty output).
    pub fn validate(&self) -> Result<(), String> {
        let odd = |k: usize| k % 2 == 1;
        if !(odd(self.stem_kernel[0]) && odd(self.stem_kernel[1]) && odd(self.dw_kernel)) {
            return Err("kernels must have odd sizes".into());
        }
        if self.stem_channels == 0
            || self.n_outputs == 0
            || self.blocks.iter().any(|b| b.channels == 0)
        {
            return Err("channel counts must be positive".into());
        }
        if self.stem_stride.contains(&0) || self.blocks.iter().any(|b| b.stride.contains(&0)) {
            return Err("strides must be positive".into());
        }
        if self.n_frames == 0 || self.n_mels == 0 {
            return Err("input must be non-empty".into());
        }
        Ok(())
    }

    /// Every convolution's geometry, in order (stem, then dw/pw per block).
    pub fn conv_geometry(&self) -> Vec<ConvGeom> {
        let mut out = Vec::new();
        let stem = ConvGeom::new(
            "stem",
            [1, self.n_frames, self.n_mels],
            self.stem_channels,
            self.stem_kernel,
            self.stem_stride,
            1,
        );
        let mut chw = stem.out_chw;
        out.push(stem);
        let k = self.dw_kernel;
        for (i, b) in self.blocks.iter().enumerate() {
            let dw = ConvGeom::new(
                &format!("block{i}.dw"),
                chw,
                chw[0],
                [k, k],
                b.stride,
                chw[0],
            );
            let pw = ConvGeom::new(
                &format!("block{i}.pw"),
                dw.out_chw,
                b.channels,
                [1, 1],
                [1, 1],
                1,
            );
            chw = pw.out_chw;
            out.push(dw);
            out.push(pw);
        }
        out
    }

    /// Channels of the pooled embedding.
    pub fn embedding_dim(&self) -> usize {
        self.blocks
            .last()
            .map_or(self.stem_channels, |b| b.channels)
    }

    /// Parameters, MACs and activation sizes (see [`StudentStats`]).
    pub fn stats(&self) -> StudentStats {
        let convs = self.conv_geometry();
        let in_bytes = self.n_frames * self.n_mels;
        let mut layers: Vec<LayerStats> = convs
            .iter()
            .map(|g| LayerStats {
                name: g.name.clone(),
                out_shape: g.out_chw.to_vec(),
                params: g.weights() + g.out_chw[0],
                macs: g.macs(),
                out_bytes: g.out_len(),
            })
            .collect();
        let c = self.embedding_dim();
        layers.push(LayerStats {
            name: "pool".into(),
            out_shape: vec![c],
            params: 0,
            macs: 0,
            out_bytes: c,
        });
        layers.push(LayerStats {
            name: "head".into(),
            out_shape: vec![self.n_outputs],
            params: c * self.n_outputs + self.n_outputs,
            macs: c * self.n_outputs,
            out_bytes: self.n_outputs,
        });
        // A step's input and output are alive together; nothing else is
        // (straight chain), so the arena is the largest adjacent pair.
        let mut prev = in_bytes;
        let mut arena = 0;
        for l in &layers {
            arena = arena.max(prev + l.out_bytes);
            prev = l.out_bytes;
        }
        StudentStats {
            params: layers.iter().map(|l| l.params).sum(),
            macs: layers.iter().map(|l| l.macs).sum(),
            input_bytes: in_bytes,
            arena_estimate: arena,
            layers,
        }
    }
}

/// The geometry of one convolution (NCHW, batch 1, symmetric padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvGeom {
    /// Layer name (`stem`, `block0.dw`, …).
    pub name: String,
    /// Input channels, height, width.
    pub in_chw: [usize; 3],
    /// Output channels, height, width.
    pub out_chw: [usize; 3],
    /// Kernel (h, w).
    pub kernel: [usize; 2],
    /// Stride (h, w).
    pub stride: [usize; 2],
    /// Padding on each side (h, w) = kernel / 2.
    pub pads: [usize; 2],
    /// Groups (input channels for depthwise).
    pub group: usize,
}

impl ConvGeom {
    fn new(
        name: &str,
        in_chw: [usize; 3],
        out_c: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        group: usize,
    ) -> Self {
        let pads = [kernel[0] / 2, kernel[1] / 2];
        let out = |i: usize| (in_chw[i + 1] + 2 * pads[i] - kernel[i]) / stride[i] + 1;
        Self {
            name: name.into(),
            in_chw,
            out_chw: [out_c, out(0), out(1)],
            kernel,
            stride,
            pads,
            group,
        }
    }

    /// Weight count `M · C/group · kH · kW`.
    pub fn weights(&self) -> usize {
        self.out_chw[0] * self.in_chw[0] / self.group * self.kernel[0] * self.kernel[1]
    }

    /// Multiply-accumulates: one per weight per output position.
    pub fn macs(&self) -> usize {
        self.weights() * self.out_chw[1] * self.out_chw[2]
    }

    /// Output elements.
    pub fn out_len(&self) -> usize {
        self.out_chw.iter().product()
    }
}

/// One layer's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerStats {
    /// Name.
    pub name: String,
    /// Output shape (C, H, W for convolutions).
    pub out_shape: Vec<usize>,
    /// Parameters after BatchNorm folding (weights + bias).
    pub params: usize,
    /// Multiply-accumulates per window.
    pub macs: usize,
    /// Output bytes in int8.
    pub out_bytes: usize,
}

/// Size of a student per window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StudentStats {
    /// Parameters after BatchNorm folding.
    pub params: usize,
    /// Multiply-accumulates per window.
    pub macs: usize,
    /// int8 input window bytes.
    pub input_bytes: usize,
    /// Activation arena in int8 bytes, if the runtime's planner packs the
    /// chain perfectly (the exported model's `arena_len()` is the real figure).
    pub arena_estimate: usize,
    /// Per layer.
    pub layers: Vec<LayerStats>,
}

impl std::fmt::Display for StudentStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<12} {:>16} {:>8} {:>10} {:>8}",
            "layer", "output", "params", "MACs", "bytes"
        )?;
        for l in &self.layers {
            let shape = l
                .out_shape
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("×");
            writeln!(
                f,
                "{:<12} {:>16} {:>8} {:>10} {:>8}",
                l.name, shape, l.params, l.macs, l.out_bytes
            )?;
        }
        write!(
            f,
            "total: {} params, {} MACs/window, int8 arena ≈ {} B (input {} B)",
            self.params, self.macs, self.arena_estimate, self.input_bytes
        )
    }
}
