//! The measured rows: concurrency (all at once against one at a time), time to first
//! token (pack resident against unloaded), and ours against llama.cpp's server.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use modularbase_bench::load_average;
use modularbase_bench::measure::rotate;
use modularbase_bench::serving::{Answer, Client, Completion, ServerProcess};
use serde_json::{Value, json};

use super::{CLIENTS, PROMPTS, Row, SMOLLM2_ID, prompt_for};

/// Sends `requests` all at once (one thread each, released together) and returns the
/// answers and the wall time from release to the last answer.
fn concurrent(
    client: &Client,
    requests: &[(Completion, Option<String>)],
) -> Result<(Vec<Answer>, f64)> {
    let barrier = Barrier::new(requests.len() + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|(request, pack)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    client.complete(request, pack.as_deref())
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let answers = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a client thread panicked"))?
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((answers, start.elapsed().as_secs_f64()))
    })
}

/// Sends `requests` one after another; the answers and the total wall time.
fn sequential(
    client: &Client,
    requests: &[(Completion, Option<String>)],
) -> Result<(Vec<Answer>, f64)> {
    let start = Instant::now();
    let answers = requests
        .iter()
        .map(|(request, pack)| client.complete(request, pack.as_deref()))
        .collect::<Result<Vec<_>>>()?;
    Ok((answers, start.elapsed().as_secs_f64()))
}

/// Total generated tokens of `answers`.
fn generated(answers: &[Answer]) -> u64 {
    answers.iter().map(|a| a.completion_tokens).sum()
}

/// The 8 requests: 2 per model in `models`, distinct seeds, each model's own prompt.
fn spread(
    models: &[(String, Option<String>)],
    max_tokens: usize,
) -> Vec<(Completion, Option<String>)> {
    (0..CLIENTS)
        .map(|i| {
            let (model, pack) = &models[i % models.len()];
            let request = Completion {
                model: model.clone(),
                prompt: prompt_for(pack.as_deref().unwrap_or("")).to_owned(),
                max_tokens,
                temperature: 0.8,
                seed: 1000 + i as u64,
                extra: json!({}),
            };
            (request, pack.clone())
        })
        .collect()
}

/// Scenario 1 on a running server: 8 concurrent against 8 sequential, tokens/s.
pub(super) fn concurrency_row(
    label: &str,
    server: &mut ServerProcess,
    models: &[(String, Option<String>)],
    runs: usize,
    max_tokens: usize,
) -> Result<Row> {
    let client = Client::new(&server.url)?;
    let requests = spread(models, max_tokens);
    // Warm-up, untimed: every pack loaded, both paths exercised once.
    sequential(&client, &requests[..models.len()])?;
    concurrent(&client, &requests)?;
    let load_before = load_average();
    let mut tokens = [Vec::new(), Vec::new()];
    let mut full = 0usize;
    let medians = rotate(runs, 2, |side| {
        let (answers, secs) = if side == 0 {
            concurrent(&client, &requests)?
        } else {
            sequential(&client, &requests)?
        };
        full += answers.iter().filter(|a| a.length).count();
        let n = generated(&answers);
        tokens[side].push(n);
        Ok(n as f64 / secs)
    })?;
    let load_after = load_average();
    server.check_alive()?;
    let note = format!(
        "tokens per round: concurrent {:?}, one at a time {:?}; {full}/{} answers ran to max_tokens",
        tokens[0],
        tokens[1],
        2 * runs * CLIENTS
    );
    println!("{label}: {note}");
    Ok(Row {
        metric: format!("{label}: tok/s, 8 at once vs one at a time"),
        unit: "tok/s",
        ours: medians[0],
        baseline: medians[1],
        ratio: medians[0] / medians[1],
        target: Some(2.0),
        note,
        load_before,
        load_after,
    })
}

