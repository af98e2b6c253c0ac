//! The base core: a llama-style decoder (RMSNorm, RoPE, grouped-query attention with a KV
//! cache, SwiGLU) whose weights use llama.cpp's GGUF names.
//!
//! Packs plug in through [`HiddenPlug`]: after block `insertion_layer` the hidden stream
//! becomes `h + plug.delta(h)`.

use std::collections::HashMap;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::ops::softmax_last_dim;
use candle_nn::rotary_emb::rope_i;

use crate::config::BaseConfig;
use crate::error::{Result, RuntimeError};
use crate::gguf::BASE_MATRIX_DTYPE;
use crate::init::Init;

/// Something that adds to the base's hidden stream at one layer (a pack).
pub trait HiddenPlug {
    /// The 0-based block after which the delta is added.
    fn insertion_layer(&self) -> usize;
    /// The delta for hidden states `h` of shape `[batch, seq, hidden]`.
    fn delta(&self, h: &Tensor) -> Result<Tensor>;
}

/// A base core's tensors by llama.cpp name, in file order.
#[derive(Debug)]
pub struct BaseWeights {
    /// The shape.
    pub config: BaseConfig,
    /// `(name, tensor)` in the canonical order.
    pub tensors: Vec<(String, QTensor)>,
}

impl BaseWeights {
    /// Names and shapes (outermost first) of every tensor of a base with `config`.
    pub fn layout(config: &BaseConfig) -> Vec<(String, Vec<usize>)> {
        let (h, kv) = (config.hidden, config.kv_heads * config.head_dim());
        let mut out = vec![("token_embd.weight".to_owned(), vec![config.vocab, h])];
        for i in 0..config.layers {
            let p = format!("blk.{i}");
            out.extend([
                (format!("{p}.attn_norm.weight"), vec![h]),
                (format!("{p}.attn_q.weight"), vec![h, h]),
                (format!("{p}.attn_k.weight"), vec![kv, h]),
                (format!("{p}.attn_v.weight"), vec![kv, h]),
                (format!("{p}.attn_output.weight"), vec![h, h]),
                (format!("{p}.ffn_norm.weight"), vec![h]),
                (format!("{p}.ffn_gate.weight"), vec![config.ffn, h]),
                (format!("{p}.ffn_up.weight"), vec![config.ffn, h]),
                (format!("{p}.ffn_down.weight"), vec![h, config.ffn]),
            ]);
        }
        out.push(("output_norm.weight".to_owned(), vec![h]));
        out.push(("output.weight".to_owned(), vec![config.vocab, h]));
        out
    }

    /// Randomly initialised weights (normal, std 0.02; norms 1), reproducible from `seed`.
    /// Matrices are stored F16, norm vectors F32 (as llama.cpp expects).
    pub fn random(config: &BaseConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut init = Init::new(seed);
        let mut tensors = Vec::new();
        for (name, shape) in Self::layout(config) {
            let tensor = if shape.len() == 1 {
                init.ones(&shape)?
            } else {
                init.normal(&shape, 0.02)?
            };
            tensors.push((name, tensor));
        }
        Self::from_f32(config, tensors)
    }

    /// Stores F32 tensors given in layout order: matrices F16, norm vectors F32.
    pub fn from_f32(config: &BaseConfig, tensors: Vec<(String, Tensor)>) -> Result<Self> {
        config.validate()?;
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| {
                let t = t.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
                let dtype = if t.rank() == 1 {
                    GgmlDType::F32
                } else {
                    BASE_MATRIX_DTYPE
                };
                Ok((name, QTensor::quantize(&t, dtype)?))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config: *config,
            tensors,
        })
    }

    /// Bytes the tensors occupy as stored.
    pub fn storage_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .map(|(_, t)| t.storage_size_in_bytes() as u64)
            .sum()
    }
}

struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::rms_norm(x, &self.weight, self.eps)?)
    }
}

struct Attention {
    q: QMatMul,
    k: QMatMul,
    v: QMatMul,
    o: QMatMul,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    cache: Option<(Tensor, Tensor)>,
}

