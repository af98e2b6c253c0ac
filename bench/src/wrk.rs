//! `wrk` (Debian package `wrk`) as the load generator: a fixed number of keep-alive
//! connections hammer one URL for a fixed duration, and a Lua `done` hook prints the
//! summary as one JSON line, so nothing is parsed from wrk's human-readable units.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};

/// The marker in front of the JSON line the report script prints.
const MARKER: &str = "WRK_RESULT ";

/// wrk's `done` hook: totals, errors and latency percentiles (microseconds) as JSON.
const REPORT_SCRIPT: &str = r#"-- Written by modularbase-bench: print the summary as one machine-readable line.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"#;

/// What one run measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadResult {
    /// Completed responses.
    pub requests: u64,
    /// Wall-clock duration of the run in seconds.
    pub seconds: f64,
    /// Bytes read from the sockets, headers and unfinished responses included.
    pub bytes: u64,
    /// Connect, read and write errors and timeouts.
    pub socket_errors: u64,
    /// Responses with a status other than 2xx or 3xx.
    pub bad_status: u64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency in milliseconds.
    pub p99_ms: f64,
}

impl LoadResult {
    /// Completed responses per second.
    pub fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// MiB read per second (headers included, as wrk's `Transfer/sec`).
    pub fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / f64::from(1 << 20) / self.seconds
    }

    /// Parses the line the report script printed in wrk's standard output.
    fn parse(stdout: &str) -> Result<Self> {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(MARKER))
            .with_context(|| format!("wrk printed no `{MARKER}` line:\n{stdout}"))?;
        let value: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("wrk's summary `{line}`"))?;
        let field = |name: &str| {
            value[name]
                .as_u64()
                .with_context(|| format!("wrk's summary has no integer `{name}`: {line}"))
        };
        Ok(Self {
            requests: field("requests")?,
            seconds: field("duration_us")? as f64 / 1e6,
            bytes: field("bytes")?,
            socket_errors: field("connect")? + field("read")? + field("write")? + field("timeout")?,
            bad_status: field("status")?,
            p50_ms: field("p50_us")? as f64 / 1000.0,
            p99_ms: field("p99_us")? as f64 / 1000.0,
        })
    }
}

/// A configured wrk: its report script, connections and threads.
#[derive(Debug, Clone)]
pub struct Wrk {
    script: PathBuf,
    connections: u32,
    threads: u32,
}

impl Wrk {
    /// Writes the report script into `dir` and checks that `wrk` runs.
    pub fn new(dir: &Path, connections: u32, threads: u32) -> Result<Self> {
        ensure!(
            threads > 0 && connections >= threads,
            "wrk needs at least one thread and at least as many connections as threads"
        );
        let script = dir.join("wrk-report.lua");
        fs::write(&script, REPORT_SCRIPT).with_context(|| format!("write {}", script.display()))?;
        Ok(Self {
            script,
            connections,
            threads,
        })
    }

    /// `wrk --version`'s name and version (wrk exits with status 1 after printing them).
    pub fn version() -> Result<String> {
        let output = Command::new("wrk")
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .context(
                "run `wrk --version`: install the Debian package `wrk` (bench/registry-setup.sh)",
            )?;
        // `wrk debian/4.1.0-3+b2 [epoll] Copyright …`: keep the name and the version.
        let text = String::from_utf8_lossy(&output.stdout);
        let words: Vec<&str> = text.split_whitespace().take(2).collect();
        Ok(words.join(" "))
    }

    /// Loads `url` for `duration` (whole seconds) and returns what wrk measured. A request
    /// times out after `timeout`; wrk's own output goes to the error stream only on failure.
    pub fn run(&self, url: &str, duration: Duration, timeout: Duration) -> Result<LoadResult> {
        let mut command = Command::new("wrk");
        command
            .arg(format!("--threads={}", self.threads))
            .arg(format!("--connections={}", self.connections))
            .arg(format!("--duration={}s", duration.as_secs().max(1)))
            .arg(format!("--timeout={}s", timeout.as_secs().max(1)))
            .arg("--script")
            .arg(&self.script)
            .arg(url)
            .stdin(Stdio::null());
        let output = command
            .output()
            .with_context(|| format!("run {command:?}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        ensure!(
            output.status.success(),
            "{command:?} failed ({}):\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        LoadResult::parse(&stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_report_line() -> Result<()> {
        let stdout = "Running 1s test @ http://127.0.0.1:1/\n  2 threads and 4 connections\n\
            WRK_RESULT {\"requests\": 200, \"duration_us\": 2000000, \"bytes\": 2097152, \
            \"connect\": 0, \"read\": 1, \"write\": 0, \"status\": 3, \"timeout\": 2, \
            \"p50_us\": 1500, \"p99_us\": 9000}\n";
        let result = LoadResult::parse(stdout)?;
        assert_eq!(result.requests, 200);
        assert_eq!(result.socket_errors, 3);
        assert_eq!(result.bad_status, 3);
        assert!((result.requests_per_s() - 100.0).abs() < 1e-9);
        assert!((result.mib_per_s() - 1.0).abs() < 1e-9);
        assert!((result.p99_ms - 9.0).abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn refuses_output_without_the_report() {
        assert!(LoadResult::parse("Running 1s test\n").is_err());
    }
}
