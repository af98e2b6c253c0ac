//! A block's self-attention: the projections over every row of a pass, the rotary
//! embedding and F16 rounding, and attention per sequence against its own cache.

use candle_core::{DType, Tensor};
use candle_nn::ops::softmax_last_dim;
use candle_nn::rotary_emb::rope_i;

use super::linear::{Linear, LinearInput};
use super::rope::Rope;
use super::segment::Segment;
use crate::error::Result;

/// One block's grouped-query self-attention.
pub(super) struct Attention {
    pub(super) q: Linear,
    pub(super) k: Linear,
    pub(super) v: Linear,
    pub(super) o: Linear,
    pub(super) heads: usize,
    pub(super) kv_heads: usize,
    pub(super) head_dim: usize,
}

impl Attention {
    /// Attention over `x` (`[1, total, hidden]`: the segments' tokens side by side): the
    /// projections run on all rows at once, the attention itself per segment against that
    /// segment's own cache, positions and mask.
    pub(super) fn forward(
        &self,
        x: &Tensor,
        rope: &Rope,
        segments: &mut [Segment<'_>],
        layer: usize,
        masks: &[Option<Tensor>],
    ) -> Result<Tensor> {
        let apart = segments.len() > 1;
        let input = LinearInput::with_rows(x, apart);
        let (q_all, k_all, v_all) = (
            self.q.forward(&input)?,
            self.k.forward(&input)?,
            self.v.forward(&input)?,
        );
        let mut outputs = Vec::with_capacity(segments.len());
        if apart && segments.iter().all(|s| s.tokens.len() == 1) {
            // A decode step: the rows' own positions side by side as the "sequence" axis,
            // so the rotary embedding and the F16 rounding run once over all of them
            // (element by element: each row gets what it gets alone).
            let positions: Vec<u32> = segments.iter().map(|s| s.offset as u32).collect();
            let (cos, sin) = rope.rows(&positions)?;
            let rows = segments.len();
            let heads = |t: &Tensor, n: usize| -> Result<Tensor> {
                Ok(t.reshape((1, rows, n, self.head_dim))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let q = round_to_f16(rope_i(&heads(&q_all, self.heads)?, &cos, &sin)?)?;
            let k = round_to_f16(rope_i(&heads(&k_all, self.kv_heads)?, &cos, &sin)?)?;
            let v = round_to_f16(heads(&v_all, self.kv_heads)?)?;
            for (i, segment) in segments.iter_mut().enumerate() {
                let row = |t: &Tensor| -> Result<Tensor> { Ok(t.narrow(2, i, 1)?.contiguous()?) };
                let slot = &mut segment.cache.layers[layer];
                outputs.push(self.attend(row(&q)?, row(&k)?, row(&v)?, slot, None)?);
            }
        } else {
            let mut start = 0;
            for (segment, mask) in segments.iter_mut().zip(masks) {
                let seq = segment.tokens.len();
                let rows = |t: &Tensor, n: usize| -> Result<Tensor> {
                    Ok(t.narrow(1, start, seq)?
                        .reshape((1, seq, n, self.head_dim))?
                        .transpose(1, 2)?
                        .contiguous()?)
                };
                let (cos, sin) = rope.at(segment.offset, seq)?;
                let q = round_to_f16(rope_i(&rows(&q_all, self.heads)?, &cos, &sin)?)?;
                let k = round_to_f16(rope_i(&rows(&k_all, self.kv_heads)?, &cos, &sin)?)?;
                let v = round_to_f16(rows(&v_all, self.kv_heads)?)?;
                let slot = &mut segment.cache.layers[layer];
                outputs.push(self.attend(q, k, v, slot, mask.as_ref())?);
                start += seq;
            }
        }
        let y = if outputs.len() == 1 {
            outputs.remove(0)
        } else {
            Tensor::cat(&outputs, 1)?
        };
        self.o.forward(&LinearInput::with_rows(&y, apart))
    }

    /// One segment's attention: its queries, keys and values `[1, heads, seq, head_dim]`
    /// (rotated, rounded), the keys and values appended to its cache `slot`; the output
    /// `[1, seq, hidden]`.
    fn attend(
        &self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        slot: &mut Option<(Tensor, Tensor)>,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let seq = q.dim(2)?;
        let (k, v) = match slot.as_ref() {
            Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
            None => (k, v),
        };
        *slot = Some((k.clone(), v.clone()));
        let groups = self.heads / self.kv_heads;
        let (k, v) = (repeat_kv(k, groups)?, repeat_kv(v, groups)?);
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let y = softmax_last_dim(&scores)?.matmul(&v.contiguous()?)?;
        Ok(y.transpose(1, 2)?
            .reshape((1, seq, self.heads * self.head_dim))?)
    }
}

/// `t` rounded to F16 precision (kept F32): attention's queries, keys and values carry F16
/// precision, as in llama.cpp, whose KV cache is F16 and which multiplies queries by it in
/// F16. Matching it matters: SmolLM2's greedy tokens follow llama.cpp's for 2–3× as many
/// steps with it than with F32 attention (`tests/llamacpp_parity.rs`).
fn round_to_f16(t: Tensor) -> Result<Tensor> {
    Ok(t.to_dtype(DType::F16)?.to_dtype(DType::F32)?)
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
