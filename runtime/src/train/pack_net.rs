//! A pack's network written with differentiable operations: input adapter, a top-k gated
//! mixture of experts computed densely (unchosen experts weigh zero, exactly as the sparse
//! runtime layer computes it), output adapter, plus the load-balancing loss that keeps the
//! gate from sending every token to the same experts.

use candle_core::{D, DType, Tensor};

use crate::error::Result;
use crate::pack_module::PackConfig;
use crate::train::forward::{Named, linear};

/// The pack's delta for hidden states `h` `[batch, seq, hidden]`, and its balance loss
/// (1.0 when tokens spread evenly over the experts, up to `experts` when they collapse).
pub(crate) fn pack_delta(config: &PackConfig, t: &Named, h: &Tensor) -> Result<(Tensor, Tensor)> {
    let z = linear(h, t.get("pack.in.weight")?)?;
    let (b, s, width) = z.dims3()?;
    let z = z.reshape((b * s, width))?;
    let probs = candle_nn::ops::softmax(&linear(&z, t.get("pack.gate.weight")?)?, D::Minus1)?;
    let mask = top_k_mask(&probs, config.top_k)?;
    let chosen = (&probs * &mask)?;
    let weights = chosen.broadcast_div(&chosen.sum_keepdim(D::Minus1)?)?;
    let mut y: Option<Tensor> = None;
    for e in 0..config.experts {
        let up = t.get(&format!("pack.expert.{e}.up.weight"))?;
        let down = t.get(&format!("pack.expert.{e}.down.weight"))?;
        let out =
            linear(&linear(&z, up)?.silu()?, down)?.broadcast_mul(&weights.narrow(1, e, 1)?)?;
        y = Some(match y {
            Some(acc) => (acc + out)?,
            None => out,
        });
    }
    let y = y.ok_or_else(|| crate::RuntimeError::Config("a pack needs experts".into()))?;
    let delta = linear(&y, t.get("pack.out.weight")?)?.reshape((b, s, config.hidden))?;
    // Switch-Transformer balance: experts * sum_e(share of routed tokens_e * mean gate prob_e).
    let share = (mask.mean(0)? / config.top_k as f64)?;
    let balance = ((share * probs.mean(0)?)?.sum_all()? * config.experts as f64)?;
    Ok((delta, balance))
}

/// 1 where an expert is among a row's `k` most probable, else 0 (ties to the lower index,
/// as the runtime's router breaks them).
fn top_k_mask(probs: &Tensor, k: usize) -> Result<Tensor> {
    let rows: Vec<Vec<f32>> = probs.to_dtype(DType::F32)?.to_vec2()?;
    let experts = rows.first().map_or(0, Vec::len);
    let mut mask = vec![0f32; rows.len() * experts];
    for (r, row) in rows.iter().enumerate() {
        let mut ranked: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for &(e, _) in ranked.iter().take(k) {
            mask[r * experts + e] = 1.0;
        }
    }
    Ok(Tensor::from_vec(
        mask,
        (rows.len(), experts),
        probs.device(),
    )?)
}
