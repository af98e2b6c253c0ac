//! A frozen base for training a pack over it: its matrices' backward pass gives the input's
//! gradient only. candle's matmul backward computes the weight's gradient too, whether or
//! not anything wants it: for a frozen base that is a third of the backward work, wasted.
//!
//! The forward pass is candle's dense F32 matmul on a dequantized copy, not the quantized
//! matmul the runtime decodes with: candle's CPU quantized kernels are made for a few rows
//! at a time, and on training batches (hundreds of rows) they were 4.8× slower per step
//! than dense (`bench/src/bin/train_step.rs`, SmolLM2-135M, batch 4 × 128).

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::quantized::QTensor;
use candle_core::{CpuStorage, CustomOp2, DType, Device, Layout, Shape, Tensor};

use crate::base::BaseWeights;
use crate::config::BaseConfig;
use crate::error::{Result, RuntimeError};
use crate::train::forward::{GraphWeights, linear};

/// `x @ W.T` with `W` frozen: the product computed without a graph, then joined to `x`'s
/// graph through an op whose backward is `grad @ W` and nothing else.
#[derive(Clone)]
pub(crate) struct FrozenLinear {
    /// `W` `[out, in]` as F32.
    dense: Tensor,
    /// The op that carries the input gradient (`None` before the first trainable layer:
    /// nothing flows back there).
    input_gradient: Option<Arc<Box<dyn CustomOp2 + Send + Sync>>>,
}

/// The op as candle sees it: forward passes the precomputed product through; backward
/// gives `x` its gradient and the product none.
struct InputGradient {
    weight: Tensor,
}

impl FrozenLinear {
    /// The frozen form of the stored matrix `stored` on `device`; with `backward`, a
    /// gradient flows back through it to its input.
    pub(crate) fn new(stored: &QTensor, backward: bool, device: &Device) -> Result<Self> {
        Self::from_dense(stored.dequantize(device)?.to_dtype(DType::F32)?, backward)
    }

    /// The frozen form of the dense matrix `dense` `[out, in]`.
    pub(crate) fn from_dense(dense: Tensor, backward: bool) -> Result<Self> {
        let input_gradient = backward.then(|| {
            let op: Box<dyn CustomOp2 + Send + Sync> = Box::new(InputGradient {
                weight: dense.clone(),
            });
            Arc::new(op)
        });
        Ok(Self {
            dense,
            input_gradient,
        })
    }

    /// `x @ W.T` for `x` `[..., in]`.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let product = linear(&x.detach(), &self.dense)?.contiguous()?;
        match &self.input_gradient {
            Some(op) if x.track_op() => Ok(x.apply_op2_arc(&product, op.clone())?),
            _ => Ok(product),
        }
    }
}

