//! `modularbase serve` under load and at its edges: a full queue answers 503, SIGTERM lets
//! the stream in flight finish, concurrent streams answer what they answer alone, and a
//! client that leaves frees its slot.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::serve::{EventStream, Server, StreamEnd, chat_body};
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// A client of its own (so, a connection of its own) with a generous timeout.
fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(300))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// The chat `body` streamed from the server at `url`, on a connection of its own.
fn open_stream(url: &str, body: &Value) -> EventStream {
    let mut body = body.clone();
    body["stream"] = json!(true);
    let response = client()
        .post(format!("{url}/v1/chat/completions"))
        .json(&body)
        .send()
        .unwrap();
    EventStream::new(response)
}

/// `body` streamed, read to the end on a connection of its own.
fn stream_alone(url: &str, body: &Value) -> StreamEnd {
    open_stream(url, body).finish()
}

#[test]
fn a_full_queue_answers_503_queue_full_and_every_admitted_request_completes() {
    let server = Server::start(&["--parallel", "1", "--max-queue", "1"]);
    let clients = 12;
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (url, barrier) = (server.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let body = chat_body("python_code", "def f", i as u64, 256);
                let client = client();
                barrier.wait();
                let response = client
                    .post(format!("{url}/v1/chat/completions"))
                    .json(&body)
                    .send()
                    .unwrap();
                let status = response.status().as_u16();
                if status == 503 {
                    assert_eq!(
                        response.headers()["retry-after"],
                        "1",
                        "a 503 says when to retry"
                    );
                }
                (status, response.json::<Value>().unwrap())
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let full: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 503)
        .map(|(_, b)| b)
        .collect();
    let ok: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        full.len() + ok.len(),
        clients,
        "only 200 and 503: {answers:?}"
    );
    assert!(
        !full.is_empty(),
        "one slot and one queue place cannot take 12 at once"
    );
    assert!(!ok.is_empty(), "the first request is admitted");
    for body in full {
        assert_eq!(body["error"]["code"], "queue_full", "{body}");
        assert_eq!(body["error"]["type"], "service_unavailable_error", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    for body in ok {
        assert_eq!(body["choices"][0]["finish_reason"], "length", "{body}");
        assert_eq!(body["usage"]["completion_tokens"], 256, "{body}");
    }
}

#[test]
fn sigterm_lets_the_stream_in_flight_finish_refuses_new_requests_and_exits_0() {
    let mut server = Server::start(&[]);
    let mut stream = open_stream(&server.url, &chat_body("python_code", "def f", 3, 256));
    let first = stream.next_data().expect("a first chunk");
    assert!(first.contains("chat.completion.chunk"), "{first}");

    let pid = server.pid().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    // Once the server knows it is draining, new requests are refused.
    server.wait_for(
        "a request during the drain is refused",
        Duration::from_secs(10),
        || match client()
            .post(format!("{}/v1/chat/completions", server.url))
            .json(&chat_body("python_code", "def f", 1, 2))
            .send()
        {
            Err(e) => e.is_connect(),
            Ok(r) if r.status() == 503 => {
                let body: Value = r.json().unwrap();
                assert_eq!(body["error"]["code"], "shutting_down", "{body}");
                true
            }
            Ok(r) => {
                // Sent before the signal arrived: answered; try again.
                assert_eq!(r.status(), 200);
                false
            }
        },
    );
    let end = stream.finish();
    assert!(end.done, "the stream ends with [DONE]: {end:?}");
    assert_eq!(end.finish.as_deref(), Some("length"), "{end:?}");
    assert!(end.events > 200, "every token came: {end:?}");
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}:\n{}", server.stderr());
}

