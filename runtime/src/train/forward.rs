//! The base core written with differentiable operations only (candle's fused RMSNorm,
//! rotary and softmax kernels have no backward pass), batched `[batch, seq]` and without a
//! KV cache. It computes the same function as [`crate::BaseModel`]; a test holds them equal.

use std::collections::HashMap;

use candle_core::{D, DType, Device, Tensor};

use crate::base::{BaseWeights, causal_mask, rope_tables};
use crate::config::BaseConfig;
use crate::error::{Result, RuntimeError};

/// F32 tensors by name; trained ones are the tensors of `Var`s, so gradients reach them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Named(pub(crate) HashMap<String, Tensor>);

impl Named {
    /// The tensor called `name`.
    pub(crate) fn get(&self, name: &str) -> Result<&Tensor> {
        self.0
            .get(name)
            .ok_or_else(|| RuntimeError::Config(format!("tensor `{name}` is missing")))
    }

    /// Every tensor of stored weights, widened to F32 on `device`.
    pub(crate) fn dequantized(
        tensors: &[(String, candle_core::quantized::QTensor)],
        device: &Device,
    ) -> Result<Self> {
        let mut map = HashMap::new();
        for (name, t) in tensors {
            map.insert(name.clone(), t.dequantize(device)?.to_dtype(DType::F32)?);
        }
        Ok(Self(map))
    }
}

/// What the training graph reads a base's weights from: plain tensors (trained or
/// dequantized) or a frozen base (`frozen.rs`).
pub(crate) trait GraphWeights {
    /// `x @ W.T` for the matrix `name`.
    fn linear(&self, x: &Tensor, name: &str) -> Result<Tensor>;
    /// The vector `name` (a norm's weight).
    fn vector(&self, name: &str) -> Result<&Tensor>;
    /// Token embeddings of `tokens` `[batch, seq]`: `[batch, seq, hidden]`.
    fn embed(&self, tokens: &Tensor) -> Result<Tensor>;
}

impl GraphWeights for Named {
    fn linear(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        linear(x, self.get(name)?)
    }

    fn vector(&self, name: &str) -> Result<&Tensor> {
        self.get(name)
    }

    fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let table = self.get("token_embd.weight")?;
        Ok(table
            .index_select(&tokens.flatten_all()?, 0)?
            .reshape((b, t, table.dim(1)?))?)
    }
}

/// `x @ w.T` for `x` of shape `[..., in]` and `w` of shape `[out, in]`.
pub(crate) fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let (inner, outer) = (dims[dims.len() - 1], w.dim(0)?);
    let rows: usize = dims[..dims.len() - 1].iter().product();
    let mut out_dims = dims[..dims.len() - 1].to_vec();
    out_dims.push(outer);
    Ok(x.reshape((rows, inner))?
        .matmul(&w.t()?)?
        .reshape(out_dims)?)
}

fn rms_norm(x: &Tensor, weight: &Tensor, eps: f32) -> Result<Tensor> {
    let scale = (x.sqr()?.mean_keepdim(D::Minus1)? + f64::from(eps))?
        .sqrt()?
        .recip()?;
    Ok(x.broadcast_mul(&scale)?.broadcast_mul(weight)?)
}

/// Interleaved rotary embedding (as candle's `rope_i`) of `x` `[batch, heads, seq, dim]`.
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let (b, h, t, d) = x.dims4()?;
    let pairs = x.reshape((b, h, t, d / 2, 2))?;
    let even = pairs.narrow(4, 0, 1)?;
    let odd = pairs.narrow(4, 1, 1)?;
    let cos = cos.reshape((1, 1, t, d / 2, 1))?;
    let sin = sin.reshape((1, 1, t, d / 2, 1))?;
    let first = (even.broadcast_mul(&cos)? - odd.broadcast_mul(&sin)?)?;
    let second = (even.broadcast_mul(&sin)? + odd.broadcast_mul(&cos)?)?;
    Ok(Tensor::cat(&[first, second], 4)?.reshape((b, h, t, d))?)
}

