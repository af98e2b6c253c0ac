//! The HTTP routes: OpenAI's generation and model endpoints, Ollama-style control, metrics
//! and the monitor page.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, Stream};
use modularbase_pack::PackId;
use modularbase_runtime::{ComponentRow, Prompt, Request, Routing, Sampling};
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::engine::{Engine, Event, Refused, Snapshot};
use crate::metrics::ServeMetrics;
use crate::models::Models;
use crate::openai::{
    AnswerStream, AnsweredBy, ApiError, ChatCompletion, ChatStream, Completion, CompletionStream,
    FinishReason, GenerationParams, Input, StreamChoice, Substitution, Usage, answered_by_header,
    parse_chat, parse_completion, sse_done, sse_error, sse_event,
};
use crate::page::monitor_page;
use crate::status::{CacheCounters, MonitorComponent, MonitorSnapshot, PsEntry, PsResponse};

/// The largest request body read (a long conversation fits; a flood does not).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The engine answering requests.
    pub engine: Engine,
    /// The names requests may use.
    pub models: Arc<Models>,
    /// The Prometheus metrics.
    pub metrics: Arc<ServeMetrics>,
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(monitor_page))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completion))
        .route("/v1/models", get(models))
        .route("/api/ps", get(ps))
        .route("/api/monitor", get(monitor))
        .route("/api/stop", post(stop))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the API is under /v1 (OpenAI) and /api (control)")
}

/// A request body, or axum's refusal of it (over [`MAX_BODY_BYTES`], unreadable) as an
/// OpenAI error envelope.
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        ApiError::unreadable_body(
            rejection.status(),
            format!(
                "{} (the largest body read is {MAX_BODY_BYTES} bytes)",
                rejection.body_text()
            ),
        )
    })
}

async fn chat(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    match read_body(body).and_then(|body| parse_chat(&body)) {
        Ok(params) => generate(state, params).await,
        Err(e) => e.into_response(),
    }
}

async fn completion(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match read_body(body).and_then(|body| parse_completion(&body)) {
        Ok(params) => generate(state, params).await,
        Err(e) => e.into_response(),
    }
}

/// The two shapes of answer.
enum Shape {
    Chat(ChatStream),
    Completion(CompletionStream),
}

impl Shape {
    fn id(&self) -> &str {
        match self {
            Self::Chat(s) => s.id(),
            Self::Completion(s) => s.id(),
        }
    }
}

