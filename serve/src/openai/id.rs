//! Response ids (`chatcmpl-…`, `cmpl-…`), timestamps and the system fingerprint.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `system_fingerprint` on every response: this server and its version.
pub const SYSTEM_FINGERPRINT: &str = concat!("fp_modularbase_", env!("CARGO_PKG_VERSION"));

/// A fresh id, `{prefix}-{process start}{counter}`: unique within this process and, through
/// the start time, across restarts.
pub fn new_id(prefix: &str) -> String {
    static START: OnceLock<u128> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let start = START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or_default()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{start:x}{n:08x}")
}

/// Now, in seconds since the Unix epoch (OpenAI's `created`).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_prefixed() {
        let ids: HashSet<String> = (0..1000).map(|_| new_id("chatcmpl")).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.starts_with("chatcmpl-")));
        assert!(unix_now() > 1_700_000_000);
    }
}
