//! Training: loss goes down, alignment touches only the input adapter, evaluations repeat
//! with a seed, interrupted runs resume, and a trained router tells domains apart.

#![allow(clippy::unwrap_used)]

mod common;

use candle_core::Device;
use modularbase_pack::ExpertFormat;
use modularbase_runtime::train::{
    Corpus, TrainOptions, align_pack, pack_key, pooled_snippets, train_base, train_pack,
    train_router,
};
use modularbase_runtime::{
    BaseConfig, BaseModel, BaseWeights, PackConfig, PackModule, PackWeights, Router, bits_per_byte,
};

fn config() -> BaseConfig {
    BaseConfig {
        hidden: 64,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        ffn: 128,
        context: 128,
        ..BaseConfig::default()
    }
}

fn options(steps: usize, seed: u64) -> TrainOptions {
    TrainOptions {
        steps,
        batch: 8,
        seq: 64,
        lr: 5e-3,
        seed,
        ..TrainOptions::default()
    }
}

/// Text with plain structure a tiny model picks up in a few steps.
fn prose() -> Corpus {
    let mut text = String::new();
    for i in 0..400 {
        text.push_str(&format!("the cat sat on the mat number {i}. "));
    }
    Corpus::split(text.as_bytes())
}

fn code() -> Corpus {
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(&format!("def f{i}(x):\n    return x * {i} + 1\n\n"));
    }
    Corpus::split(text.as_bytes())
}

fn pack_config(format: ExpertFormat) -> PackConfig {
    PackConfig {
        width: 32,
        expert_ffn: 32,
        expert_format: format,
        ..PackConfig::for_base(64, 1)
    }
}

/// A pack trained for `steps` on code over `base`, with an identity-router key.
fn trained_pack(base: &BaseWeights, steps: usize, seed: u64) -> PackWeights {
    let device = common::device();
    let config = pack_config(ExpertFormat::Q8_0);
    let (mut tensors, _) = train_pack(
        base,
        &config,
        &code(),
        &options(steps, seed),
        &device,
        &mut |_| {},
    )
    .unwrap();
    let mut model = BaseModel::new(clone_base(base), &device).unwrap();
    let snippets = Corpus::snippets(&code().train, 8, 32, 64, seed);
    let key = pack_key(&mut model, &Router::identity(), &snippets).unwrap();
    tensors.push(("pack.key".to_owned(), key));
    PackWeights::from_f32(config, tensors).unwrap()
}

fn clone_base(base: &BaseWeights) -> BaseWeights {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("base.gguf");
    modularbase_runtime::write_base_gguf(&path, base, "b").unwrap();
    modularbase_runtime::read_base_gguf(&path).unwrap()
}

fn base_bpb(base: &BaseWeights, text: &[u8]) -> f64 {
    let mut model = BaseModel::new(clone_base(base), &common::device()).unwrap();
    bits_per_byte(&mut model, None, text, 100).unwrap().value()
}

#[test]
fn a_short_base_training_run_lowers_the_loss_and_held_out_bits_per_byte() {
    let corpus = prose();
    let random = BaseWeights::random(&config(), 1).unwrap();
    let (trained, summary) = train_base(
        &corpus,
        &config(),
        None,
        &options(40, 1),
        &common::device(),
        &mut |_| {},
    )
    .unwrap();
    assert!(
        summary.last_loss < summary.first_loss * 0.7,
        "loss went from {} to {}",
        summary.first_loss,
        summary.last_loss
    );
    let (before, after) = (
        base_bpb(&random, &corpus.held_out),
        base_bpb(&trained, &corpus.held_out),
    );
    assert!(
        after < before * 0.7,
        "held-out bits per byte {before} -> {after}"
    );
}

#[test]
fn a_pack_lowers_bits_per_byte_on_its_domain() {
    let device = common::device();
    let (base, _) = train_base(
        &prose(),
        &config(),
        None,
        &options(30, 2),
        &device,
        &mut |_| {},
    )
    .unwrap();
    let pack = trained_pack(&base, 40, 3);
    let held_out = code().held_out;
    let mut model = BaseModel::new(clone_base(&base), &device).unwrap();
    let alone = bits_per_byte(&mut model, None, &held_out, 100)
        .unwrap()
        .value();
    let module = PackModule::new(pack, &device).unwrap();
    let with_pack = bits_per_byte(&mut model, Some(&module), &held_out, 100)
        .unwrap()
        .value();
    assert!(
        with_pack < alone * 0.9,
        "base {alone}, with pack {with_pack}"
    );
}

