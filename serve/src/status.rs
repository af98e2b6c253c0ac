//! What the server reports about itself: the loaded components (`GET /api/ps`) and the
//! monitor's picture (`GET /api/monitor`, drawn by the page at `/`).

use serde::{Deserialize, Serialize};

/// `GET /api/ps`: every component in memory, as Ollama's `/api/ps` lists models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsResponse {
    /// The base and router first, then loaded packs, most recently used first.
    pub models: Vec<PsEntry>,
}

/// One component in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsEntry {
    /// Pack id (`python_code`).
    pub id: String,
    /// Its version (`1.0.0`).
    pub version: String,
    /// `base`, `router` or `domain`.
    pub kind: String,
    /// Bytes it takes of the budget.
    pub bytes: u64,
    /// `resident` (base, router: always there), `pinned` (a negative keep-alive: never
    /// evicted), `in_use` (a request is generating with it) or `loaded`.
    pub state: String,
    /// When it unloads (RFC 3339, UTC); `None` for resident, pinned and in-use components.
    pub expires_at: Option<String>,
}

/// `GET /api/monitor`: the dashboard's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorSnapshot {
    /// The memory budget in bytes.
    pub budget: u64,
    /// Bytes in use (base, router and loaded packs).
    pub used: u64,
    /// The device, in words (`cpu`).
    pub device: String,
    /// Every component: in memory, evicted or only installed.
    pub components: Vec<MonitorComponent>,
    /// Cache counters since the server started.
    pub cache: CacheCounters,
    /// Requests generating now.
    pub running: usize,
    /// Requests waiting for a slot.
    pub waiting: usize,
    /// The latest finished requests, newest first (at most [`RECENT_REQUESTS`]).
    pub recent: Vec<RecentRequest>,
}

/// How many finished requests the monitor keeps.
pub const RECENT_REQUESTS: usize = 20;

/// One component on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorComponent {
    /// Pack id.
    pub id: String,
    /// `base`, `router` or `domain`.
    pub kind: String,
    /// `resident`, `pinned`, `in_use`, `loaded`, `evicted` or `installed`.
    pub state: String,
    /// Bytes in memory (on disk, for evicted and installed packs).
    pub bytes: u64,
}

/// The pack cache's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCounters {
    /// Requests whose pack was in memory.
    pub hits: u64,
    /// Requests whose pack had to be loaded.
    pub misses: u64,
    /// Packs dropped to make room.
    pub evictions: u64,
    /// Packs loaded ahead of a predicted request.
    pub preloads: u64,
    /// Packs unloaded because their keep-alive ran out (or `modularbase stop`).
    pub expirations: u64,
}

/// A finished request, for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentRequest {
    /// The response id (`chatcmpl-…`, `cmpl-…`).
    pub id: String,
    /// The `model` the client asked for.
    pub model: String,
    /// The pack that answered; `None` when the base answered alone.
    pub pack: Option<String>,
    /// Packs that could not be used, each as `wanted: cause`.
    pub substitutions: Vec<String>,
    /// Tokens generated.
    pub tokens: usize,
    /// Seconds from arrival to the last token.
    pub seconds: f64,
    /// `stop`, `length`, or `cancelled` when the client went away.
    pub finish_reason: String,
}
