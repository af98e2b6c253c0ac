//! Many sequences in one forward pass: each row gets what it would get alone, whatever its
//! neighbours, its pack or its length; stop strings end an answer and never leak into what
//! is streamed.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use modularbase_pack::ExpertFormat;
use modularbase_runtime::{
    BaseConfig, BaseModel, FinishReason, HiddenPlug, KvCache, ModelChoice, PackConfig, PackModule,
    PackWeights, Prompt, Request, Runtime, Sampling, Segment,
};

fn base() -> BaseModel {
    let config = BaseConfig {
        hidden: 64,
        layers: 3,
        heads: 4,
        kv_heads: 2,
        ffn: 96,
        context: 128,
        ..BaseConfig::default()
    };
    BaseModel::random(&config, 11, &common::device()).unwrap()
}

fn pack(seed: u64) -> PackModule {
    let config = PackConfig {
        hidden: 64,
        width: 32,
        experts: 4,
        top_k: 2,
        expert_ffn: 64,
        insertion_layer: 1,
        expert_format: ExpertFormat::Q8_0,
    };
    PackModule::new(
        PackWeights::random(config, seed).unwrap(),
        &common::device(),
    )
    .unwrap()
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

fn argmax(row: &Tensor) -> u32 {
    row.argmax(0).unwrap().to_scalar::<u32>().unwrap()
}

#[test]
fn sequences_stepped_together_get_the_logits_and_tokens_they_get_alone() {
    let mut model = base();
    let (p1, p2) = (pack(1), pack(2));
    let plugs: [Option<&dyn HiddenPlug>; 4] = [Some(&p1), Some(&p2), None, Some(&p1)];
    let prompts: [Vec<u32>; 4] = [
        vec![5, 9, 33, 70, 71, 72, 12],
        vec![100, 3, 44],
        vec![7, 7, 7, 8, 9],
        vec![60, 61, 62, 63],
    ];
    // Alone: each prompt, then 8 greedy tokens, through the single-sequence calls.
    let mut alone = Vec::new();
    for (prompt, plug) in prompts.iter().zip(plugs) {
        let mut tokens = Vec::new();
        let mut logits = model.forward(prompt, 0, plug).unwrap();
        let mut last = logits.get(prompt.len() - 1).unwrap();
        let first_logits = last.clone();
        for step in 0..8 {
            let t = argmax(&last);
            tokens.push(t);
            logits = model.forward(&[t], prompt.len() + step, plug).unwrap();
            last = logits.get(0).unwrap();
        }
        alone.push((first_logits, tokens));
    }
    // Together: the four prompts (of different lengths) in one pass, then each step one
    // row per sequence.
    let mut caches: Vec<KvCache> = (0..4).map(|_| KvCache::new()).collect();
    let mut next: Vec<Vec<u32>> = prompts.to_vec();
    let mut together: Vec<Vec<u32>> = vec![Vec::new(); 4];
    for step in 0..8 {
        let logits = {
            let mut segments: Vec<Segment<'_>> = next
                .iter()
                .zip(caches.iter_mut())
                .zip(plugs)
                .map(|((tokens, cache), plug)| Segment::new(tokens, cache, plug))
                .collect();
            model.last_logits(&mut segments).unwrap()
        };
        for i in 0..4 {
            let row = logits.get(i).unwrap();
            if step == 0 {
                let diff = max_abs_diff(&row, &alone[i].0);
                assert!(
                    diff < 1e-4,
                    "sequence {i}: logits differ by {diff} in a batch"
                );
            }
            let t = argmax(&row);
            together[i].push(t);
            next[i] = vec![t];
        }
    }
    for i in 0..4 {
        assert_eq!(
            together[i], alone[i].1,
            "sequence {i} decoded differently in a batch"
        );
        assert_eq!(caches[i].len(), prompts[i].len() + 7);
    }
}

#[test]
fn a_segment_past_the_context_is_refused_and_its_neighbours_are_untouched() {
    let mut model = base();
    let long = vec![1u32; 129];
    let mut a = KvCache::new();
    let mut b = KvCache::new();
    let err = model
        .last_logits(&mut [
            Segment::new(&[1, 2, 3], &mut a, None),
            Segment::new(&long, &mut b, None),
        ])
        .unwrap_err();
    assert!(
        err.to_string().contains("exceed the base's context of 128"),
        "{err}"
    );
    assert!(
        a.is_empty() && b.is_empty(),
        "a refused pass must cache nothing"
    );
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packs")
}

fn runtime() -> Runtime {
    let dirs: Vec<PathBuf> = [
        "python_code-1.0.0",
        "rust_code-1.0.0",
        "reasoning-1.1.0",
        "general_chat-1.0.0",
    ]
    .iter()
    .map(|d| examples().join(d))
    .collect();
    Runtime::open(
        &examples().join("tiny_base-1.0.0"),
        &dirs,
        1 << 30,
        &common::device(),
    )
    .unwrap()
}

fn request(pack: &str, seed: u64, stop: &[&str]) -> Request {
    Request {
        prompt: Prompt::Text("def main():\n    ".into()),
        model: ModelChoice::Pack(pack.parse().unwrap()),
        max_tokens: 40,
        sampling: Sampling {
            temperature: 0.8,
            top_p: 0.95,
            seed,
        },
        stop: stop.iter().map(|s| (*s).to_owned()).collect(),
        keep_alive: None,
    }
}

#[test]
fn four_packs_answering_together_give_each_request_its_answer_alone() {
    let mut runtime = runtime();
    let requests: Vec<Request> = ["python_code", "rust_code", "reasoning", "general_chat"]
        .iter()
        .enumerate()
        .map(|(i, p)| request(p, 40 + i as u64, &[]))
        .collect();
    let alone: Vec<String> = requests
        .iter()
        .map(|r| runtime.answer(r, &|_| Ok(()), &mut |_| {}).unwrap().text)
        .collect();
    let mut sequences: Vec<_> = requests.iter().map(|r| runtime.start(r).unwrap()).collect();
    let mut streamed = vec![String::new(); 4];
    while sequences.iter().any(|s| s.finish_reason().is_none()) {
        let mut refs: Vec<_> = sequences.iter_mut().collect();
        runtime.step(&mut refs).unwrap();
        for (s, out) in sequences.iter_mut().zip(&mut streamed) {
            out.push_str(&s.take_text());
        }
    }
    for (i, s) in sequences.iter().enumerate() {
        assert_eq!(
            s.routing().used.as_ref().unwrap().as_str(),
            ["python_code", "rust_code", "reasoning", "general_chat"][i]
        );
        assert_eq!(
            s.text(),
            alone[i],
            "request {i} answered differently beside the others"
        );
        assert_eq!(
            streamed[i], alone[i],
            "request {i}'s streamed pieces differ from its text"
        );
        assert!(!alone[i].is_empty());
    }
    for s in sequences {
        runtime.finish(s);
    }
}

#[test]
fn a_stop_string_ends_the_answer_and_no_piece_of_it_is_streamed() {
    let mut runtime = runtime();
    let free = runtime
        .answer(&request("python_code", 7, &[]), &|_| Ok(()), &mut |_| {})
        .unwrap()
        .text;
    // Stop at a two-character string taken from the middle of the free answer.
    let at = free
        .char_indices()
        .map(|(i, _)| i)
        .nth(free.chars().count() / 2)
        .unwrap();
    let stop: String = free[at..].chars().take(2).collect();
    let expected = &free[..free.find(&stop).unwrap()];
    let mut pieces = Vec::new();
    let mut sequence = runtime.start(&request("python_code", 7, &[&stop])).unwrap();
    while sequence.finish_reason().is_none() {
        runtime.step(&mut [&mut sequence]).unwrap();
        let piece = sequence.take_text();
        assert!(
            !piece.contains(&stop),
            "a piece leaked the stop string: {piece:?}"
        );
        pieces.push(piece);
    }
    assert_eq!(sequence.finish_reason(), Some(FinishReason::Stop));
    assert_eq!(sequence.text(), expected);
    assert_eq!(pieces.concat(), expected);
}

#[test]
fn the_token_limit_ends_the_answer_with_length() {
    let mut runtime = runtime();
    let mut r = request("python_code", 3, &[]);
    r.max_tokens = 5;
    let mut sequence = runtime.start(&r).unwrap();
    while sequence.finish_reason().is_none() {
        runtime.step(&mut [&mut sequence]).unwrap();
    }
    assert_eq!(sequence.finish_reason(), Some(FinishReason::Length));
    assert_eq!(sequence.generated().len(), 5);
}

#[test]
fn a_prompt_that_fills_the_context_is_refused_before_anything_runs() {
    let mut runtime = runtime();
    let mut r = request("python_code", 3, &[]);
    r.prompt = Prompt::Text("x".repeat(100_000));
    let err = runtime.start(&r).unwrap_err();
    assert!(
        matches!(err, modularbase_runtime::RuntimeError::PromptTooLong { tokens, .. } if tokens > 1000),
        "{err}"
    );
}