/// 16 streams across four packs, each with its own seed and prompt at `temperature`, to a
/// server generating `parallel` at once: sent one by one, then all at once (16 threads, a
/// connection each); each must complete and say what it said alone.
fn concurrent_streams_answer_what_they_answer_alone(parallel: &str, temperature: f64) {
    let server = Server::start(&["--parallel", parallel]);
    let packs = ["python_code", "rust_code", "reasoning", "general_chat"];
    let bodies: Vec<Value> = (0..16)
        .map(|i| {
            let mut body = chat_body(
                packs[i % 4],
                &format!("Tell me thing {i}"),
                100 + i as u64,
                40,
            );
            body["temperature"] = json!(temperature);
            body
        })
        .collect();
    let alone: Vec<StreamEnd> = bodies
        .iter()
        .map(|b| stream_alone(&server.url, b))
        .collect();
    for (body, end) in bodies.iter().zip(&alone) {
        assert!(end.done && !end.text.is_empty(), "{body}: {end:?}");
    }
    let distinct: std::collections::HashSet<&str> = alone.iter().map(|e| e.text.as_str()).collect();
    assert!(
        distinct.len() > 8,
        "seeds, prompts and packs give different texts: {distinct:?}"
    );

    let barrier = Arc::new(Barrier::new(bodies.len()));
    let threads: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|body| {
            let (url, barrier) = (server.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                stream_alone(&url, &body)
            })
        })
        .collect();
    let together: Vec<StreamEnd> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let differing: Vec<String> = bodies
        .iter()
        .zip(&alone)
        .zip(&together)
        .filter(|((_, alone), together)| together.text != alone.text)
        .map(|((body, alone), together)| {
            format!(
                "{body}\n  alone:    {:?}\n  together: {:?}",
                alone.text, together.text
            )
        })
        .collect();
    for (body, together) in bodies.iter().zip(&together) {
        assert!(together.done, "{body}: {together:?}");
        assert_eq!(
            together.finish.as_deref(),
            Some("length"),
            "{body}: {together:?}"
        );
    }
    assert!(
        differing.is_empty(),
        "{} of 16 answered otherwise together than alone:\n{}",
        differing.len(),
        differing.join("\n")
    );
    let lengths = r#"modularbase_requests_total{finish_reason="length"}"#;
    server.wait_for(
        "32 requests counted as finished",
        Duration::from_secs(10),
        || server.metric(lengths) == Some(32.0),
    );
}

#[test]
fn sixteen_concurrent_streams_across_four_packs_answer_what_each_answers_alone() {
    concurrent_streams_answer_what_they_answer_alone("16", 0.8);
}

#[test]
fn a_client_that_leaves_mid_stream_frees_its_slot_and_is_counted_cancelled() {
    let server = Server::start(&["--parallel", "1"]);
    // As long as the context allows (some 500 tokens, seconds of work).
    let mut stream = open_stream(&server.url, &chat_body("python_code", "def f", 3, 100_000));
    stream.next_data().expect("a first chunk");
    stream.next_data().expect("a second chunk");
    drop(stream);

    // With the only slot taken for good, this would wait forever.
    let answer = server.chat_ok(&chat_body("rust_code", "fn", 1, 4));
    assert_eq!(answer["usage"]["completion_tokens"], 4);
    let cancelled = r#"modularbase_requests_total{finish_reason="cancelled"}"#;
    server.wait_for(
        "the left stream counted as cancelled",
        Duration::from_secs(10),
        || server.metric(cancelled) == Some(1.0),
    );
    let monitor = server.get_json("/api/monitor");
    let finishes: Vec<&Value> = monitor["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["finish_reason"])
        .collect();
    assert_eq!(
        finishes,
        [&json!("length"), &json!("cancelled")],
        "{monitor}"
    );
    // Ended when it left, after a chunk or two, not at the end of the context.
    let left = monitor["recent"][1]["tokens"].as_u64().unwrap();
    assert!(left < 100, "the left stream ran on for {left} tokens");
    assert_eq!(monitor["running"], 0);
}

#[test]
fn a_pack_that_fits_only_once_another_is_released_waits_for_it_instead_of_falling_back() {
    // Room for the base, the router and one pack (each example pack is 173,568 bytes).
    let server = Server::start(&["--parallel", "2", "--budget", "1900000"]);
    let mut first = open_stream(&server.url, &chat_body("python_code", "def f", 3, 200));
    first.next_data().expect("the first stream has started");
    // rust_code cannot load while python_code is in use: it waits, then answers itself.
    let second = std::thread::spawn({
        let url = server.url.clone();
        move || {
            let response = client()
                .post(format!("{url}/v1/chat/completions"))
                .json(&chat_body("rust_code", "fn", 1, 4))
                .send()
                .unwrap();
            let pack = response.headers()["x-modularbase-pack"]
                .to_str()
                .unwrap()
                .to_owned();
            let substituted = response
                .headers()
                .get("x-modularbase-substitution")
                .is_some();
            (pack, substituted, response.json::<Value>().unwrap())
        }
    });
    let end = first.finish();
    assert!(end.done, "the first stream completes");
    let (pack, substituted, answer) = second.join().unwrap();
    assert_eq!(pack, "rust_code", "{answer}");
    assert!(!substituted, "{answer}");
    assert_eq!(
        answer["modularbase"]["substitutions"],
        json!([]),
        "{answer}"
    );
    assert_eq!(answer["usage"]["completion_tokens"], 4);
    let recent = server.get_json("/api/monitor")["recent"].clone();
    assert_eq!(recent[0]["pack"], "rust_code", "{recent}");
    assert_eq!(
        recent[1]["pack"], "python_code",
        "the first finished first: {recent}"
    );
}
