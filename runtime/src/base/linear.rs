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
//!
//! Many rows at once (a prompt, an evaluation window) run on the CPU as a dense F32 matmul
//! over a dequantized copy of the matrix, made for that product and dropped after it
//! (or kept, [`Linear::keep_dense`], for batch work): candle's quantized kernels compute
//! one row at a time, and on an 80-token window they were 2–3× slower. The input is first
//! rounded as the kernels round it (Q8_0 blocks for Q4_0/Q4_1/Q8_0 matrices), so the dense
//! product is the same sum of the same rounded terms as llama.cpp's integer dot products,
//! and prompts score as they do when decoded row by row.

use std::cell::OnceCell;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{D, DType, Device, Module, Tensor};

use crate::error::Result;

/// Values per Q4_0/Q4_1/Q8_0 block.
const BLOCK: usize = 32;
/// Bytes of a Q4_1 block (`d`, `m` as F16, 16 bytes of nibbles) and of a Q4_0 block.
const Q4_1_BYTES: usize = 20;
const Q4_0_BYTES: usize = 18;

/// A quantized matrix as F32, with what applying it as stored would round.
pub(super) struct DenseMatrix {
    /// `W` `[out, in]`.
    w: Tensor,
    /// The block type the quantized kernels round the input to (`None`: not rounded).
    input: Option<GgmlDType>,
    /// For Q4_1, the block minimums `m` `[out, in / 32]`: llama.cpp multiplies them by the
    /// input's block sums rounded to F16.
    q4_1_m: Option<Tensor>,
}

/// Rows of input from which a CPU product runs densely over a dequantized copy.
const DENSE_FROM_ROWS: usize = 16;

