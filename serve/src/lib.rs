//! `modularbase serve`: a local inference server over the ModularBase runtime.
//!
//! The base and router stay resident; packs load through the runtime's cache under a byte
//! budget, with fallback, and stay hot for a keep-alive. The API is OpenAI's
//! (`/v1/chat/completions`, `/v1/completions`, `/v1/models`, streamed as server-sent
//! events) with Ollama-style control (`/api/ps`, `keep_alive`, `/api/stop`), Prometheus
//! `/metrics` and a live monitor page at `/`. One engine thread owns the runtime and runs
//! every active request in each forward pass ([`engine`]).

pub mod engine;
pub mod metrics;
pub mod models;
pub mod openai;
pub mod page;
pub mod routes;
pub mod server;
pub mod status;

pub use engine::{Engine, Limits};
pub use server::{DEFAULT_ADDR, ServeOptions, Server, serve, start};
