//! The token embedding table. A quantized table stays quantized, and only the rows of the
//! tokens looked up are dequantized, so a 49,152-token vocabulary costs its stored bytes
//! (27 MB as Q8_0 for SmolLM2) rather than 113 MB of F32. With tied embeddings the same
//! stored table is also the output projection.

use std::sync::Arc;

use candle_core::quantized::ggml_file::qtensor_from_ggml;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use crate::error::{Result, RuntimeError};

/// `[vocab, hidden]` rows looked up by token id.
pub(super) enum Embedding {
    /// An F32/F16 table, kept dense on the model's device.
    Dense(Tensor),
    /// A quantized table on the CPU; looked-up rows move to `device`.
    Quantized {
        table: Arc<QTensor>,
        hidden: usize,
        row_bytes: usize,
        device: Device,
    },
}

impl Embedding {
    /// The table for `table` (on the CPU, as read), used on `device`.
    pub(super) fn new(table: Arc<QTensor>, device: &Device) -> Result<Self> {
        let dtype = table.dtype();
        if matches!(dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16) {
            return Ok(Self::Dense(table.dequantize(device)?));
        }
        let (_, hidden) = table.shape().dims2()?;
        let row_bytes = hidden / dtype.block_size() * dtype.type_size();
        Ok(Self::Quantized {
            table,
            hidden,
            row_bytes,
            device: device.clone(),
        })
    }

    /// Rows `[tokens.len(), hidden]` for `tokens` (every id below the vocabulary size).
    pub(super) fn forward(&self, tokens: &[u32]) -> Result<Tensor> {
        match self {
            Self::Dense(table) => {
                let ids = Tensor::new(tokens, table.device())?;
                Ok(table.index_select(&ids, 0)?)
            }
            Self::Quantized {
                table,
                hidden,
                row_bytes,
                device,
            } => {
                let data = table.data()?;
                let mut bytes = Vec::with_capacity(tokens.len() * row_bytes);
                for &token in tokens {
                    let start = token as usize * row_bytes;
                    let row = data.get(start..start + row_bytes).ok_or_else(|| {
                        RuntimeError::Config(format!("token {token} is outside the vocabulary"))
                    })?;
                    bytes.extend_from_slice(row);
                }
                let rows = qtensor_from_ggml(
                    table.dtype(),
                    &bytes,
                    vec![tokens.len(), *hidden],
                    &Device::Cpu,
                )?;
                Ok(rows.dequantize(device)?)
            }
        }
    }
}