/// One weight matrix `[out, in]`, applied as `x · Wᵀ`.
pub(super) enum Linear {
    /// Kept as F32 (see [`Linear::keep_dense`]), applied as the quantized form would be.
    Dense(DenseMatrix),
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
        let x = input.x;
        let rows = x.elem_count() / x.dim(D::Minus1)?;
        if input.apart && rows > 1 {
            return self.rows_apart(input);
        }
        if x.device().is_cpu()
            && rows >= DENSE_FROM_ROWS
            && let Some(dense) = self.dequantized()?
        {
            return dense.forward(input);
        }
        match self {
            Self::Dense(dense) => dense.forward(input),
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

    /// `x · Wᵀ` with each row's result what that row alone would get: the quantized kernels
    /// compute rows independently and take all rows at once; a float product (whose sums
    /// a BLAS-style kernel orders by the number of rows) runs one row at a time.
    fn rows_apart(&self, input: &LinearInput<'_>) -> Result<Tensor> {
        let x = input.x;
        let cols = x.dim(D::Minus1)?;
        let rows = x.elem_count() / cols;
        let flat = x.reshape((rows, cols))?;
        // One row shaped as a lone sequence's input is (same rank), so it takes the same path.
        let mut row_shape = vec![1; x.rank()];
        if let Some(last) = row_shape.last_mut() {
            *last = cols;
        }
        let one_by_one = |f: &dyn Fn(usize) -> Result<Tensor>| -> Result<Tensor> {
            let outs = (0..rows).map(f).collect::<Result<Vec<_>>>()?;
            Ok(Tensor::cat(&outs, 0)?)
        };
        let y = match self {
            Self::Plain(m @ QMatMul::QTensor(_)) => m.forward(&flat)?,
            Self::Plain(_) | Self::Dense(_) => one_by_one(&|i| {
                let row = flat.narrow(0, i, 1)?.reshape(row_shape.as_slice())?;
                let y = self.forward(&LinearInput::new(&row))?;
                Ok(y.reshape((1, ()))?)
            })?,
            Self::Q4_1 { q4_0, eight_d, m } => {
                let y = q4_0.forward(&flat)?;
                let (sums, rounded) = input.block_sums()?;
                let offset = one_by_one(&|i| {
                    Ok((sums.narrow(0, i, 1)?.matmul(&eight_d.t()?)?
                        + rounded.narrow(0, i, 1)?.matmul(&m.t()?)?)?)
                })?;
                (y + offset)?
            }
        };
        let mut shape = x.dims().to_vec();
        if let Some(last) = shape.last_mut() {
            *last = y.dim(1)?;
        }
        Ok(y.reshape(shape)?)
    }

    /// From now on the matrix is F32, dequantized once (a no-op for a dense one).
    pub(super) fn keep_dense(&mut self) -> Result<()> {
        if let Some(dense) = self.dequantized()? {
            *self = Self::Dense(dense);
        }
        Ok(())
    }

    /// The matrix as F32, for a quantized one (`None` when it is stored dense).
    fn dequantized(&self) -> Result<Option<DenseMatrix>> {
        match self {
            Self::Plain(QMatMul::QTensor(q)) => Ok(Some(DenseMatrix {
                w: q.dequantize(&q.device())?,
                input: input_rounding(q.dtype()),
                q4_1_m: None,
            })),
            Self::Plain(_) | Self::Dense(_) => Ok(None),
            Self::Q4_1 { q4_0, eight_d, m } => {
                let QMatMul::QTensor(q) = q4_0 else {
                    return Ok(None);
                };
                // As Q4_0, `w = d·(q − 8) + o` with the block offset `o = m + 8d`.
                let w = q.dequantize(&q.device())?;
                let (rows, cols) = w.dims2()?;
                let offset = (eight_d + m)?.unsqueeze(2)?;
                let w = w
                    .reshape((rows, cols / BLOCK, BLOCK))?
                    .broadcast_add(&offset)?
                    .reshape((rows, cols))?;
                Ok(Some(DenseMatrix {
                    w,
                    input: Some(GgmlDType::Q8_0),
                    q4_1_m: Some(m.clone()),
                }))
            }
        }
    }
}

impl DenseMatrix {
    /// `x̂ · Wᵀ`, with `x̂` the input as the quantized kernels round it.
    fn forward(&self, input: &LinearInput<'_>) -> Result<Tensor> {
        let x = input.x;
        let (cols, out) = (x.dim(D::Minus1)?, self.w.dim(0)?);
        let rows = x.elem_count() / cols;
        let rounded = match self.input {
            Some(GgmlDType::Q8_0) => input.as_q8_0()?.clone(),
            Some(dtype) => round_through(&x.reshape((rows, cols))?, dtype)?,
            None => x.reshape((rows, cols))?,
        };
        let mut y = rounded.matmul(&self.w.t()?)?;
        if let Some(m) = &self.q4_1_m {
            // llama.cpp's `m·s` term takes the block sums `s` rounded to F16.
            let (sums, f16_sums) = input.block_sums()?;
            y = (y + (f16_sums - sums)?.matmul(&m.t()?)?)?;
        }
        let mut shape = x.dims().to_vec();
        if let Some(last) = shape.last_mut() {
            *last = out;
        }
        Ok(y.reshape(shape)?)
    }
}

/// The block type candle's (and llama.cpp's) kernels quantize a matrix's input to, for the
/// types whose input they round to a form this file reproduces.
fn input_rounding(stored: GgmlDType) -> Option<GgmlDType> {
    match stored {
        GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q8_0 => {
            Some(GgmlDType::Q8_0)
        }
        GgmlDType::Q2K | GgmlDType::Q3K | GgmlDType::Q4K | GgmlDType::Q5K | GgmlDType::Q6K => {
            Some(GgmlDType::Q8K)
        }
        GgmlDType::F16 => Some(GgmlDType::F16),
        _ => None,
    }
}

/// `x` `[rows, cols]` quantized to `dtype` and back, on its device.
fn round_through(x: &Tensor, dtype: GgmlDType) -> Result<Tensor> {
    let (rows, cols) = x.dims2()?;
    // candle's `QTensor::quantize` reads the storage from its start, whatever the view
    // (a row narrowed out of a prompt would quantize the prompt's first row instead), and
    // a view's storage can be larger than the view even at offset 0: always a fresh copy.
    let values = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let flat = Tensor::from_vec(values, (rows, cols), &Device::Cpu)?;
    Ok(QTensor::quantize(&flat, dtype)?.dequantize(x.device())?)
}

/// The input of one or more matrices, with what the kernels make of it computed once for
/// every matrix that reads the same input (q, k and v; gate and up): the input rounded to
/// Q8_0 blocks, and their sums for the Q4_1 offset term.
pub(super) struct LinearInput<'a> {
    x: &'a Tensor,
    q8_0: OnceCell<Tensor>,
    sums: OnceCell<(Tensor, Tensor)>,
    /// Each row is another sequence: its result must not depend on the other rows.
    apart: bool,
}

