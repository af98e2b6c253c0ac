//! A base's weight matrices as they run: candle's quantized matmul for every stored type,
//! with Q4_1 rewritten at load so that it runs through the fast Q4_0 kernel.
//!
//! candle has SIMD kernels for Q4_0 and Q8_0 but only scalar code for Q4_1 (78% of a
//! SmolLM2 decode in `perf`). A Q4_1 block is `w = d·q + m` (q in 0..16); as Q4_0 it is
//! `w = d·(q − 8) + o` with the per-block offset `o = m + 8d`. So
//!
//! ```text
//! W·x = Q4_0(d, q)·x + O·s(x)      s(x)_b = Σ_{i in block b} x̂_i
//! ```
//!
//! where `O` is `[rows, blocks]` and `x̂` is `x` as the kernel quantizes it (Q8_0, the same
//! scale and rounding as the Q8_1 that llama.cpp's Q4_1 kernel uses). The `8d·s` part of the
//! offset term cancels the `−8` of the Q4_0 form; the `m·s` part is llama.cpp's own term,
//! with `s` rounded to F16 as its Q8_1 blocks store it. The integer dot products are the
//! same as llama.cpp's: the result differs from llama.cpp's only in float rounding.

use std::cell::OnceCell;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{D, DType, Device, Module, Tensor};

use crate::error::Result;

/// Values per Q4_0/Q4_1/Q8_0 block.
const BLOCK: usize = 32;
/// Bytes of a Q4_1 block (`d`, `m` as F16, 16 bytes of nibbles) and of a Q4_0 block.
const Q4_1_BYTES: usize = 20;
const Q4_0_BYTES: usize = 18;

/// One weight matrix `[out, in]`, applied as `x · Wᵀ`.
pub(super) enum Linear {
    /// Run by candle as stored.
    Plain(QMatMul),
    /// A Q4_1 matrix run as Q4_0 plus per-block terms: `8d` and `m`, each `[out, in / 32]`.
    Q4_1 {
        q4_0: QMatMul,
        eight_d: Tensor,
        m: Tensor,
    },
}

impl Linear {
    /// The matrix `t` on `device` (`t` is on the CPU, as read from the file).
    pub(super) fn new(t: QTensor, device: &Device) -> Result<Self> {
        if t.dtype() != GgmlDType::Q4_1 {
            let t = super::to_device(t, device)?;
            return Ok(Self::Plain(QMatMul::from_qtensor(t)?));
        }
        let (rows, cols) = t.shape().dims2()?;
        let blocks = cols / BLOCK;
        let data = t.data()?;
        let mut q4_0 = Vec::with_capacity(data.len() / Q4_1_BYTES * Q4_0_BYTES);
        let (mut d, mut m) = (Vec::with_capacity(blocks * rows * 2), Vec::new());
        for block in data.chunks_exact(Q4_1_BYTES) {
            q4_0.extend_from_slice(&block[..2]);
            q4_0.extend_from_slice(&block[4..]);
            d.extend_from_slice(&block[..2]);
            m.extend_from_slice(&block[2..4]);
        }
        let as_q4_0 = candle_core::quantized::ggml_file::qtensor_from_ggml(
            GgmlDType::Q4_0,
            &q4_0,
            vec![rows, cols],
            device,
        )?;
        let f16_table = |bytes: &[u8]| -> Result<Tensor> {
            Ok(
                Tensor::from_raw_buffer(bytes, DType::F16, &[rows, blocks], &Device::Cpu)?
                    .to_dtype(DType::F32)?
                    .to_device(device)?,
            )
        };
        Ok(Self::Q4_1 {
            q4_0: QMatMul::from_qtensor(as_q4_0)?,
            eight_d: (f16_table(&d)? * 8.0)?,
            m: f16_table(&m)?,
        })
    }

    /// `x · Wᵀ` for the input's `x` of shape `[.., in]`.
    pub(super) fn forward(&self, input: &LinearInput<'_>) -> Result<Tensor> {
        match self {
            Self::Plain(m) => Ok(m.forward(input.x)?),
            Self::Q4_1 { q4_0, eight_d, m } => {
                let y = q4_0.forward(input.x)?;
                let (sums, rounded) = input.block_sums()?;
                let offset = (sums.matmul(&eight_d.t()?)? + rounded.matmul(&m.t()?)?)?;
                let offset = offset.reshape(y.shape())?;
                Ok((y + offset)?)
            }
        }
    }
}

/// The input of one or more matrices, with the Q8 block sums the Q4_1 offset term needs,
/// computed once for every matrix that reads the same input (q, k and v; gate and up).
pub(super) struct LinearInput<'a> {
    x: &'a Tensor,
    sums: OnceCell<(Tensor, Tensor)>,
}

impl<'a> LinearInput<'a> {
    /// `x`, shaped `[.., in]`.
    pub(super) fn new(x: &'a Tensor) -> Self {
        Self {
            x,
            sums: OnceCell::new(),
        }
    }

    /// `s(x)` `[rows, in / 32]` as the kernel quantizes `x` (Q8_0), and the same rounded to
    /// F16 as llama.cpp's Q8_1 blocks store it for their `m·s` term.
    fn block_sums(&self) -> Result<&(Tensor, Tensor)> {
        if let Some(sums) = self.sums.get() {
            return Ok(sums);
        }
        let cols = self.x.dim(D::Minus1)?;
        let rows = self.x.elem_count() / cols;
        let flat = self.x.reshape((rows, cols))?.to_device(&Device::Cpu)?;
        let quantized = QTensor::quantize(&flat, GgmlDType::Q8_0)?.dequantize(self.x.device())?;
        let sums = quantized
            .reshape((rows, cols / BLOCK, BLOCK))?
            .sum(D::Minus1)?;
        let rounded = sums.to_dtype(DType::F16)?.to_dtype(DType::F32)?;
        Ok(self.sums.get_or_init(|| (sums, rounded)))
    }
}