async fn generate(state: AppState, params: GenerationParams) -> Response {
    match answer(state, params).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn answer(state: AppState, params: GenerationParams) -> Result<Response, ApiError> {
    let choice = state
        .models
        .resolve(&params.model)
        .ok_or_else(|| ApiError::model_not_found(&params.model, &state.models.names()))?;
    let shape = match &params.input {
        Input::Chat(_) => Shape::Chat(ChatStream::new(&params.model, params.include_usage)),
        Input::Text(_) => {
            Shape::Completion(CompletionStream::new(&params.model, params.include_usage))
        }
    };
    let request = Request {
        prompt: match params.input {
            Input::Chat(messages) => Prompt::Chat(messages),
            Input::Text(text) => Prompt::Text(text),
        },
        model: choice,
        max_tokens: params.max_tokens.unwrap_or(usize::MAX),
        sampling: Sampling {
            temperature: params.temperature,
            top_p: params.top_p,
            seed: params.seed.unwrap_or_else(fresh_seed),
        },
        stop: params.stop,
        keep_alive: params.keep_alive,
        wait_for_room: false,
    };
    let mut events = state
        .engine
        .submit(shape.id().to_owned(), params.model.clone(), request)
        .map_err(refusal)?;
    let (routing, prompt_tokens) = match events.recv().await {
        Some(Event::Started {
            routing,
            prompt_tokens,
        }) => (routing, prompt_tokens),
        Some(Event::Failed {
            message,
            context_full: true,
        }) => return Err(ApiError::context_length_exceeded(message)),
        Some(Event::Failed { message, .. }) => return Err(ApiError::bad_request(None, message)),
        _ => return Err(ApiError::internal("the engine dropped the request")),
    };
    let answered = answered_by(&routing);
    let headers = answered_by_header(&answered);
    let mut response = if params.stream {
        match shape {
            Shape::Chat(s) => sse_response(s, events, answered, prompt_tokens),
            Shape::Completion(s) => sse_response(s, events, answered, prompt_tokens),
        }
    } else {
        let (text, finish, completion_tokens) = collect(&mut events).await?;
        let usage = Usage::new(prompt_tokens, completion_tokens);
        match shape {
            Shape::Chat(s) => {
                let mut done = ChatCompletion::new(&params.model, text, finish, usage, answered);
                done.id = s.id().to_owned();
                Json(done).into_response()
            }
            Shape::Completion(s) => {
                let mut done = Completion::new(&params.model, text, finish, usage, answered);
                done.id = s.id().to_owned();
                Json(done).into_response()
            }
        }
    };
    response.headers_mut().extend(headers);
    Ok(response)
}

/// A seed for a request that gave none: different for every request.
fn fresh_seed() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos
        ^ COUNTER
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn refusal(refused: Refused) -> ApiError {
    match refused {
        Refused::QueueFull { .. } => ApiError::overloaded(refused.to_string()),
        Refused::ShuttingDown => ApiError::unavailable("shutting_down", refused.to_string()),
        Refused::Stopped => ApiError::internal(refused.to_string()),
    }
}

/// The `modularbase` field: who answered, and each substitution with what replaced it.
fn answered_by(routing: &Routing) -> AnsweredBy {
    let subs = &routing.substitutions;
    AnsweredBy {
        pack: routing.used.as_ref().map(ToString::to_string),
        wanted: routing.wanted.as_ref().map(ToString::to_string),
        substitutions: subs
            .iter()
            .enumerate()
            .map(|(i, s)| Substitution {
                wanted: s.wanted.to_string(),
                used: subs
                    .get(i + 1)
                    .map(|next| next.wanted.to_string())
                    .or_else(|| routing.used.as_ref().map(ToString::to_string)),
                cause: s.cause.to_string(),
            })
            .collect(),
    }
}

fn finish_reason(finish: modularbase_runtime::FinishReason) -> FinishReason {
    match finish {
        modularbase_runtime::FinishReason::Stop => FinishReason::Stop,
        modularbase_runtime::FinishReason::Length => FinishReason::Length,
    }
}

/// The whole answer of an unstreamed request.
async fn collect(
    events: &mut UnboundedReceiver<Event>,
) -> Result<(String, FinishReason, usize), ApiError> {
    let mut text = String::new();
    while let Some(event) = events.recv().await {
        match event {
            Event::Text(piece) => text.push_str(&piece),
            Event::Done {
                finish,
                completion_tokens,
            } => return Ok((text, finish_reason(finish), completion_tokens)),
            Event::Failed { message, .. } => return Err(ApiError::internal(message)),
            Event::Started { .. } => {}
        }
    }
    Err(ApiError::internal("the engine dropped the request"))
}

/// The server-sent events of a streamed answer, as the response.
fn sse_response<C: StreamChoice + 'static>(
    chunks: AnswerStream<C>,
    events: UnboundedReceiver<Event>,
    answered: AnsweredBy,
    prompt_tokens: usize,
) -> Response {
    Sse::new(sse_stream(chunks, events, answered, prompt_tokens)).into_response()
}

