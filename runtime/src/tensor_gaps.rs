//! How far apart two tensors are, for the unit tests that compare computations.

#![allow(clippy::unwrap_used)]

use candle_core::Tensor;

/// The largest absolute value in `t`.
pub(crate) fn largest(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// The largest absolute difference between `a` and `b`.
pub(crate) fn max_gap(a: &Tensor, b: &Tensor) -> f32 {
    largest(&(a - b).unwrap())
}
