//! The memory dashboard: every component (base, router, packs) with its state and a bar
//! against the budget, and the cache counters.

use modularbase_pack::PackId;

use std::fmt::Write as _;

use crate::cache::CacheStats;

/// Where a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentState {
    /// Pinned in memory (base, router).
    Resident,
    /// Loaded in the pack cache and pinned there (a negative keep-alive): never evicted.
    Pinned,
    /// Loaded in the pack cache, a request generating with it now.
    InUse,
    /// Loaded in the pack cache.
    Loaded,
    /// Loaded earlier, evicted since.
    Evicted,
    /// Installed, never loaded.
    Installed,
}

impl ComponentState {
    /// Whether the component is in memory.
    pub fn in_memory(self) -> bool {
        matches!(
            self,
            Self::Resident | Self::Pinned | Self::InUse | Self::Loaded
        )
    }

    /// The state in one lowercase word (`resident`, `in_use`, …), for APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Pinned => "pinned",
            Self::InUse => "in_use",
            Self::Loaded => "loaded",
            Self::Evicted => "evicted",
            Self::Installed => "installed",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Resident => "Resident",
            Self::Pinned => "Pinned",
            Self::InUse => "In use",
            Self::Loaded => "Loaded",
            Self::Evicted => "Evicted",
            Self::Installed => "Installed",
        }
    }
}

/// One row of the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRow {
    /// Pack id.
    pub id: PackId,
    /// Its version.
    pub version: semver::Version,
    /// base, router or domain.
    pub kind: String,
    /// Where it is.
    pub state: ComponentState,
    /// Bytes in memory (or on disk when not loaded).
    pub bytes: u64,
    /// When a loaded pack unloads unless used again (its keep-alive).
    pub expires: Option<std::time::Instant>,
}

/// What the monitor shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorView {
    /// The memory budget.
    pub budget: u64,
    /// Bytes in use.
    pub used: u64,
    /// The device, in words.
    pub device: String,
    /// One row per component.
    pub rows: Vec<ComponentRow>,
    /// Cache counters.
    pub stats: CacheStats,
    /// Free and total bytes the device itself reports (GPUs), if any.
    pub device_memory: Option<(u64, u64)>,
}

/// Bytes as a short figure (`12.5 MiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A bar of `width` cells filled in proportion to `part / whole`.
fn bar(part: u64, whole: u64, width: usize) -> String {
    let filled = if whole == 0 {
        0
    } else {
        ((part as f64 / whole as f64) * width as f64).ceil() as usize
    };
    let filled = filled.min(width);
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

impl MonitorView {
    /// The dashboard as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let percent = if self.budget == 0 {
            0.0
        } else {
            100.0 * self.used as f64 / self.budget as f64
        };
        let _ = writeln!(
            out,
            "ModularBase memory · {} · budget {} · used {} ({percent:.1}%)",
            self.device,
            human_bytes(self.budget),
            human_bytes(self.used)
        );
        let _ = writeln!(out, "  {}", bar(self.used, self.budget, 40));
        let _ = writeln!(
            out,
            "  {:<20} {:<7} {:<10} {:>10}  share of budget",
            "component", "kind", "state", "size"
        );
        for row in &self.rows {
            let shown = if row.state.in_memory() {
                bar(row.bytes, self.budget, 20)
            } else {
                String::new()
            };
            let line = format!(
                "  {:<20} {:<7} {:<10} {:>10}  {shown}",
                row.id,
                row.kind,
                row.state.label(),
                human_bytes(row.bytes)
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if let Some((free, total)) = self.device_memory {
            let _ = writeln!(
                out,
                "  device memory: {} used of {} ({} free, as the device reports)",
                human_bytes(total - free),
                human_bytes(total),
                human_bytes(free)
            );
        }
        let s = &self.stats;
        let _ = writeln!(
            out,
            "  cache: {} hits, {} misses, {} evictions, {} preloads ({} used), {} ms loading",
            s.hits,
            s.misses,
            s.evictions,
            s.preloads,
            s.preload_hits,
            s.load_time.as_millis()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rows_show_state_size_and_a_bar_against_the_budget() {
        let view = MonitorView {
            budget: 1000,
            used: 500,
            device: "cpu".into(),
            rows: vec![
                ComponentRow {
                    id: "tiny_base".parse().unwrap(),
                    version: semver::Version::new(1, 0, 0),
                    expires: None,
                    kind: "base".into(),
                    state: ComponentState::Resident,
                    bytes: 400,
                },
                ComponentRow {
                    id: "python_code".parse().unwrap(),
                    version: semver::Version::new(1, 0, 0),
                    expires: None,
                    kind: "domain".into(),
                    state: ComponentState::Loaded,
                    bytes: 100,
                },
                ComponentRow {
                    id: "medical".parse().unwrap(),
                    version: semver::Version::new(1, 0, 0),
                    expires: None,
                    kind: "domain".into(),
                    state: ComponentState::Evicted,
                    bytes: 100,
                },
            ],
            stats: CacheStats {
                hits: 1,
                misses: 2,
                evictions: 1,
                ..CacheStats::default()
            },
            device_memory: Some((3 << 30, 4 << 30)),
        };
        let text = view.render();
        assert!(
            text.contains("budget 1000 B · used 500 B (50.0%)"),
            "{text}"
        );
        assert!(
            text.contains(
                "tiny_base            base    Resident        400 B  ████████░░░░░░░░░░░░"
            ),
            "{text}"
        );
        assert!(
            text.contains("medical              domain  Evicted         100 B\n"),
            "{text}"
        );
        assert!(text.contains("1 hits, 2 misses, 1 evictions"), "{text}");
        assert!(
            text.contains("device memory: 1.0 GiB used of 4.0 GiB (3.0 GiB free"),
            "{text}"
        );
    }
}
