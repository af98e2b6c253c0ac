//! The base core: a llama-style decoder (RMSNorm, RoPE, grouped-query attention with a KV
//! cache, SwiGLU) whose weights use llama.cpp's GGUF names.
//!
//! Packs plug in through [`HiddenPlug`]: after block `insertion_layer` the hidden stream
//! becomes `h + plug.delta(h)`. Matrices stay as stored (quantized or F16) and run through
//! candle's quantized matmul; the file layout lives in `weights.rs`.

mod attention;
mod embedding;
mod linear;
mod rope;
mod segment;
mod weights;

pub(crate) use rope::rope_tables;
pub use segment::{KvCache, Segment};
pub(crate) use weights::read_base_gguf_with_provenance;
pub use weights::{BaseWeights, GeneralInfo, read_base_gguf, write_base_gguf};

use attention::Attention;
use rope::Rope;

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Tensor};

use crate::config::BaseConfig;
use crate::error::{Result, RuntimeError};
use crate::vocab::Vocab;
use embedding::Embedding;
use linear::{Linear, LinearInput};

/// Something that adds to the base's hidden stream at one layer (a pack).
pub trait HiddenPlug {
    /// The 0-based block after which the delta is added.
    fn insertion_layer(&self) -> usize;
    /// The delta for hidden states `h` of shape `[batch, seq, hidden]`.
    fn delta(&self, h: &Tensor) -> Result<Tensor>;
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

struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Mlp {
    /// The feed-forward of `x`; `apart`: its rows are different sequences.
    fn forward(&self, x: &Tensor, apart: bool) -> Result<Tensor> {
        let input = LinearInput::with_rows(x, apart);
        let gated =
            (candle_nn::ops::silu(&self.gate.forward(&input)?)? * self.up.forward(&input)?)?;
        self.down.forward(&LinearInput::with_rows(&gated, apart))
    }
}

struct Block {
    attn_norm: RmsNorm,
    attn: Attention,
    ffn_norm: RmsNorm,
    mlp: Mlp,
}

/// A loaded base core, ready to run.
pub struct BaseModel {
    config: BaseConfig,
    embed: Embedding,
    blocks: Vec<Block>,
    norm: RmsNorm,
    output: Linear,
    rope: Rope,
    device: Device,
    bytes: u64,
    vocab: Vocab,
    /// The sequence of the single-sequence calls ([`Self::forward`] and friends).
    kv: KvCache,
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
        let vocab = weights.vocab;
        let mut by_name: HashMap<String, QTensor> = weights.tensors.into_iter().collect();
        let table =
            Arc::new(by_name.remove("token_embd.weight").ok_or_else(|| {
                RuntimeError::Config("tensor `token_embd.weight` is missing".into())
            })?);
        let mut take = |name: String| -> Result<QTensor> {
            by_name
                .remove(&name)
                .ok_or_else(|| RuntimeError::Config(format!("tensor `{name}` is missing")))
        };
        let matmul = |t: QTensor| Linear::new(t, device);
        let vector = |t: QTensor| -> Result<Tensor> { Ok(t.dequantize(device)?) };
        let eps = config.rms_eps;
        let embed = Embedding::new(table.clone(), device)?;
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
        let output = if config.tied_embeddings {
            if device.same_device(&table.device()) {
                Linear::Plain(QMatMul::from_arc(table)?)
            } else {
                Linear::Plain(QMatMul::from_qtensor(copy_to_device(&table, device)?)?)
            }
        } else {
            matmul(take("output.weight".into())?)?
        };
        Ok(Self {
            config,
            embed,
            blocks,
            norm,
            output,
            rope: Rope::new(&config, device)?,
            device: device.clone(),
            bytes,
            vocab,
            kv: KvCache::new(),
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

    /// Its tokenizer, stop tokens and chat template.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The device it runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Bytes of its weights as stored (what it occupies in the memory budget).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Keeps every quantized matrix as F32 from now on, for batch work on the CPU where
    /// memory is plentiful (training, evaluation, routers): no matrix is dequantized again
    /// per product. It costs 4 bytes per weight (540 MB for SmolLM2-135M) and [`Self::bytes`]
    /// still counts the stored bytes, so a runtime under a memory budget never does this.
    pub fn keep_matrices_dense(&mut self) -> Result<()> {
        for block in &mut self.blocks {
            let a = &mut block.attn;
            let m = &mut block.mlp;
            for linear in [&mut a.q, &mut a.k, &mut a.v, &mut a.o] {
                linear.keep_dense()?;
            }
            for linear in [&mut m.gate, &mut m.up, &mut m.down] {
                linear.keep_dense()?;
            }
        }
        self.output.keep_dense()
    }

    /// Forgets the KV cache of the single-sequence calls (start of a new sequence).
    pub fn clear_kv_cache(&mut self) {
        self.kv.clear();
    }

    /// Final-norm hidden states `[seq, hidden]` for `tokens` at positions `offset..`,
    /// extending the single-sequence KV cache (which must hold exactly `offset` positions:
    /// clear it for `offset` 0); `plug` adds its delta after its insertion layer.
    pub fn hidden_states(
        &mut self,
        tokens: &[u32],
        offset: usize,
        plug: Option<&dyn HiddenPlug>,
    ) -> Result<Tensor> {
        if offset == 0 {
            self.kv.clear();
        }
        if offset != self.kv.len() {
            return Err(RuntimeError::Config(format!(
                "position {offset} does not follow the {} cached positions",
                self.kv.len()
            )));
        }
        let mut kv = std::mem::take(&mut self.kv);
        let hidden = self.hidden_segments(&mut [Segment::new(tokens, &mut kv, plug)]);
        self.kv = kv;
        hidden
    }

    /// Final-norm hidden states `[total, hidden]` of several sequences in one forward pass:
    /// each segment's tokens continue its own cache, rows in segment order. The matrix
    /// products run once over all rows; attention and packs run per segment. With more than
    /// one segment every row gets exactly what its sequence would get alone provided each
    /// segment is one token (a decode step): products are computed row-independently then
    /// (see `Linear`), never densely over a copy, so run prompts in passes of their own.
    pub fn hidden_segments(&mut self, segments: &mut [Segment<'_>]) -> Result<Tensor> {
        let mut tokens = Vec::new();
        let mut masks = Vec::with_capacity(segments.len());
        for segment in segments.iter_mut() {
            self.check_segment(segment)?;
            if segment.cache.layers.len() != self.config.layers {
                segment.cache.layers = vec![None; self.config.layers];
            }
            tokens.extend_from_slice(segment.tokens);
            masks.push(causal_mask(
                segment.tokens.len(),
                segment.offset,
                &self.device,
            )?);
        }
        if tokens.is_empty() {
            return Err(RuntimeError::Config("no tokens to run".into()));
        }
        let end = segments
            .iter()
            .map(|s| s.offset + s.tokens.len())
            .max()
            .unwrap_or(0);
        self.rope.cover(end)?;
        let mut h = self.embed.forward(&tokens)?.unsqueeze(0)?;
        for (i, block) in self.blocks.iter().enumerate() {
            let attn = block.attn.forward(
                &block.attn_norm.forward(&h)?,
                &self.rope,
                segments,
                i,
                &masks,
            )?;
            h = (h + attn)?;
            let mlp = block
                .mlp
                .forward(&block.ffn_norm.forward(&h)?, segments.len() > 1)?;
            h = (h + mlp)?;
            h = plug_deltas(h, segments, i)?;
        }
        for segment in segments.iter_mut() {
            segment.cache.len = segment.offset + segment.tokens.len();
            segment.offset = segment.cache.len;
        }
        Ok(self.norm.forward(&h)?.squeeze(0)?)
    }

    /// Logits `[segments, vocab]` of each segment's last token, in one forward pass (see
    /// [`Self::hidden_segments`]): a decode step for many sequences at once.
    pub fn last_logits(&mut self, segments: &mut [Segment<'_>]) -> Result<Tensor> {
        let mut last = Vec::with_capacity(segments.len());
        let mut end = 0u32;
        for segment in segments.iter() {
            end += segment.tokens.len() as u32;
            last.push(end.saturating_sub(1));
        }
        let h = self.hidden_segments(segments)?;
        let rows = if last.len() == h.dim(0)? {
            h
        } else {
            h.index_select(&Tensor::new(last.as_slice(), &self.device)?, 0)?
        };
        let apart = segments.len() > 1;
        Ok(self
            .output
            .forward(&LinearInput::with_rows(&rows, apart))?
            .to_dtype(DType::F32)?)
    }

    /// Refuses a segment that is empty, runs past the context or holds a token outside the
    /// vocabulary.
    fn check_segment(&self, segment: &Segment<'_>) -> Result<()> {
        let seq = segment.tokens.len();
        if seq == 0 {
            return Err(RuntimeError::Config("no tokens to run".into()));
        }
        if segment.offset + seq > self.config.context {
            return Err(RuntimeError::Config(format!(
                "{} tokens exceed the base's context of {}",
                segment.offset + seq,
                self.config.context
            )));
        }
        if let Some(&bad) = segment
            .tokens
            .iter()
            .find(|&&t| t as usize >= self.config.vocab)
        {
            return Err(RuntimeError::Config(format!(
                "token {bad} is outside the base's vocabulary of {}",
                self.config.vocab
            )));
        }
        Ok(())
    }

    /// Logits `[seq, vocab]` for `tokens` at positions `offset..` (see [`Self::hidden_states`]).
    pub fn forward(
        &mut self,
        tokens: &[u32],
        offset: usize,
        plug: Option<&dyn HiddenPlug>,
    ) -> Result<Tensor> {
        let h = self.hidden_states(tokens, offset, plug)?;
        self.output.forward(&LinearInput::new(&h))
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

/// `h` (`[1, total, hidden]`) with each segment's pack, if it plugs in after block `layer`,
/// added to that segment's rows. Each segment goes through its pack on its own, so its rows
/// get what they would alone (a pack's float products order their sums by the row count).
fn plug_deltas<'a>(h: Tensor, segments: &[Segment<'a>], layer: usize) -> Result<Tensor> {
    let plugged = |s: &Segment<'a>| s.plug.filter(|p| p.insertion_layer() == layer);
    if segments.iter().all(|s| plugged(s).is_none()) {
        return Ok(h);
    }
    if let [only] = segments
        && let Some(plug) = plugged(only)
    {
        return Ok((&h + plug.delta(&h)?)?);
    }
    let mut rows = Vec::with_capacity(segments.len());
    let mut start = 0;
    for segment in segments {
        let len = segment.tokens.len();
        let part = h.narrow(1, start, len)?;
        rows.push(match plugged(segment) {
            Some(plug) => (&part + plug.delta(&part)?)?,
            None => part,
        });
        start += len;
    }
    Ok(Tensor::cat(&rows, 1)?)
}

/// Moves a tensor read on the CPU to `device` (no copy when that is the CPU).
pub(crate) fn to_device(t: QTensor, device: &Device) -> Result<QTensor> {
    if device.same_device(&t.device()) {
        return Ok(t);
    }
    copy_to_device(&t, device)
}

/// A copy of `t` on `device`.
fn copy_to_device(t: &QTensor, device: &Device) -> Result<QTensor> {
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
