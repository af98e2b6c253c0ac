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

fn argmax(row: &Tensor) -> u32 {
    row.argmax(0).unwrap().to_scalar::<u32>().unwrap()
}

#[test]
fn sequences_decoding_together_get_exactly_the_logits_they_get_alone() {
    let mut model = base();
    let (p1, p2) = (pack(1), pack(2));
    let prompts: [Vec<u32>; 4] = [
        vec![5, 9, 33, 70, 71, 72, 12],
        vec![100, 3, 44],
        vec![7, 7, 7, 8, 9],
        vec![60, 61, 62, 63],
    ];
    // 16 sequences (as many rows as make a prompt run densely), four prompts, three packs
    // or none, two sequences sharing each (prompt, pack).
    let plug_of = |i: usize| -> Option<&dyn HiddenPlug> {
        match i % 3 {
            0 => Some(&p1),
            1 => Some(&p2),
            _ => None,
        }
    };
    let prompt_of = |i: usize| &prompts[i % 4];
    let steps = 6;
    // Alone: each prompt, then greedy tokens, one sequence per pass.
    let mut alone: Vec<Vec<Vec<f32>>> = Vec::new();
    for i in 0..16 {
        let (prompt, plug) = (prompt_of(i), plug_of(i));
        let mut cache = KvCache::new();
        let mut rows = Vec::new();
        let mut tokens = prompt.clone();
        for _ in 0..steps {
            let logits = model
                .last_logits(&mut [Segment::new(&tokens, &mut cache, plug)])
                .unwrap();
            let last = logits.get(0).unwrap();
            rows.push(last.to_vec1::<f32>().unwrap());
            tokens = vec![argmax(&last)];
        }
        alone.push(rows);
    }
    // Together: each prompt in a pass of its own, then every step one row per sequence.
    let mut caches: Vec<KvCache> = (0..16).map(|_| KvCache::new()).collect();
    let mut next: Vec<Vec<u32>> = Vec::new();
    for (i, cache) in caches.iter_mut().enumerate() {
        let logits = model
            .last_logits(&mut [Segment::new(prompt_of(i), cache, plug_of(i))])
            .unwrap();
        let row = logits.get(0).unwrap();
        assert_eq!(row.to_vec1::<f32>().unwrap(), alone[i][0], "prompt {i}");
        next.push(vec![argmax(&row)]);
    }
    #[allow(clippy::needless_range_loop)] // `step` indexes the lone runs of each sequence
    for step in 1..steps {
        let logits = {
            let mut segments: Vec<Segment<'_>> = next
                .iter()
                .zip(caches.iter_mut())
                .enumerate()
                .map(|(i, (tokens, cache))| Segment::new(tokens, cache, plug_of(i)))
                .collect();
            model.last_logits(&mut segments).unwrap()
        };
        for (i, tokens) in next.iter_mut().enumerate() {
            let row = logits.get(i).unwrap();
            assert_eq!(
                row.to_vec1::<f32>().unwrap(),
                alone[i][step],
                "sequence {i}, step {step}: a batch changed its logits"
            );
            *tokens = vec![argmax(&row)];
        }
    }
    for (i, cache) in caches.iter().enumerate() {
        assert_eq!(cache.len(), prompt_of(i).len() + steps - 1);
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
        wait_for_room: false,
    }
}

const PACKS: [&str; 4] = ["python_code", "rust_code", "reasoning", "general_chat"];

#[test]
fn sixteen_requests_across_four_packs_sampled_together_answer_what_each_answers_alone() {
    let mut runtime = runtime();
    let requests: Vec<Request> = (0..16)
        .map(|i| request(PACKS[i % 4], 100 + i as u64, &[]))
        .collect();
    let alone: Vec<String> = requests
        .iter()
        .map(|r| runtime.answer(r, &|_| Ok(()), &mut |_| {}).unwrap().text)
        .collect();
    let mut sequences: Vec<_> = requests.iter().map(|r| runtime.start(r).unwrap()).collect();
    let mut streamed = vec![String::new(); 16];
    while sequences.iter().any(|s| s.finish_reason().is_none()) {
        let mut refs: Vec<_> = sequences.iter_mut().collect();
        runtime.step(&mut refs).unwrap();
        for (s, out) in sequences.iter_mut().zip(&mut streamed) {
            out.push_str(&s.take_text());
        }
    }
    for (i, s) in sequences.iter().enumerate() {
        assert_eq!(s.routing().used.as_ref().unwrap().as_str(), PACKS[i % 4]);
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
