//! The base core: KV-cache decoding equals full recomputation, GGUF round trips, seeds.

#![allow(clippy::unwrap_used)]

mod common;

use candle_core::Tensor;
use modularbase_runtime::{
    BaseConfig, BaseModel, ByteTokenizer, Sampling, generate, read_base_gguf, write_base_gguf,
};

fn small() -> BaseConfig {
    BaseConfig {
        hidden: 64,
        layers: 3,
        heads: 4,
        kv_heads: 2,
        ffn: 96,
        context: 128,
        ..BaseConfig::default()
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

#[test]
fn kv_cache_generation_equals_recomputing_everything() {
    let mut base = BaseModel::random(&small(), 11, &common::device()).unwrap();
    let prompt = ByteTokenizer.encode("fn main() {");
    let cached = generate(&mut base, None, &prompt, 12, &Sampling::greedy()).unwrap();

    let mut tokens = prompt.clone();
    let mut uncached = Vec::new();
    for _ in 0..12 {
        base.clear_kv_cache();
        let logits = base.forward(&tokens, 0, None).unwrap();
        let last = logits.get(tokens.len() - 1).unwrap();
        let next = last.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        uncached.push(next);
        tokens.push(next);
    }
    assert_eq!(cached, uncached);

    // And the logits themselves agree position by position.
    base.clear_kv_cache();
    let full = base.forward(&tokens, 0, None).unwrap();
    base.clear_kv_cache();
    let head = base.forward(&tokens[..5], 0, None).unwrap();
    let mut rows = vec![head];
    for (i, t) in tokens[5..].iter().enumerate() {
        rows.push(base.forward(&[*t], 5 + i, None).unwrap());
    }
    let stepped = Tensor::cat(&rows, 0).unwrap();
    assert!(
        max_abs_diff(&full, &stepped) < 1e-4,
        "{}",
        max_abs_diff(&full, &stepped)
    );
}

#[test]
fn the_same_seed_gives_the_same_model_and_samples() {
    let prompt = ByteTokenizer.encode("hello");
    let sampling = Sampling {
        temperature: 0.9,
        top_p: 0.9,
        seed: 5,
    };
    let mut a = BaseModel::random(&small(), 3, &common::device()).unwrap();
    let mut b = BaseModel::random(&small(), 3, &common::device()).unwrap();
    assert_eq!(
        generate(&mut a, None, &prompt, 20, &sampling).unwrap(),
        generate(&mut b, None, &prompt, 20, &sampling).unwrap()
    );
    let mut c = BaseModel::random(&small(), 4, &common::device()).unwrap();
    let la = a.forward(&prompt, 0, None).unwrap();
    let lc = c.forward(&prompt, 0, None).unwrap();
    assert!(
        max_abs_diff(&la, &lc) > 1e-3,
        "different seeds must give different weights"
    );
}

#[test]
fn a_base_survives_a_gguf_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.gguf");
    let weights = modularbase_runtime::BaseWeights::random(&small(), 9).unwrap();
    write_base_gguf(&path, &weights, "tiny_base").unwrap();
    let read = read_base_gguf(&path).unwrap();
    assert_eq!(read.config, small());
    let prompt = ByteTokenizer.encode("round trip");
    let mut original = BaseModel::new(weights, &common::device()).unwrap();
    let mut loaded = BaseModel::new(read, &common::device()).unwrap();
    let diff = max_abs_diff(
        &original.forward(&prompt, 0, None).unwrap(),
        &loaded.forward(&prompt, 0, None).unwrap(),
    );
    assert_eq!(diff, 0.0);
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let mut base = BaseModel::random(&small(), 1, &common::device()).unwrap();
    let err = base.forward(&vec![65; 200], 0, None).unwrap_err();
    assert!(
        err.to_string().contains("exceed the base's context of 128"),
        "{err}"
    );
}
