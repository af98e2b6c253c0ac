//! Sampling (greedy, temperature, top-p, seeded) and the generation loop with a KV cache.

use candle_core::{DType, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

use crate::base::{BaseModel, HiddenPlug, last_row};
use crate::error::Result;

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// 0 picks the most likely token (greedy); higher flattens the distribution.
    pub temperature: f64,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches this.
    pub top_p: f64,
    /// Seed of the sampler's random numbers.
    pub seed: u64,
}

impl Sampling {
    /// Always the most likely token.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

/// Chooses a token id from `logits` (`[vocab]`).
pub fn sample_token(logits: &Tensor, sampling: &Sampling, rng: &mut StdRng) -> Result<u32> {
    let logits: Vec<f32> = logits.to_dtype(DType::F32)?.to_vec1()?;
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32)
    };
    if sampling.temperature <= 0.0 {
        return Ok(argmax());
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(usize, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| (i, (f64::from(l - max) / sampling.temperature).exp()))
        .collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut kept = Vec::new();
    let mut mass = 0.0;
    for (i, p) in probs {
        let p = p / total;
        kept.push((i, p));
        mass += p;
        if mass >= sampling.top_p {
            break;
        }
    }
    let mut pick = rng.random::<f64>() * mass;
    for (i, p) in &kept {
        pick -= p;
        if pick <= 0.0 {
            return Ok(*i as u32);
        }
    }
    Ok(kept.last().map_or_else(argmax, |(i, _)| *i as u32))
}

/// How long a generation took: the prompt's one forward pass, then each decoded token.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerationStats {
    /// Prompt tokens run.
    pub prompt_tokens: usize,
    /// Seconds the prompt took (up to the first token's logits).
    pub prompt_seconds: f64,
    /// Tokens generated.
    pub decode_tokens: usize,
    /// Seconds spent generating after the prompt.
    pub decode_seconds: f64,
}

impl GenerationStats {
    /// Prompt tokens per second.
    pub fn prompt_per_second(&self) -> f64 {
        rate(self.prompt_tokens, self.prompt_seconds)
    }

    /// Generated tokens per second (each needs one forward pass after the first).
    pub fn decode_per_second(&self) -> f64 {
        rate(self.decode_tokens.saturating_sub(1), self.decode_seconds)
    }
}

fn rate(tokens: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        tokens as f64 / seconds
    } else {
        0.0
    }
}

/// Generates up to `max_tokens` after `prompt`, stopping at the base's stop tokens (EOS,
/// end of turn); the prompt runs once and each new token reuses the KV cache.
pub fn generate(
    base: &mut BaseModel,
    plug: Option<&dyn HiddenPlug>,
    prompt: &[u32],
    max_tokens: usize,
    sampling: &Sampling,
) -> Result<Vec<u32>> {
    Ok(generate_timed(base, plug, prompt, max_tokens, sampling)?.0)
}

/// [`generate`], with how long the prompt and the decoding took.
pub fn generate_timed(
    base: &mut BaseModel,
    plug: Option<&dyn HiddenPlug>,
    prompt: &[u32],
    max_tokens: usize,
    sampling: &Sampling,
) -> Result<(Vec<u32>, GenerationStats)> {
    let mut rng = StdRng::seed_from_u64(sampling.seed);
    base.clear_kv_cache();
    let room = base.config().context.saturating_sub(prompt.len());
    let mut out = Vec::new();
    let started = Instant::now();
    let mut logits = last_row(&base.forward(prompt, 0, plug)?)?;
    let prompt_seconds = started.elapsed().as_secs_f64();
    let decoding = Instant::now();
    for step in 0..max_tokens.min(room) {
        let token = sample_token(&logits, sampling, &mut rng)?;
        if base.vocab().stop_tokens().contains(&token) {
            break;
        }
        out.push(token);
        if step + 1 == max_tokens.min(room) {
            break;
        }
        logits = last_row(&base.forward(&[token], prompt.len() + step, plug)?)?;
    }
    base.clear_kv_cache();
    let stats = GenerationStats {
        prompt_tokens: prompt.len(),
        prompt_seconds,
        decode_tokens: out.len(),
        decode_seconds: decoding.elapsed().as_secs_f64(),
    };
    Ok((out, stats))
}