#[test]
fn alignment_changes_only_the_input_adapter() {
    let device = common::device();
    let old_base = BaseWeights::random(&config(), 4).unwrap();
    let (new_base, _) = train_base(
        &prose(),
        &config(),
        Some(&old_base),
        &options(5, 4),
        &device,
        &mut |_| {},
    )
    .unwrap();
    let pack = trained_pack(&old_base, 5, 5);
    let before: Vec<(String, Vec<u8>)> = pack
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.data().unwrap().to_vec()))
        .collect();
    let (aligned, _) = align_pack(
        &new_base,
        pack,
        &Corpus::mix(&[prose(), code()]),
        &options(5, 6),
        &device,
        &mut |_| {},
    )
    .unwrap();
    for ((name, old), (new_name, new)) in before.iter().zip(&aligned.tensors) {
        assert_eq!(name, new_name);
        let same = old.as_slice() == &*new.data().unwrap();
        if name == "pack.in.weight" {
            assert!(!same, "the input adapter did not change");
        } else {
            assert!(same, "`{name}` changed");
        }
    }
}

#[test]
fn evaluations_repeat_with_the_same_seed_and_differ_with_another() {
    let device = common::device();
    let base = BaseWeights::random(&config(), 7).unwrap();
    let score = |seed| {
        let pack = PackModule::new(trained_pack(&base, 6, seed), &device).unwrap();
        let mut model = BaseModel::new(clone_base(&base), &device).unwrap();
        bits_per_byte(&mut model, Some(&pack), &code().held_out, 100).unwrap()
    };
    let (a, b, c) = (score(11), score(11), score(12));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn an_interrupted_run_resumes_from_its_checkpoint() {
    let device = common::device();
    let dir = tempfile::tempdir().unwrap();
    let options = TrainOptions {
        checkpoint_every: 4,
        checkpoint_dir: Some(dir.path().join("ckpt")),
        ..options(10, 8)
    };
    let interrupted = std::panic::catch_unwind(|| {
        let mut stop = |report: &modularbase_runtime::train::StepReport| {
            assert!(report.step < 7, "interrupted at step {}", report.step);
        };
        train_base(&prose(), &config(), None, &options, &Device::Cpu, &mut stop)
    });
    assert!(interrupted.is_err());
    assert!(dir.path().join("ckpt/checkpoint.json").exists());
    let mut seen = Vec::new();
    let (_, summary) = train_base(&prose(), &config(), None, &options, &device, &mut |r| {
        seen.push(r.step)
    })
    .unwrap();
    assert_eq!(summary.resumed_at, 4);
    assert_eq!(seen, (5..=10).collect::<Vec<_>>());
    // A different run refuses the checkpoint instead of mixing it in.
    let other = TrainOptions {
        seed: 99,
        ..options.clone()
    };
    let refused = train_base(&prose(), &config(), None, &other, &device, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(refused.contains("is for a different run"), "{refused}");
}

#[test]
fn a_trained_router_sends_held_out_snippets_to_their_domain() {
    let device = common::device();
    let (base, _) = train_base(
        &Corpus::mix(&[prose(), code()]),
        &config(),
        None,
        &options(30, 9),
        &device,
        &mut |_| {},
    )
    .unwrap();
    let mut model = BaseModel::new(base, &device).unwrap();
    let domains: Vec<(String, Vec<Vec<u8>>)> = [("prose", prose()), ("code", code())]
        .into_iter()
        .map(|(n, c)| (n.to_owned(), Corpus::snippets(&c.train, 24, 24, 64, 1)))
        .collect();
    let pooled: Vec<(String, candle_core::Tensor)> = domains
        .iter()
        .map(|(n, s)| (n.clone(), pooled_snippets(&mut model, s).unwrap()))
        .collect();
    let (router, _) = train_router(&pooled, &options(60, 9), &device, &mut |_| {}).unwrap();
    let keys: Vec<(modularbase_pack::PackId, candle_core::Tensor)> = domains
        .iter()
        .map(|(n, s)| {
            (
                n.parse().unwrap(),
                pack_key(&mut model, &router, s).unwrap(),
            )
        })
        .collect();
    let mut correct = 0;
    let mut total = 0;
    for (name, corpus) in [("prose", prose()), ("code", code())] {
        for snippet in Corpus::snippets(&corpus.held_out, 10, 24, 64, 2) {
            let tokens =
                modularbase_runtime::ByteTokenizer.encode(&String::from_utf8_lossy(&snippet));
            let pooled = model.pooled_hidden(&tokens).unwrap();
            let (scores, _) = router.route(&pooled, &keys).unwrap();
            correct += usize::from(scores[0].id.as_str() == name);
            total += 1;
        }
    }
    assert!(
        correct * 10 >= total * 9,
        "{correct} of {total} routed right"
    );
}

/// A tiny base shaped like SmolLM2: tied embeddings, grouped-query attention, quantized
/// matrices (Q8_0 here, as blocks of 32 fit its width), three blocks with the pack in the
/// middle.
fn smollm2_shaped() -> BaseWeights {
    let shape = BaseConfig {
        hidden: 64,
        layers: 3,
        heads: 4,
        kv_heads: 1,
        ffn: 160,
        context: 128,
        tied_embeddings: true,
        ..BaseConfig::default()
    };
    BaseWeights::random(&shape, 11)
        .unwrap()
        .requantized(candle_core::quantized::GgmlDType::Q8_0)
        .unwrap()
}

#[test]
fn a_pack_trains_over_a_frozen_quantized_smollm2_shaped_base() {
    let device = common::device();
    let base = smollm2_shaped();
    let config = pack_config(ExpertFormat::Q8_0);
    let run = |dense_base: bool, steps: usize| {
        let options = TrainOptions {
            dense_base,
            ..options(steps, 4)
        };
        train_pack(&base, &config, &code(), &options, &device, &mut |_| {})
            .unwrap()
            .1
    };
    let frozen = run(false, 40);
    assert!(
        frozen.first_loss - frozen.last_loss > 0.2,
        "loss {} → {}",
        frozen.first_loss,
        frozen.last_loss
    );
    assert!(frozen.peak_rss.is_some_and(|b| b > 0));
    // The frozen path computes the loss the dense reference computes (same start, same
    // data): quantized matmul quantizes activations, so they agree closely, not exactly.
    let dense = run(true, 1);
    let first = run(false, 1);
    let gap = (first.first_loss - dense.first_loss).abs() / dense.first_loss;
    assert!(
        gap < 0.01,
        "frozen {} vs dense {}",
        first.first_loss,
        dense.first_loss
    );
}

#[test]
fn cached_prefix_activations_equal_recomputed_ones() {
    let device = common::device();
    let base = smollm2_shaped();
    let config = pack_config(ExpertFormat::Q8_0);
    let cache = tempfile::tempdir().unwrap();
    let run = |prefix_cache: Option<std::path::PathBuf>| {
        let options = TrainOptions {
            prefix_cache,
            ..options(6, 5)
        };
        train_pack(&base, &config, &code(), &options, &device, &mut |_| {}).unwrap()
    };
    let (recomputed, plain) = run(None);
    let (cold_tensors, cold) = run(Some(cache.path().to_owned()));
    let (warm_tensors, warm) = run(Some(cache.path().to_owned()));
    let rows = 6 * options(6, 5).batch;
    assert_eq!(plain.prefix_cache, (0, 0));
    assert_eq!(cold.prefix_cache.0 + cold.prefix_cache.1, rows);
    assert!(cold.prefix_cache.1 > 0, "a cold cache computes");
    assert_eq!(
        warm.prefix_cache,
        (rows, 0),
        "a warm cache computes nothing"
    );
    for tensors in [&cold_tensors, &warm_tensors] {
        for ((name, a), (_, b)) in recomputed.iter().zip(tensors) {
            let gap = (a - b).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(gap.to_scalar::<f32>().unwrap(), 0.0, "{name}");
        }
    }
    assert_eq!(warm.last_loss, plain.last_loss);

    // Damaged entries (garbage, or far too large) are recomputed, never trusted.
    for (i, entry) in std::fs::read_dir(cache.path()).unwrap().enumerate() {
        let path = entry.unwrap().path();
        let junk = if i % 2 == 0 {
            vec![7u8; 100]
        } else {
            vec![0u8; 64 << 20]
        };
        std::fs::write(path, junk).unwrap();
    }
    let (repaired, again) = run(Some(cache.path().to_owned()));
    assert_eq!(
        again.prefix_cache, cold.prefix_cache,
        "damaged entries count as absent: hits only where the run itself wrote them"
    );
    for ((name, a), (_, b)) in recomputed.iter().zip(&repaired) {
        let gap = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(gap.to_scalar::<f32>().unwrap(), 0.0, "{name}");
    }
}