/// Scenario 2: time to first token, pack resident against pack just unloaded.
pub(super) fn first_token_row(
    label: &str,
    server: &mut ServerProcess,
    pack: &str,
    runs: usize,
) -> Result<Row> {
    let client = Client::new(&server.url)?;
    let request = Completion {
        model: pack.to_owned(),
        prompt: prompt_for(pack).to_owned(),
        max_tokens: 8,
        temperature: 0.8,
        seed: 7,
        extra: json!({}),
    };
    let warm = Completion {
        max_tokens: 1,
        ..request.clone()
    };
    // Warm-up, untimed.
    client.complete(&warm, Some(pack))?;
    client.first_token_ms(&request)?;
    let load_before = load_average();
    let mut unloaded = 0;
    let medians = rotate(runs, 2, |side| {
        if side == 0 {
            // Resident: asked for just before.
            client.complete(&warm, Some(pack))?;
        } else {
            let stopped = client.post_json("/api/stop", &json!({ "model": pack }))?;
            ensure!(
                stopped["was_loaded"] == Value::Bool(true),
                "/api/stop {pack}: it was not loaded: {stopped}"
            );
            unloaded += 1;
        }
        // The same pause on both sides: the engine acts on the stop, and no ACK of the
        // last answer is still pending when the timed request goes out.
        std::thread::sleep(Duration::from_millis(100));
        client.first_token_ms(&request)
    })?;
    let load_after = load_average();
    server.check_alive()?;
    Ok(Row {
        metric: format!("{label}: first token ms, {pack} resident vs unloaded"),
        unit: "ms",
        ours: medians[0],
        baseline: medians[1],
        ratio: medians[0] / medians[1],
        target: None,
        note: format!("{runs} runs each; /api/stop unloaded it {unloaded} times"),
        load_before,
        load_after,
    })
}

/// Scenario 3: our server's base against llama.cpp's, 8 clients, greedy; and llama.cpp's
/// 8 clients against its one at a time.
pub(super) fn llamacpp_row(
    ours: &mut ServerProcess,
    theirs: &mut ServerProcess,
    runs: usize,
    max_tokens: usize,
) -> Result<Vec<Row>> {
    let requests = |extra: Value, model: &str| -> Vec<(Completion, Option<String>)> {
        PROMPTS
            .iter()
            .enumerate()
            .map(|(i, prompt)| {
                let request = Completion {
                    model: model.to_owned(),
                    prompt: (*prompt).to_owned(),
                    max_tokens,
                    temperature: 0.0,
                    seed: 1000 + i as u64,
                    extra: extra.clone(),
                };
                (request, None)
            })
            .collect()
    };
    let ours_requests = requests(json!({}), SMOLLM2_ID);
    let theirs_requests = requests(
        json!({"ignore_eos": true, "cache_prompt": false, "top_k": 1}),
        "smollm2",
    );
    let clients = [Client::new(&ours.url)?, Client::new(&theirs.url)?];
    let sides = [&ours_requests, &theirs_requests];
    for (client, requests) in clients.iter().zip(sides) {
        concurrent(client, requests)?;
    }
    let load_before = load_average();
    // Sides: ours 8 at once, llama.cpp 8 at once, llama.cpp one at a time (its own
    // batching gain, for scale).
    let mut tokens = [Vec::new(), Vec::new(), Vec::new()];
    let mut prompt_tokens = [0u64; 2];
    let medians = rotate(runs, 3, |side| {
        let (answers, secs) = if side == 2 {
            sequential(&clients[1], sides[1])?
        } else {
            concurrent(&clients[side], sides[side])?
        };
        prompt_tokens[side.min(1)] = answers.iter().map(|a| a.prompt_tokens).sum();
        let n = generated(&answers);
        tokens[side].push(n);
        Ok(n as f64 / secs)
    })?;
    let load_after = load_average();
    ours.check_alive()?;
    theirs.check_alive()?;
    let note = format!(
        "tokens per round: ours {:?}, llama.cpp {:?}, llama.cpp one at a time {:?}; prompt tokens (8 requests) ours {}, llama.cpp {}",
        tokens[0], tokens[1], tokens[2], prompt_tokens[0], prompt_tokens[1]
    );
    println!("llama.cpp: {note}");
    Ok(vec![
        Row {
            metric: "SmolLM2 base: tok/s, 8 at once, ours vs llama.cpp".to_owned(),
            unit: "tok/s",
            ours: medians[0],
            baseline: medians[1],
            ratio: medians[0] / medians[1],
            target: None,
            note: note.clone(),
            load_before: load_before.clone(),
            load_after: load_after.clone(),
        },
        Row {
            metric: "  llama.cpp itself: 8 at once vs one at a time".to_owned(),
            unit: "tok/s",
            ours: medians[1],
            baseline: medians[2],
            ratio: medians[1] / medians[2],
            target: None,
            note,
            load_before,
            load_after,
        },
    ])
}
