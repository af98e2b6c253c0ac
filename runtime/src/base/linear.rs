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
//! scale and rounding as the Q8_1 that llama.cpp's Q4_1 kernel uses). The integer dot
//! products are the same as llama.cpp's, and the offset term is its `m·s` term: the result
//! differs from llama.cpp's only in float rounding.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{D, Device, Module, Tensor};

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
    /// A Q4_1 matrix run as Q4_0 plus per-block offsets `[out, in / 32]`.
    Q4_1 { q4_0: QMatMul, offsets: Tensor },
}

impl Linear {
    /// The matrix `t` on `device` (`t` is on the CPU, as read from the file).
    pub(super) fn new(t: QTensor, device: &Device) -> Result<Self> {
        if t.dtype() != GgmlDType::Q4_1 {
            let t = super::to_device(t, device)?;
            return Ok(Self::Plain(QMatMul::from_qtensor(t)?));
        }
        let (rows, cols) = t.shape().dims2()?;
        let data = t.data()?;
        let mut q4_0 = Vec::with_capacity(data.len() / Q4_1_BYTES * Q4_0_BYTES);
        for block in data.chunks_exact(Q4_1_BYTES) {
            q4_0.extend_from_slice(&block[..2]);
            q4_0.extend_from_slice(&block[4..]);
        }
        let as_q4_0 = candle_core::quantized::ggml_file::qtensor_from_ggml(
            GgmlDType::Q4_0,
            &q4_0,
            vec![rows, cols],
            &Device::Cpu,
        )?;
        // o = m + 8d, read as the difference of the two dequantized forms at each block's
        // first value.
        let blocks = cols / BLOCK;
        let first = |q: &QTensor| -> Result<Tensor> {
            Ok(q.dequantize(&Device::Cpu)?
                .reshape((rows, blocks, BLOCK))?
                .narrow(2, 0, 1)?
                .squeeze(2)?)
        };
        let offsets = (first(&t)? - first(&as_q4_0)?)?.to_device(device)?;
        let as_q4_0 = super::to_device(as_q4_0, device)?;
        Ok(Self::Q4_1 {
            q4_0: QMatMul::from_qtensor(as_q4_0)?,
            offsets,
        })
    }

    /// `x · Wᵀ` for `x` of shape `[.., in]`.
    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Plain(m) => Ok(m.forward(x)?),
            Self::Q4_1 { q4_0, offsets } => {
                let y = q4_0.forward(x)?;
                let dims = x.dims().to_vec();
                let cols = dims[dims.len() - 1];
                let rows = x.elem_count() / cols;
                let flat = x.reshape((rows, cols))?;
                let quantized = QTensor::quantize(&flat.to_device(&Device::Cpu)?, GgmlDType::Q8_0)?
                    .dequantize(x.device())?;
                let sums = quantized
                    .reshape((rows, cols / BLOCK, BLOCK))?
                    .sum(D::Minus1)?;
                let offset = sums.matmul(&offsets.t()?)?.reshape(y.shape())?;
                Ok((y + offset)?)
            }
        }
    }
}
