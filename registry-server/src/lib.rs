//! The ModularBase registry: a self-hostable pack marketplace backend (DESIGN §3).
//!
//! Cargo's registry protocol, adapted: a sparse index (`/index/{id}`, one JSON line per
//! version) carries everything a client needs to resolve; archives are content-addressed
//! blobs on disk; a JSON API under `/api/v1` publishes, downloads, yanks, searches and
//! manages owners and signing keys. State is one SQLite file (WAL) plus the blob
//! directory, both under the data directory:
//!
//! ```text
//! DATA/registry.sqlite3     users, tokens (hashed), keys, packs, owners, versions
//! DATA/blobs/sha256/ab/cd/  archives named by their SHA-256
//! DATA/tmp/                 uploads in flight (removed by `registry gc` when stale)
//! DATA/metadata/             the online keys that sign snapshot.json and timestamp.json
//! ```
//!
//! Beside the index files, `/index/root.json`, `/index/N.root.json`, `/index/snapshot.json`
//! and `/index/timestamp.json` are TUF-style signed metadata (`metadata`), so a client can
//! tell a current, complete index from an old or forged one.
//!
//! The same server renders the marketplace (`/`, `/search`, `/packs/{id}`, `/users/{login}`)
//! as plain HTML and serves the API's OpenAPI document at `/api/openapi.json`.
//!
//! A publish writes and syncs the blob first and then commits one transaction, so an
//! acknowledged publish survives a crash and no version is ever listed without its blob.

mod admin;
mod app;
mod auth;
mod catalog;
mod command;
mod config;
mod db;
mod deadline;
mod envelope;
mod error;
mod index_file;
mod metadata;
mod metrics;
mod router;
mod routes;
mod server;
mod storage;
mod web;

pub use admin::{GcReport, TokenInfo, create_token, create_user, gc, list_tokens, revoke_token};
pub use app::AppState;
pub use auth::Scope;
pub use command::{RegistryCommand, run_command};
pub use config::{DEFAULT_MAX_PUBLISH_BYTES, RegistryConfig};
pub use server::{RunningServer, serve, start};