/// A pack's contribution at its layer: `h -> delta`.
pub(crate) type Plug<'a> = (usize, &'a dyn Fn(&Tensor) -> Result<Tensor>);

/// The base core over a base's weights.
pub(crate) struct BaseGraph<'a, W: GraphWeights + ?Sized> {
    config: BaseConfig,
    tensors: &'a W,
    cos: Tensor,
    sin: Tensor,
    mask: Option<Tensor>,
}

impl<'a, W: GraphWeights + ?Sized> BaseGraph<'a, W> {
    /// The graph for sequences of `seq` tokens.
    pub(crate) fn new(
        config: BaseConfig,
        tensors: &'a W,
        seq: usize,
        device: &Device,
    ) -> Result<Self> {
        let (cos, sin) = rope_tables(&config, seq, device)?;
        let mask = causal_mask(seq, 0, device)?;
        Ok(Self {
            config,
            tensors,
            cos,
            sin,
            mask,
        })
    }

    fn attention(&self, x: &Tensor, p: &str) -> Result<Tensor> {
        let c = &self.config;
        let (b, t, hidden) = x.dims3()?;
        let hd = c.head_dim();
        let split = |w: &str, n: usize| -> Result<Tensor> {
            Ok(self
                .tensors
                .linear(x, &format!("{p}.{w}.weight"))?
                .reshape((b, t, n, hd))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = rope(&split("attn_q", c.heads)?, &self.cos, &self.sin)?;
        let k = rope(&split("attn_k", c.kv_heads)?, &self.cos, &self.sin)?;
        let v = split("attn_v", c.kv_heads)?;
        let groups = c.heads / c.kv_heads;
        let repeat = |x: Tensor| -> Result<Tensor> {
            if groups == 1 {
                return Ok(x);
            }
            Ok(x.unsqueeze(2)?
                .broadcast_as((b, c.kv_heads, groups, t, hd))?
                .reshape((b, c.heads, t, hd))?)
        };
        let (k, v) = (repeat(k)?, repeat(v)?);
        let scores = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
        let scores = match &self.mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let y = candle_nn::ops::softmax(&scores, D::Minus1)?.matmul(&v)?;
        let y = y.transpose(1, 2)?.reshape((b, t, hidden))?;
        self.tensors.linear(&y, &format!("{p}.attn_output.weight"))
    }

    fn mlp(&self, x: &Tensor, p: &str) -> Result<Tensor> {
        let w = |x: &Tensor, n: &str| self.tensors.linear(x, &format!("{p}.{n}.weight"));
        let gated = (w(x, "ffn_gate")?.silu()? * w(x, "ffn_up")?)?;
        w(&gated, "ffn_down")
    }

    /// Final-norm hidden states `[batch, seq, hidden]`; `plug` adds its delta after its layer.
    pub(crate) fn hidden(&self, tokens: &Tensor, plug: Option<Plug<'_>>) -> Result<Tensor> {
        let h = self.tensors.embed(tokens)?;
        let h = self.blocks(h, 0..self.config.layers, plug)?;
        self.final_norm(&h)
    }

    /// The hidden stream `h` through blocks `range`; `plug` adds its delta after its layer
    /// when that layer is in the range.
    pub(crate) fn blocks(
        &self,
        mut h: Tensor,
        range: std::ops::Range<usize>,
        plug: Option<Plug<'_>>,
    ) -> Result<Tensor> {
        let eps = self.config.rms_eps;
        for i in range {
            let p = format!("blk.{i}");
            let norm = |n: &str| self.tensors.vector(&format!("{p}.{n}.weight"));
            h = (&h + self.attention(&rms_norm(&h, norm("attn_norm")?, eps)?, &p)?)?;
            h = (&h + self.mlp(&rms_norm(&h, norm("ffn_norm")?, eps)?, &p)?)?;
            if let Some((_, delta)) = plug.filter(|(layer, _)| *layer == i) {
                h = (&h + delta(&h)?)?;
            }
        }
        Ok(h)
    }

    /// The hidden stream after block `through` for `tokens`, detached: computed without a
    /// graph, for blocks that nothing upstream of trains.
    pub(crate) fn prefix(&self, tokens: &Tensor, through: usize) -> Result<Tensor> {
        let h = self.tensors.embed(&tokens.detach())?;
        Ok(self.blocks(h, 0..through + 1, None)?.detach())
    }

    /// The final RMSNorm.
    pub(crate) fn final_norm(&self, h: &Tensor) -> Result<Tensor> {
        rms_norm(
            h,
            self.tensors.vector("output_norm.weight")?,
            self.config.rms_eps,
        )
    }

    /// Mean next-token cross-entropy (nats) of `targets` `[batch, seq]` given final-norm
    /// hidden states.
    pub(crate) fn loss_of_hidden(&self, hidden: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let output = if self.config.tied_embeddings {
            "token_embd.weight"
        } else {
            "output.weight"
        };
        let logits = self.tensors.linear(hidden, output)?;
        let vocab = logits.dim(D::Minus1)?;
        Ok(candle_nn::loss::cross_entropy(
            &logits.reshape(((), vocab))?,
            &targets.flatten_all()?,
        )?)
    }

    /// Mean next-token cross-entropy (nats) of `targets` given `tokens`, both `[batch, seq]`.
    pub(crate) fn loss(
        &self,
        tokens: &Tensor,
        targets: &Tensor,
        plug: Option<Plug<'_>>,
    ) -> Result<Tensor> {
        self.loss_of_hidden(&self.hidden(tokens, plug)?, targets)
    }
}

/// The stored weights of a base as F32 tensors on `device`.
pub(crate) fn base_tensors(weights: &BaseWeights, device: &Device) -> Result<Named> {
    Named::dequantized(&weights.tensors, device)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::base::BaseModel;
    use crate::pack_module::{PackConfig, PackModule, PackWeights};
    use crate::tensor_gaps::{largest, max_gap};
    use crate::train::pack_net::pack_delta;
    use modularbase_pack::ExpertFormat;

    fn max_relative_gap(a: &Tensor, b: &Tensor) -> f32 {
        max_gap(a, b) / largest(b)
    }

    #[test]
    fn the_training_graph_computes_what_the_runtime_computes() {
        let config = BaseConfig {
            hidden: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            ffn: 96,
            context: 64,
            ..BaseConfig::default()
        };
        let weights = BaseWeights::random(&config, 3).unwrap();
        let named = base_tensors(&weights, &Device::Cpu).unwrap();
        let pack_config = PackConfig {
            expert_format: ExpertFormat::F16,
            ..PackConfig::for_base(64, 0)
        };
        let pack_weights = PackWeights::random(pack_config, 5).unwrap();
        let pack_named = Named::dequantized(&pack_weights.tensors, &Device::Cpu).unwrap();
        let tokens: Vec<u32> = b"def add(a, b): return a + b"
            .iter()
            .map(|&b| u32::from(b))
            .collect();
        let graph = BaseGraph::new(config, &named, tokens.len(), &Device::Cpu).unwrap();
        let input = Tensor::new(tokens.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let delta = |h: &Tensor| Ok(pack_delta(&pack_config, &pack_named, h)?.0);
        let trained = linear(
            &graph.hidden(&input, Some((0, &delta))).unwrap(),
            named.get("output.weight").unwrap(),
        )
        .unwrap()
        .squeeze(0)
        .unwrap();
        let mut model = BaseModel::new(weights, &Device::Cpu).unwrap();
        let pack = PackModule::new(pack_weights, &Device::Cpu).unwrap();
        let served = model.forward(&tokens, 0, Some(&pack)).unwrap();
        let gap = max_relative_gap(&trained, &served);
        assert!(gap < 1e-2, "logits differ by {gap} (relative)");
    }
}
