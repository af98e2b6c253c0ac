//! Seeded random initialisation, reproducible for a given seed.

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::Result;

/// A seeded source of initial weights.
pub(crate) struct Init {
    rng: StdRng,
}

impl Init {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A tensor of normal values with standard deviation `std` (Box–Muller).
    pub(crate) fn normal(&mut self, shape: &[usize], std: f32) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let mut values = Vec::with_capacity(n);
        while values.len() < n {
            let u1: f32 = self.rng.random::<f32>().max(f32::MIN_POSITIVE);
            let u2: f32 = self.rng.random();
            let radius = (-2.0 * u1.ln()).sqrt() * std;
            let angle = std::f32::consts::TAU * u2;
            values.push(radius * angle.cos());
            values.push(radius * angle.sin());
        }
        values.truncate(n);
        Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
    }

    /// A tensor of ones (norm weights).
    pub(crate) fn ones(&mut self, shape: &[usize]) -> Result<Tensor> {
        Ok(Tensor::ones(shape, candle_core::DType::F32, &Device::Cpu)?)
    }
}