impl Attention {
    fn forward(
        &mut self,
        x: &Tensor,
        rope: &Rope,
        offset: usize,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (b, seq, hidden) = x.dims3()?;
        let heads = |t: Tensor, n: usize| -> Result<Tensor> {
            Ok(t.reshape((b, seq, n, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = heads(self.q.forward(x)?, self.heads)?;
        let k = heads(self.k.forward(x)?, self.kv_heads)?;
        let v = heads(self.v.forward(x)?, self.kv_heads)?;
        let (cos, sin) = rope.at(offset, seq)?;
        let q = rope_i(&q, &cos, &sin)?;
        let k = rope_i(&k, &cos, &sin)?;
        let (k, v) = match &self.cache {
            Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
            None => (k, v),
        };
        self.cache = Some((k.clone(), v.clone()));
        let groups = self.heads / self.kv_heads;
        let (k, v) = (repeat_kv(k, groups)?, repeat_kv(v, groups)?);
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let y = softmax_last_dim(&scores)?.matmul(&v.contiguous()?)?;
        let y = y.transpose(1, 2)?.reshape((b, seq, hidden))?;
        Ok(self.o.forward(&y)?)
    }
}

/// Repeats key/value heads for grouped-query attention.
fn repeat_kv(x: Tensor, groups: usize) -> Result<Tensor> {
    if groups == 1 {
        return Ok(x);
    }
    let (b, kv, seq, d) = x.dims4()?;
    Ok(x.unsqueeze(2)?
        .expand((b, kv, groups, seq, d))?
        .reshape((b, kv * groups, seq, d))?)
}

struct Mlp {
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gated = (candle_nn::ops::silu(&self.gate.forward(x)?)? * self.up.forward(x)?)?;
        Ok(self.down.forward(&gated)?)
    }
}

struct Block {
    attn_norm: RmsNorm,
    attn: Attention,
    ffn_norm: RmsNorm,
    mlp: Mlp,
}

/// Precomputed rotary tables for every position of the context.
struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    fn new(config: &BaseConfig, device: &Device) -> Result<Self> {
        let (cos, sin) = rope_tables(config, config.context, device)?;
        Ok(Self { cos, sin })
    }

    fn at(&self, offset: usize, len: usize) -> Result<(Tensor, Tensor)> {
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

/// A loaded base core, ready to run.
pub struct BaseModel {
    config: BaseConfig,
    embed: Tensor,
    blocks: Vec<Block>,
    norm: RmsNorm,
    output: QMatMul,
    rope: Rope,
    device: Device,
    bytes: u64,
}

impl std::fmt::Debug for BaseModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseModel")
            .field("config", &self.config)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl BaseModel {
    /// Builds the model from its weights on `device`.
    pub fn new(weights: BaseWeights, device: &Device) -> Result<Self> {
        let config = weights.config;
        config.validate()?;
        let bytes = weights.storage_bytes();
        let mut by_name: HashMap<String, QTensor> = weights.tensors.into_iter().collect();
        let mut take = |name: String| -> Result<QTensor> {
            let t = by_name
                .remove(&name)
                .ok_or_else(|| RuntimeError::Config(format!("tensor `{name}` is missing")))?;
            to_device(t, device)
        };
        let matmul = |t: QTensor| -> Result<QMatMul> { Ok(QMatMul::from_qtensor(t)?) };
        let vector = |t: QTensor| -> Result<Tensor> { Ok(t.dequantize(device)?) };
        let eps = config.rms_eps;
        let embed = vector(take("token_embd.weight".into())?)?;
        let mut blocks = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let p = format!("blk.{i}");
            blocks.push(Block {
                attn_norm: RmsNorm {
                    weight: vector(take(format!("{p}.attn_norm.weight"))?)?,
                    eps,
                },
                attn: Attention {
                    q: matmul(take(format!("{p}.attn_q.weight"))?)?,
                    k: matmul(take(format!("{p}.attn_k.weight"))?)?,
                    v: matmul(take(format!("{p}.attn_v.weight"))?)?,
                    o: matmul(take(format!("{p}.attn_output.weight"))?)?,
                    heads: config.heads,
                    kv_heads: config.kv_heads,
                    head_dim: config.head_dim(),
                    cache: None,
                },
                ffn_norm: RmsNorm {
                    weight: vector(take(format!("{p}.ffn_norm.weight"))?)?,
                    eps,
                },
                mlp: Mlp {
                    gate: matmul(take(format!("{p}.ffn_gate.weight"))?)?,
                    up: matmul(take(format!("{p}.ffn_up.weight"))?)?,
                    down: matmul(take(format!("{p}.ffn_down.weight"))?)?,
                },
            });
        }
        let norm = RmsNorm {
            weight: vector(take("output_norm.weight".into())?)?,
            eps,
        };
        let output = matmul(take("output.weight".into())?)?;
        Ok(Self {
            config,
            embed,
            blocks,
            norm,
            output,
            rope: Rope::new(&config, device)?,
            device: device.clone(),
            bytes,
        })
    }

    /// A randomly initialised base (see [`BaseWeights::random`]).
    pub fn random(config: &BaseConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::new(BaseWeights::random(config, seed)?, device)
    }

    /// The model's shape.
    pub fn config(&self) -> &BaseConfig {
        &self.config
    }

    /// The device it runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Bytes of its weights as stored (what it occupies in the memory budget).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Forgets the KV cache (start of a new sequence).
    pub fn clear_kv_cache(&mut self) {
        for block in &mut self.blocks {
            block.attn.cache = None;
        }
    }

    /// Final-norm hidden states `[seq, hidden]` for `tokens` at positions `offset..`,
    /// extending the KV cache; `plug` adds its delta after its insertion layer.
    pub fn hidden_states(
        &mut self,
        tokens: &[u32],
        offset: usize,
        plug: Option<&dyn HiddenPlug>,
    ) -> Result<Tensor> {
        let seq = tokens.len();
        if seq == 0 {
            return Err(RuntimeError::Config("no tokens to run".into()));
        }
        if offset + seq > self.config.context {
            return Err(RuntimeError::Config(format!(
                "{} tokens exceed the base's context of {}",
                offset + seq,
                self.config.context
            )));
        }
        let ids = Tensor::new(tokens, &self.device)?;
        let mut h = self.embed.index_select(&ids, 0)?.unsqueeze(0)?;
        let mask = causal_mask(seq, offset, &self.device)?;
        for (i, block) in self.blocks.iter_mut().enumerate() {
            let attn = block.attn.forward(
                &block.attn_norm.forward(&h)?,
                &self.rope,
                offset,
                mask.as_ref(),
            )?;
            h = (h + attn)?;
            let mlp = block.mlp.forward(&block.ffn_norm.forward(&h)?)?;
            h = (h + mlp)?;
            if let Some(plug) = plug.filter(|p| p.insertion_layer() == i) {
                h = (&h + plug.delta(&h)?)?;
            }
        }
        Ok(self.norm.forward(&h)?.squeeze(0)?)
    }

    /// Logits `[seq, vocab]` for `tokens` at positions `offset..` (see [`Self::hidden_states`]).
    pub fn forward(
        &mut self,
        tokens: &[u32],
        offset: usize,
        plug: Option<&dyn HiddenPlug>,
    ) -> Result<Tensor> {
        let h = self.hidden_states(tokens, offset, plug)?;
        Ok(self.output.forward(&h)?)
    }

    /// The prompt's mean-pooled final hidden state `[hidden]`, without any pack; leaves the
    /// KV cache empty.
    pub fn pooled_hidden(&mut self, tokens: &[u32]) -> Result<Tensor> {
        self.clear_kv_cache();
        let pooled = self.hidden_states(tokens, 0, None)?.mean(0)?;
        self.clear_kv_cache();
        Ok(pooled)
    }
}

/// Moves a tensor read on the CPU to `device` (no copy when that is the CPU).
pub(crate) fn to_device(t: QTensor, device: &Device) -> Result<QTensor> {
    if device.same_device(&t.device()) {
        return Ok(t);
    }
    let data = t.data()?;
    Ok(candle_core::quantized::ggml_file::qtensor_from_ggml(
        t.dtype(),
        &data,
        t.shape().dims().to_vec(),
        device,
    )?)
}

/// `-inf` above the diagonal (shifted by `offset` cached positions); none for one token.
pub(crate) fn causal_mask(seq: usize, offset: usize, device: &Device) -> Result<Option<Tensor>> {
    if seq == 1 {
        return Ok(None);
    }
    let total = offset + seq;
    let values: Vec<f32> = (0..seq)
        .flat_map(|i| {
            (0..total).map(move |j| {
                if j > offset + i {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Ok(Some(Tensor::from_vec(values, (seq, total), device)?))
}

/// The index of the largest logit of the last row.
pub(crate) fn last_row(logits: &Tensor) -> Result<Tensor> {
    let seq = logits.dim(0)?;
    Ok(logits.get(seq - 1)?.to_dtype(DType::F32)?)
}
