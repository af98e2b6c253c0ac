//! Rotary position tables, grown as longer sequences arrive.

use candle_core::{DType, Device, Tensor};

use crate::config::BaseConfig;
use crate::error::Result;

/// Rotary tables for the positions used so far: they grow (doubling, up to the context) as
/// longer sequences arrive, so a base whose header claims a huge context costs memory only
/// for the tokens it is really given.
pub(super) struct Rope {
    cos: Tensor,
    sin: Tensor,
    config: BaseConfig,
    device: Device,
}

/// Positions the tables start with.
const INITIAL_ROPE_POSITIONS: usize = 512;

impl Rope {
    pub(super) fn new(config: &BaseConfig, device: &Device) -> Result<Self> {
        let len = config.context.min(INITIAL_ROPE_POSITIONS);
        let (cos, sin) = rope_tables(config, len, device)?;
        Ok(Self {
            cos,
            sin,
            config: *config,
            device: device.clone(),
        })
    }

    /// Makes the tables cover positions `0..len` (`len` at most the context).
    pub(super) fn cover(&mut self, len: usize) -> Result<()> {
        if len > self.cos.dim(0)? {
            let grown = len.next_power_of_two().min(self.config.context).max(len);
            (self.cos, self.sin) = rope_tables(&self.config, grown, &self.device)?;
        }
        Ok(())
    }

    /// The tables' rows at `positions` (one position per row of a decode step).
    pub(super) fn rows(&self, positions: &[u32]) -> Result<(Tensor, Tensor)> {
        let at = Tensor::new(positions, &self.device)?;
        Ok((
            self.cos.index_select(&at, 0)?,
            self.sin.index_select(&at, 0)?,
        ))
    }

    pub(super) fn at(&self, offset: usize, len: usize) -> Result<(Tensor, Tensor)> {
        Ok((
            self.cos.narrow(0, offset, len)?,
            self.sin.narrow(0, offset, len)?,
        ))
    }
}

/// Rotary tables `(cos, sin)`, each `[len, head_dim / 2]`, for positions `0..len`.
pub(crate) fn rope_tables(
    config: &BaseConfig,
    len: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let half = config.head_dim() / 2;
    let inv: Vec<f32> = (0..half)
        .map(|i| {
            1.0 / config
                .rope_theta
                .powf(2.0 * i as f32 / config.head_dim() as f32)
        })
        .collect();
    let inv = Tensor::from_vec(inv, (1, half), device)?;
    let positions = Tensor::arange(0u32, len as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((len, 1))?;
    let freqs = positions.matmul(&inv)?;
    Ok((freqs.cos()?, freqs.sin()?))
}