/// The server-sent events of a streamed answer: the opening chunk (chat), a chunk per
/// piece of text, the finishing chunks, `[DONE]`. Dropping the stream (the client left)
/// drops the receiver, which frees the request's slot at the engine's next step.
fn sse_stream<C: StreamChoice + 'static>(
    chunks: AnswerStream<C>,
    events: UnboundedReceiver<Event>,
    answered: AnsweredBy,
    prompt_tokens: usize,
) -> impl Stream<Item = Result<SseEvent, std::convert::Infallible>> {
    let opening = chunks.opening().and_then(|chunk| sse_event(&chunk).ok());
    let state = (chunks, events, Some(answered), false);
    let body = stream::unfold(
        state,
        move |(chunks, mut events, answered, ended)| async move {
            if ended {
                return None;
            }
            let out: Vec<SseEvent> = match events.recv().await {
                Some(Event::Text(piece)) => {
                    let chunk = sse_event(&chunks.content(piece));
                    vec![chunk.unwrap_or_else(|e| sse_error(&e))]
                }
                Some(Event::Done {
                    finish,
                    completion_tokens,
                }) => {
                    let usage = Usage::new(prompt_tokens, completion_tokens);
                    let by = answered.clone().unwrap_or_default();
                    let mut last: Vec<SseEvent> = chunks
                        .finish(finish_reason(finish), usage, by)
                        .iter()
                        .map(|c| sse_event(c).unwrap_or_else(|e| sse_error(&e)))
                        .collect();
                    last.push(sse_done());
                    return Some((stream::iter(last), (chunks, events, answered, true)));
                }
                Some(Event::Failed { message, .. }) => {
                    let error = ApiError::internal(message);
                    return Some((
                        stream::iter(vec![sse_error(&error)]),
                        (chunks, events, answered, true),
                    ));
                }
                Some(Event::Started { .. }) => Vec::new(),
                None => {
                    let error = ApiError::internal("the engine dropped the request");
                    return Some((
                        stream::iter(vec![sse_error(&error)]),
                        (chunks, events, answered, true),
                    ));
                }
            };
            Some((stream::iter(out), (chunks, events, answered, false)))
        },
    );
    use futures_util::StreamExt;
    stream::iter(opening)
        .chain(body.flatten())
        .map(Ok::<_, std::convert::Infallible>)
}

async fn models(State(state): State<AppState>) -> Response {
    Json(state.models.list()).into_response()
}

async fn snapshot(state: &AppState) -> Result<Snapshot, ApiError> {
    state.engine.snapshot().await.map_err(refusal)
}

/// RFC 3339 (UTC) of the moment `at`, an [`Instant`] in the future or the past.
fn wall_time(at: Instant) -> String {
    let now = Instant::now();
    let wall = if at >= now {
        SystemTime::now() + (at - now)
    } else {
        SystemTime::now() - (now - at)
    };
    humantime::format_rfc3339_seconds(wall).to_string()
}

fn ps_entry(row: &ComponentRow) -> PsEntry {
    PsEntry {
        id: row.id.to_string(),
        version: row.version.to_string(),
        kind: row.kind.clone(),
        bytes: row.bytes,
        state: row.state.as_str().to_owned(),
        expires_at: match row.state {
            modularbase_runtime::ComponentState::Loaded => row.expires.map(wall_time),
            _ => None,
        },
    }
}

async fn ps(State(state): State<AppState>) -> Result<Json<PsResponse>, ApiError> {
    let snap = snapshot(&state).await?;
    Ok(Json(PsResponse {
        models: snap
            .view
            .rows
            .iter()
            .filter(|r| r.state.in_memory())
            .map(ps_entry)
            .collect(),
    }))
}

async fn monitor(State(state): State<AppState>) -> Result<Json<MonitorSnapshot>, ApiError> {
    let snap = snapshot(&state).await?;
    let stats = &snap.view.stats;
    Ok(Json(MonitorSnapshot {
        budget: snap.view.budget,
        used: snap.view.used,
        device: snap.view.device.clone(),
        components: snap
            .view
            .rows
            .iter()
            .map(|r| MonitorComponent {
                id: r.id.to_string(),
                kind: r.kind.clone(),
                state: r.state.as_str().to_owned(),
                bytes: r.bytes,
            })
            .collect(),
        cache: CacheCounters {
            hits: stats.hits,
            misses: stats.misses,
            evictions: stats.evictions,
            preloads: stats.preloads,
            expirations: stats.expirations,
        },
        running: snap.running,
        waiting: snap.waiting,
        recent: snap.recent,
    }))
}

/// `POST /api/stop` body.
#[derive(Deserialize)]
struct StopBody {
    model: String,
}

async fn stop(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body)?;
    let body: StopBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            Some("model"),
            format!("the body must be {{\"model\": \"PACK\"}}: {e}"),
        )
    })?;
    if !state.models.has_pack(&body.model) {
        return Err(ApiError::model_not_found(
            &body.model,
            &state.models.names(),
        ));
    }
    let id = PackId::new(&body.model)
        .map_err(|e| ApiError::bad_request(Some("model"), e.to_string()))?;
    let unloaded = state.engine.stop_pack(id).await.map_err(refusal)?;
    Ok(Json(serde_json::json!({ "model": body.model, "was_loaded": unloaded })).into_response())
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
