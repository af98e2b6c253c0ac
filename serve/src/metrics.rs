//! Prometheus metrics at `/metrics`, named as vLLM names its own (`time_to_first_token_seconds`,
//! `num_requests_running`, …) under the `modularbase_` prefix, so dashboards built for vLLM
//! read ours with the prefix changed.
//!
//! [`ServeMetrics`] owns the registry; the server calls its cheap methods as requests run and
//! the cache moves packs, and [`ServeMetrics::render`] encodes the OpenMetrics text. Every
//! label value comes from a closed set or from pack ids the server knows, never from a
//! client, so the label sets stay bounded.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What happened to a pack in the cache, the `event` label of `cache_events_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheEventKind {
    /// A request's pack was in memory.
    Hit,
    /// A request's pack had to be loaded.
    Miss,
    /// A pack was dropped to make room.
    Eviction,
    /// A pack was loaded ahead of a predicted request.
    Preload,
    /// A pack was unloaded because its keep-alive ran out (or `modularbase stop`).
    Expiry,
}

impl CacheEventKind {
    /// The label value: `hit`, `miss`, `eviction`, `preload` or `expiry`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Eviction => "eviction",
            Self::Preload => "preload",
            Self::Expiry => "expiry",
        }
    }
}

/// The finish reasons `requests_total` counts by name; any other is counted as `error`.
const FINISH_REASONS: [&str; 4] = ["stop", "length", "cancelled", "error"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishLabels {
    finish_reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FallbackLabels {
    wanted: String,
    cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    pack: String,
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResidentLabels {
    pack: String,
    kind: String,
}

/// The server's metrics, rendered at `/metrics`. Shared behind an `Arc`; every method takes
/// `&self` and costs an atomic operation or two (a hash lookup for labelled ones).
#[derive(Debug)]
pub struct ServeMetrics {
    registry: Registry,
    time_to_first_token: Histogram,
    inter_token_latency: Histogram,
    e2e_request_latency: Histogram,
    prompt_tokens: Counter,
    generation_tokens: Counter,
    requests: Family<FinishLabels, Counter>,
    fallbacks: Family<FallbackLabels, Counter>,
    cache_events: Family<CacheLabels, Counter>,
    running: Gauge,
    waiting: Gauge,
    resident: Family<ResidentLabels, Gauge>,
    budget: Gauge,
    used: Gauge,
    /// The `(pack, kind)` pairs last reported in memory, so one that leaves the list is set
    /// to 0 rather than left showing its old size.
    in_memory: Mutex<HashSet<ResidentLabels>>,
}

/// Latency buckets in seconds: 1 ms doubling to about 65 s (17 buckets).
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
}

/// Bytes as a gauge value; no machine holds `i64::MAX` bytes.
fn gauge_bytes(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

impl ServeMetrics {
    /// Every metric registered at zero under the `modularbase` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("modularbase");
        let time_to_first_token = Histogram::new(latency_buckets());
        let inter_token_latency = Histogram::new(latency_buckets());
        let e2e_request_latency = Histogram::new(latency_buckets());
        let prompt_tokens = Counter::default();
        let generation_tokens = Counter::default();
        let requests = Family::<FinishLabels, Counter>::default();
        let fallbacks = Family::<FallbackLabels, Counter>::default();
        let cache_events = Family::<CacheLabels, Counter>::default();
        let running = Gauge::default();
        let waiting = Gauge::default();
        let resident = Family::<ResidentLabels, Gauge>::default();
        let budget = Gauge::default();
        let used = Gauge::default();
        registry.register(
            "time_to_first_token_seconds",
            "Seconds from a request's arrival to its first generated token",
            time_to_first_token.clone(),
        );
        registry.register(
            "inter_token_latency_seconds",
            "Seconds between consecutive generated tokens",
            inter_token_latency.clone(),
        );
        registry.register(
            "e2e_request_latency_seconds",
            "Seconds from a request's arrival to its last token",
            e2e_request_latency.clone(),
        );
        registry.register(
            "prompt_tokens",
            "Prompt tokens processed",
            prompt_tokens.clone(),
        );
        registry.register(
            "generation_tokens",
            "Tokens generated",
            generation_tokens.clone(),
        );
        // Every finish reason from the start, so `rate()` sees the first of each.
        for finish_reason in FINISH_REASONS {
            requests
                .get_or_create(&FinishLabels {
                    finish_reason: finish_reason.to_owned(),
                })
                .inc_by(0);
        }
        registry.register(
            "requests",
            "Finished requests by finish reason (stop, length, cancelled, error)",
            requests.clone(),
        );
        registry.register(
            "fallbacks",
            "Requests answered without the pack they wanted, by pack and cause",
            fallbacks.clone(),
        );
        registry.register(
            "cache_events",
            "Pack cache events by pack (hit, miss, eviction, preload, expiry)",
            cache_events.clone(),
        );
        registry.register(
            "num_requests_running",
            "Requests generating now",
            running.clone(),
        );
        registry.register(
            "num_requests_waiting",
            "Requests waiting for a slot",
            waiting.clone(),
        );
        registry.register(
            "pack_resident_bytes",
            "Bytes a component holds in memory (0 when not loaded)",
            resident.clone(),
        );
        registry.register("budget_bytes", "The memory budget in bytes", budget.clone());
        registry.register(
            "used_bytes",
            "Bytes of the budget in use (base, router and loaded packs)",
            used.clone(),
        );
        Self {
            registry,
            time_to_first_token,
            inter_token_latency,
            e2e_request_latency,
            prompt_tokens,
            generation_tokens,
            requests,
            fallbacks,
            cache_events,
            running,
            waiting,
            resident,
            budget,
            used,
            in_memory: Mutex::new(HashSet::new()),
        }
    }

    /// A request's first token came `secs` after it arrived.
    pub fn observe_first_token(&self, secs: f64) {
        self.time_to_first_token.observe(secs);
    }

    /// A token came `secs` after the one before it.
    pub fn observe_inter_token(&self, secs: f64) {
        self.inter_token_latency.observe(secs);
    }

    /// A request finished `secs` after it arrived, for `finish_reason` (`stop`, `length`,
    /// `cancelled`, `error`; anything else counts as `error`), having read `prompt_tokens`
    /// and generated `generated_tokens`.
    pub fn observe_request(
        &self,
        secs: f64,
        finish_reason: &str,
        prompt_tokens: u64,
        generated_tokens: u64,
    ) {
        self.e2e_request_latency.observe(secs);
        self.prompt_tokens.inc_by(prompt_tokens);
        self.generation_tokens.inc_by(generated_tokens);
        let finish_reason = FINISH_REASONS
            .into_iter()
            .find(|known| *known == finish_reason)
            .unwrap_or("error");
        self.requests
            .get_or_create(&FinishLabels {
                finish_reason: finish_reason.to_owned(),
            })
            .inc();
    }

    /// A request wanted pack `wanted` and was answered without it, for `cause` (a short label
    /// the caller chooses: `budget`, `load_failed`, …).
    pub fn fallback(&self, wanted: &str, cause: &str) {
        self.fallbacks
            .get_or_create(&FallbackLabels {
                wanted: wanted.to_owned(),
                cause: cause.to_owned(),
            })
            .inc();
    }

    /// The cache did `event` with `pack`.
    pub fn cache_event(&self, pack: &str, event: CacheEventKind) {
        self.cache_events
            .get_or_create(&CacheLabels {
                pack: pack.to_owned(),
                event: event.as_str().to_owned(),
            })
            .inc();
    }

    /// `running` requests generate now and `waiting` wait for a slot.
    pub fn set_queue(&self, running: usize, waiting: usize) {
        self.running.set(i64::try_from(running).unwrap_or(i64::MAX));
        self.waiting.set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    /// The budget and bytes in use, and every component in memory as `(pack, kind, bytes)`.
    /// A component reported before and missing now is set to 0.
    pub fn set_memory(&self, budget: u64, used: u64, components: &[(String, String, u64)]) {
        self.budget.set(gauge_bytes(budget));
        self.used.set(gauge_bytes(used));
        let now: HashSet<ResidentLabels> = components
            .iter()
            .map(|(pack, kind, _)| ResidentLabels {
                pack: pack.clone(),
                kind: kind.clone(),
            })
            .collect();
        let mut before = self
            .in_memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for gone in before.difference(&now) {
            self.resident.get_or_create(gone).set(0);
        }
        for (pack, kind, bytes) in components {
            let labels = ResidentLabels {
                pack: pack.clone(),
                kind: kind.clone(),
            };
            self.resident
                .get_or_create(&labels)
                .set(gauge_bytes(*bytes));
        }
        *before = now;
    }

    /// The OpenMetrics text exposition, as `prometheus-client` encodes it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for ServeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rendered lines, for exact matches.
    fn lines(metrics: &ServeMetrics) -> Vec<String> {
        metrics.render().lines().map(str::to_owned).collect()
    }

    fn has(metrics: &ServeMetrics, line: &str) -> bool {
        lines(metrics).iter().any(|l| l == line)
    }

    #[test]
    fn fresh_metrics_render_every_unlabelled_family_at_zero() {
        let metrics = ServeMetrics::new();
        let text = metrics.render();
        for name in [
            "# TYPE modularbase_time_to_first_token_seconds histogram",
            "# TYPE modularbase_inter_token_latency_seconds histogram",
            "# TYPE modularbase_e2e_request_latency_seconds histogram",
            "# TYPE modularbase_prompt_tokens counter",
            "# TYPE modularbase_generation_tokens counter",
            "# TYPE modularbase_requests counter",
            "# TYPE modularbase_num_requests_running gauge",
            "# TYPE modularbase_num_requests_waiting gauge",
            "# TYPE modularbase_budget_bytes gauge",
            "# TYPE modularbase_used_bytes gauge",
        ] {
            assert!(text.contains(name), "no `{name}` in:\n{text}");
        }
        assert!(has(&metrics, "modularbase_prompt_tokens_total 0"));
        for reason in FINISH_REASONS {
            let line = format!("modularbase_requests_total{{finish_reason=\"{reason}\"}} 0");
            assert!(has(&metrics, &line), "no `{line}` in:\n{text}");
        }
        // Families labelled by pack appear with their first pack.
        assert!(!text.contains("modularbase_cache_events"), "{text}");
        assert!(has(
            &metrics,
            "modularbase_time_to_first_token_seconds_count 0"
        ));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn latencies_and_tokens_are_counted() {
        let metrics = ServeMetrics::new();
        metrics.observe_first_token(0.25);
        metrics.observe_inter_token(0.01);
        metrics.observe_inter_token(0.02);
        metrics.observe_request(1.5, "stop", 12, 30);
        metrics.observe_request(0.5, "length", 3, 4);
        let text = metrics.render();
        assert!(
            has(&metrics, "modularbase_time_to_first_token_seconds_count 1"),
            "{text}"
        );
        assert!(
            has(&metrics, "modularbase_time_to_first_token_seconds_sum 0.25"),
            "{text}"
        );
        assert!(
            has(&metrics, "modularbase_inter_token_latency_seconds_count 2"),
            "{text}"
        );
        assert!(
            has(&metrics, "modularbase_e2e_request_latency_seconds_count 2"),
            "{text}"
        );
        assert!(
            has(&metrics, "modularbase_e2e_request_latency_seconds_sum 2.0"),
            "{text}"
        );
        // 0.25 s falls in the 0.256 s bucket and every one above, not in 0.128 s.
        assert!(
            has(
                &metrics,
                "modularbase_time_to_first_token_seconds_bucket{le=\"0.128\"} 0"
            ),
            "{text}"
        );
        assert!(
            has(
                &metrics,
                "modularbase_time_to_first_token_seconds_bucket{le=\"0.256\"} 1"
            ),
            "{text}"
        );
        assert!(
            has(
                &metrics,
                "modularbase_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1"
            ),
            "{text}"
        );
        assert!(
            has(&metrics, "modularbase_prompt_tokens_total 15"),
            "{text}"
        );
        assert!(
            has(&metrics, "modularbase_generation_tokens_total 34"),
            "{text}"
        );
        assert!(
            has(
                &metrics,
                "modularbase_requests_total{finish_reason=\"stop\"} 1"
            ),
            "{text}"
        );
        assert!(
            has(
                &metrics,
                "modularbase_requests_total{finish_reason=\"length\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn unknown_finish_reasons_count_as_errors() {
        let metrics = ServeMetrics::new();
        metrics.observe_request(0.1, "cancelled", 1, 0);
        metrics.observe_request(0.1, "tool_calls\"}", 1, 0);
        metrics.observe_request(0.1, "error", 1, 0);
        let text = metrics.render();
        assert!(
            has(
                &metrics,
                "modularbase_requests_total{finish_reason=\"cancelled\"} 1"
            ),
            "{text}"
        );
        assert!(
            has(
                &metrics,
                "modularbase_requests_total{finish_reason=\"error\"} 2"
            ),
            "{text}"
        );
        assert!(!text.contains("tool_calls"), "{text}");
    }

    #[test]
    fn fallbacks_and_cache_events_carry_their_labels() {
        let metrics = ServeMetrics::new();
        metrics.fallback("python_code", "budget");
        metrics.fallback("python_code", "budget");
        metrics.cache_event("python_code", CacheEventKind::Miss);
        metrics.cache_event("python_code", CacheEventKind::Hit);
        metrics.cache_event("python_code", CacheEventKind::Hit);
        metrics.cache_event("sql", CacheEventKind::Eviction);
        metrics.cache_event("sql", CacheEventKind::Preload);
        metrics.cache_event("sql", CacheEventKind::Expiry);
        let text = metrics.render();
        assert!(
            has(
                &metrics,
                "modularbase_fallbacks_total{wanted=\"python_code\",cause=\"budget\"} 2"
            ),
            "{text}"
        );
        for line in [
            "modularbase_cache_events_total{pack=\"python_code\",event=\"hit\"} 2",
            "modularbase_cache_events_total{pack=\"python_code\",event=\"miss\"} 1",
            "modularbase_cache_events_total{pack=\"sql\",event=\"eviction\"} 1",
            "modularbase_cache_events_total{pack=\"sql\",event=\"preload\"} 1",
            "modularbase_cache_events_total{pack=\"sql\",event=\"expiry\"} 1",
        ] {
            assert!(has(&metrics, line), "no `{line}` in:\n{text}");
        }
    }

    #[test]
    fn queue_gauges_follow_the_latest_values() {
        let metrics = ServeMetrics::new();
        metrics.set_queue(3, 7);
        metrics.set_queue(2, 1);
        assert!(has(&metrics, "modularbase_num_requests_running 2"));
        assert!(has(&metrics, "modularbase_num_requests_waiting 1"));
    }

    #[test]
    fn packs_that_leave_memory_drop_to_zero() {
        let metrics = ServeMetrics::new();
        let component = |pack: &str, kind: &str, bytes| (pack.to_owned(), kind.to_owned(), bytes);
        metrics.set_memory(
            1000,
            900,
            &[
                component("base", "base", 600),
                component("python_code", "domain", 300),
            ],
        );
        let text = metrics.render();
        assert!(has(&metrics, "modularbase_budget_bytes 1000"), "{text}");
        assert!(has(&metrics, "modularbase_used_bytes 900"), "{text}");
        assert!(
            has(
                &metrics,
                "modularbase_pack_resident_bytes{pack=\"python_code\",kind=\"domain\"} 300"
            ),
            "{text}"
        );

        metrics.set_memory(
            1000,
            650,
            &[
                component("base", "base", 600),
                component("sql", "domain", 50),
            ],
        );
        let text = metrics.render();
        assert!(has(&metrics, "modularbase_used_bytes 650"), "{text}");
        assert!(
            has(
                &metrics,
                "modularbase_pack_resident_bytes{pack=\"base\",kind=\"base\"} 600"
            ),
            "{text}"
        );
        assert!(
            has(
                &metrics,
                "modularbase_pack_resident_bytes{pack=\"python_code\",kind=\"domain\"} 0"
            ),
            "{text}"
        );
        assert!(
            has(
                &metrics,
                "modularbase_pack_resident_bytes{pack=\"sql\",kind=\"domain\"} 50"
            ),
            "{text}"
        );
    }

    #[test]
    fn metrics_are_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<ServeMetrics>();
    }
}
