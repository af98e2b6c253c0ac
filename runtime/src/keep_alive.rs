//! How long a pack stays loaded after the request that used it (Ollama's `keep_alive`).

use std::time::Duration;

/// How long a loaded pack stays in memory once no request uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// Unloaded this long after its last use (unless evicted earlier to make room).
    For(Duration),
    /// Unloaded as soon as no request uses it (`keep_alive: 0`).
    Unload,
    /// Pinned: never evicted, never expires (a negative `keep_alive`).
    Forever,
}

impl Default for KeepAlive {
    /// Five minutes, as Ollama's default.
    fn default() -> Self {
        Self::For(Duration::from_secs(5 * 60))
    }
}
