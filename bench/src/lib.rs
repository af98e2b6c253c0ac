//! Helpers shared by the benchmark binaries under `src/bin/`: the machine description that
//! goes with every result, timing ([`measure`]), our registry in-process
//! ([`local_registry`]) with a [`publisher`], synthetic [`weights`], and wrappers around
//! the external tools a benchmark compares against or drives ([`tools`] for the standard
//! ones, [`nginx`] serving static files, [`wrk`] generating HTTP load), [`serving`]: an
//! inference server as a child process and a client for its OpenAI endpoints, and
//! [`forward`]: a counting HTTP proxy in front of a registry.

pub mod forward;
pub mod local_registry;
pub mod measure;
pub mod nginx;
pub mod publisher;
pub mod serving;
pub mod shapes;
pub mod tools;
pub mod weights;
pub mod wrk;

use std::fs;

/// The machine, for the record: core count and `/proc/cpuinfo`'s model name.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info.lines().find_map(|l| l.strip_prefix("model name"));
    let cpu = model
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim();
    format!("{cores} cores, {cpu}")
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg` (empty where unavailable):
/// printed before and after a run, so that other work on the machine shows in the record.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