impl CustomOp2 for InputGradient {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(
        &self,
        _x: &CpuStorage,
        _x_layout: &Layout,
        product: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok((product.try_clone(layout)?, layout.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _x: &candle_core::CudaStorage,
        _x_layout: &Layout,
        product: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        Ok((product.try_clone(layout)?, layout.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _product: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.broadcast_matmul(&self.weight)?), None))
    }
}

/// A base's weights for training a pack over it: every matrix a [`FrozenLinear`] (dense
/// copies only from block `trainable_from` on, and for the output projection), norms and
/// embeddings F32.
pub(crate) struct FrozenWeights {
    matrices: HashMap<String, FrozenLinear>,
    vectors: HashMap<String, Tensor>,
    embedding: Tensor,
    config: BaseConfig,
}

impl FrozenWeights {
    /// The frozen form of `base` on `device`; gradients flow back to block `trainable_from`.
    pub(crate) fn new(base: &BaseWeights, trainable_from: usize, device: &Device) -> Result<Self> {
        let mut matrices = HashMap::new();
        let mut vectors = HashMap::new();
        let mut embedding = None;
        let dense =
            |t: &QTensor| -> Result<Tensor> { Ok(t.dequantize(device)?.to_dtype(DType::F32)?) };
        for (name, tensor) in &base.tensors {
            if tensor.shape().rank() == 1 {
                vectors.insert(name.clone(), dense(tensor)?);
            } else if name == "token_embd.weight" {
                let table = dense(tensor)?;
                if base.config.tied_embeddings {
                    let output = FrozenLinear::from_dense(table.clone(), true)?;
                    matrices.insert(name.clone(), output);
                }
                embedding = Some(table);
            } else {
                let backward = block_of(name).is_none_or(|block| block >= trainable_from);
                matrices.insert(name.clone(), FrozenLinear::new(tensor, backward, device)?);
            }
        }
        let embedding = embedding
            .ok_or_else(|| RuntimeError::Config("the base has no `token_embd.weight`".into()))?;
        Ok(Self {
            matrices,
            vectors,
            embedding,
            config: base.config,
        })
    }
}

/// The block a tensor belongs to (`blk.N.…`), if any.
fn block_of(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

impl GraphWeights for FrozenWeights {
    fn linear(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        self.matrices
            .get(name)
            .ok_or_else(|| RuntimeError::Config(format!("tensor `{name}` is missing")))?
            .forward(x)
    }

    fn vector(&self, name: &str) -> Result<&Tensor> {
        self.vectors
            .get(name)
            .ok_or_else(|| RuntimeError::Config(format!("tensor `{name}` is missing")))
    }

    fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        Ok(self
            .embedding
            .index_select(&tokens.flatten_all()?, 0)?
            .reshape((b, t, self.config.hidden))?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use candle_core::Var;
    use candle_core::quantized::GgmlDType;

    use super::*;
    use crate::tensor_gaps::max_gap;

    #[test]
    fn a_frozen_linear_gives_the_input_gradient_of_the_full_backward_and_no_weight_gradient() {
        let device = Device::Cpu;
        let w = Tensor::randn(0f32, 0.1, (48, 64), &device).unwrap();
        let stored = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
        let dense = stored.dequantize(&device).unwrap();
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 5, 64), &device).unwrap()).unwrap();

        // The full backward over the same (dequantized) matrix as a variable.
        let w_var = Var::from_tensor(&dense).unwrap();
        let plain = x
            .as_tensor()
            .broadcast_matmul(&w_var.as_tensor().t().unwrap())
            .unwrap();
        let plain_grads = plain.sum_all().unwrap().backward().unwrap();
        let plain_input = plain_grads.get(x.as_tensor()).unwrap();
        assert!(
            plain_grads.get(w_var.as_tensor()).is_some(),
            "the full backward computes it"
        );

        let frozen = FrozenLinear::new(&stored, true, &device).unwrap();
        let y = frozen.forward(x.as_tensor()).unwrap();
        assert_eq!(max_gap(&y, &plain), 0.0, "the same product");
        let grads = y.sum_all().unwrap().backward().unwrap();
        let input = grads.get(x.as_tensor()).unwrap();
        assert!(max_gap(input, plain_input) < 1e-5, "input gradients differ");
        assert_eq!(
            plain_grads.get_ids().count(),
            2,
            "the full backward keeps x's and the matrix's gradients"
        );
        assert_eq!(grads.get_ids().count(), 1, "only x has a gradient");
        assert!(
            grads.get(&dense).is_none(),
            "no gradient for the frozen matrix"
        );
    }

    #[test]
    fn a_frozen_linear_without_a_dense_copy_passes_no_gradient() {
        let device = Device::Cpu;
        let w = Tensor::randn(0f32, 0.1, (32, 32), &device).unwrap();
        let stored = QTensor::quantize(&w, GgmlDType::F16).unwrap();
        let frozen = FrozenLinear::new(&stored, false, &device).unwrap();
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 32), &device).unwrap()).unwrap();
        let grads = frozen
            .forward(x.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(grads.get(x.as_tensor()).is_none());
    }
}
