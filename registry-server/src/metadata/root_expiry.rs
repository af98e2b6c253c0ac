//! A root nobody renews expires, and from then on every client refuses the registry's
//! index. The operator is told a month ahead, at start and once a day, in the log.

use std::time::{Duration, SystemTime};

use modularbase_pack::tuf::{ROOT_FILE, Received, Root, expires_at};

use super::Metadata;

/// How long before the root expires the operator is warned.
pub(crate) const ROOT_EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often the warning is repeated.
pub(crate) const ROOT_WARNING_EVERY: Duration = Duration::from_secs(24 * 3600);

impl Metadata {
    /// Logs a warning when the newest root expires within [`ROOT_EXPIRY_WARNING`] of `now`
    /// (or has expired), with how to renew it; returns whether it warned.
    pub(crate) async fn warn_if_root_expires_soon(&self, now: SystemTime) -> bool {
        let Ok(Some((version, bytes))) = self.db.newest_root().await else {
            return false;
        };
        let Ok(root) = Received::<Root>::parse(ROOT_FILE, &bytes) else {
            return false;
        };
        let expires = &root.signed.expires;
        let Ok(at) = expires_at(ROOT_FILE, expires) else {
            return false;
        };
        let renew = format!(
            "renew it with `modularbase registry keys rotate --key ROOT_KEY_FILE … --data {}` (signed by the root keys' threshold)",
            self.data_dir.display()
        );
        match at.duration_since(now) {
            Err(_) => tracing::warn!(
                "the registry's root (version {version}) expired at {expires}: every client now refuses its index; {renew}"
            ),
            Ok(left) if left < ROOT_EXPIRY_WARNING => tracing::warn!(
                "the registry's root (version {version}) expires at {expires}, in {}: then every client refuses its index; {renew}",
                humantime::format_duration(Duration::from_secs(left.as_secs() / 3600 * 3600))
            ),
            Ok(_) => return false,
        }
        true
    }
}