impl<'a> LinearInput<'a> {
    /// `x`, shaped `[.., in]`.
    pub(super) fn new(x: &'a Tensor) -> Self {
        Self::with_rows(x, false)
    }

    /// `x`; when `apart`, each row's product is computed as that row alone would be (rows
    /// of different sequences in one decode step), never densely over a copy.
    pub(super) fn with_rows(x: &'a Tensor, apart: bool) -> Self {
        Self {
            x,
            q8_0: OnceCell::new(),
            sums: OnceCell::new(),
            apart,
        }
    }

    /// `x` `[rows, in]` as the kernels quantize it for Q4_0, Q4_1 and Q8_0 matrices.
    fn as_q8_0(&self) -> Result<&Tensor> {
        if let Some(rounded) = self.q8_0.get() {
            return Ok(rounded);
        }
        let cols = self.x.dim(D::Minus1)?;
        let rows = self.x.elem_count() / cols;
        let rounded = round_through(&self.x.reshape((rows, cols))?, GgmlDType::Q8_0)?;
        Ok(self.q8_0.get_or_init(|| rounded))
    }

    /// `s(x)` `[rows, in / 32]` as the kernel quantizes `x` (Q8_0), and the same rounded to
    /// F16 as llama.cpp's Q8_1 blocks store it for their `m·s` term.
    fn block_sums(&self) -> Result<&(Tensor, Tensor)> {
        if let Some(sums) = self.sums.get() {
            return Ok(sums);
        }
        let quantized = self.as_q8_0()?;
        let (rows, cols) = quantized.dims2()?;
        let sums = quantized
            .reshape((rows, cols / BLOCK, BLOCK))?
            .sum(D::Minus1)?;
        let rounded = sums.to_dtype(DType::F16)?.to_dtype(DType::F32)?;
        Ok(self.sums.get_or_init(|| (sums, rounded)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tensor_gaps::{largest, max_gap};

    /// `x · Wᵀ` for a stored `dtype` matrix: row by row (the quantized kernels), all rows at
    /// once (dense over a copy), all rows with the matrix kept dense, and exactly.
    fn products(dtype: GgmlDType) -> [Tensor; 4] {
        let device = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (96, 128), &device).unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, DENSE_FROM_ROWS + 4, 128), &device).unwrap();
        let mut linear = Linear::new(QTensor::quantize(&w, dtype).unwrap(), &device).unwrap();
        let rows: Vec<Tensor> = (0..x.dim(1).unwrap())
            .map(|r| {
                let row = x.narrow(1, r, 1).unwrap();
                linear.forward(&LinearInput::new(&row)).unwrap()
            })
            .collect();
        let by_row = Tensor::cat(&rows, 1).unwrap();
        let at_once = linear.forward(&LinearInput::new(&x)).unwrap();
        linear.keep_dense().unwrap();
        let kept = linear.forward(&LinearInput::new(&x)).unwrap();
        let stored = QTensor::quantize(&w, dtype).unwrap();
        let exact = x
            .broadcast_matmul(&stored.dequantize(&device).unwrap().t().unwrap())
            .unwrap();
        [by_row, at_once, kept, exact]
    }

    // Each row is a view into the prompt (`narrow`): the Q4_1 block sums once quantized the
    // prompt's first row for every row.
    #[test]
    fn a_prompt_s_rows_at_once_are_the_decode_kernels_sums_and_near_the_exact_product() {
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q4_0, GgmlDType::Q8_0] {
            let [by_row, at_once, kept, exact] = products(dtype);
            let scale = largest(&exact);
            // The same rounded terms summed in another order: float rounding apart.
            assert!(
                max_gap(&at_once, &by_row) < 1e-4 * scale,
                "{dtype:?}: at once {} from row by row",
                max_gap(&at_once, &by_row)
            );
            assert!(max_gap(&kept, &at_once) < 1e-5 * scale, "{dtype:?}");
            // The kernels round the input to Q8: a small, bounded gap from the exact product.
            assert!(
                max_gap(&by_row, &exact) < 0.02 * scale,
                "{dtype:?}: row kernels {} apart",
                max_gap(&by_row, &exact)
            );
        }
    }
}
