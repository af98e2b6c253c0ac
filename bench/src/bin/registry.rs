//! Registry serving benchmark: `GET /index/{id}` and archive downloads (a large pack and a
//! small one) from our registry, in-process, against nginx serving the very same bytes as
//! static files, both loaded by `wrk` over loopback at 64 keep-alive connections for a fixed
//! duration, ours and nginx alternately. The result is the ratio ours/nginx of requests and
//! MiB per second (above 1 means we serve more), with p50 and p99 latency for both.
//!
//! Run with:
//! `cargo build --release -p modularbase-bench --bin registry && target/release/registry
//! [--duration 10] [--connections 64] [--threads 2] [--packs 20] [--versions 5]
//! [--large-mib 8] [--rounds 1] [--warmup 1] [--json PATH]`
//!
//! Needs `nginx` and `wrk` on the `PATH` (Debian packages `nginx` and `wrk`;
//! `bench/registry-setup.sh` installs them without starting the system nginx).

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use modularbase_bench::local_registry::LocalRegistry;
use modularbase_bench::nginx::Nginx;
use modularbase_bench::publisher::Publisher;
use modularbase_bench::weights::incompressible;
use modularbase_bench::wrk::{LoadResult, Wrk};
use modularbase_bench::{load_average, machine};
use modularbase_tests::Pack;
use modularbase_tests::synthetic_weights;

/// The large pack's id.
const LARGE: &str = "large_pack";
/// A wrk request that takes longer than this counts as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Command-line options.
#[derive(clap::Parser)]
#[command(
    about = "Registry index GETs and downloads under wrk against nginx serving the same bytes"
)]
struct Options {
    /// Seconds of load per scenario and server.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Domain packs to publish.
    #[arg(long, default_value_t = 20)]
    packs: usize,
    /// Versions of each pack.
    #[arg(long, default_value_t = 5)]
    versions: usize,
    /// Size of the large pack's weights in MiB.
    #[arg(long, default_value_t = 8)]
    large_mib: usize,
    /// Alternating rounds of every scenario.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Seconds of untimed warm-up before each measurement.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One loaded URL and what both servers did with it, summed over the rounds.
struct Row {
    scenario: String,
    path: String,
    body_bytes: usize,
    ours: LoadResult,
    nginx: LoadResult,
}

/// Refuses option combinations the benchmark cannot run.
fn validate(options: &Options) -> Result<()> {
    ensure!(
        options.duration > 0
            && options.packs > 0
            && options.versions > 0
            && options.large_mib > 0
            && options.rounds > 0,
        "--duration, --packs, --versions, --large-mib and --rounds must be positive"
    );
    ensure!(
        options.threads > 0 && options.connections >= options.threads,
        "--threads must be positive and --connections at least --threads"
    );
    Ok(())
}

/// Writes `bytes` at `root/path`, creating its directories.
fn write_static(root: &Path, path: &str, bytes: &[u8]) -> Result<()> {
    let file = root.join(path.trim_start_matches('/'));
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    fs::write(&file, bytes).with_context(|| format!("write {}", file.display()))
}

/// Publishes the pack graph and writes, under `root`, every index file and archive exactly
/// as our server serves them. Returns the scenarios: `(name, path, body)`.
fn publish_all(
    options: &Options,
    publisher: &Publisher,
    root: &Path,
) -> Result<Vec<(String, String, Vec<u8>)>> {
    let mut packs = vec![Pack::base("tiny_base", "1.0.0")];
    for i in 0..options.packs {
        for minor in 0..options.versions {
            packs.push(Pack::domain(
                &format!("domain_{i:02}"),
                &format!("1.{minor}.0"),
            ));
        }
    }
    packs.push(Pack::domain(LARGE, "1.0.0").weights(synthetic_weights(
        "domain",
        &incompressible(options.large_mib as u64),
    )));
    let mut ids = Vec::new();
    let mut downloads = Vec::new();
    for pack in &packs {
        let archive = publisher.publish(pack)?;
        let path = format!("/api/v1/packs/{}/{}/download", pack.id, pack.version);
        write_static(root, &path, &archive)?;
        downloads.push((path, archive));
        if !ids.contains(&pack.id) {
            ids.push(pack.id.clone());
        }
    }
    let mut index = None;
    for id in &ids {
        let path = format!("/index/{id}");
        let body = publisher.get(&publisher.url, &path)?;
        write_static(root, &path, &body)?;
        if id == "domain_00" {
            index = Some((path, body));
        }
    }
    let (index_path, index_body) = index.context("domain_00 was not published")?;
    let large_path = format!("/api/v1/packs/{LARGE}/1.0.0/download");
    let small_path = format!(
        "/api/v1/packs/domain_00/1.{}.0/download",
        options.versions - 1
    );
    let find = |path: &str| {
        downloads
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, archive)| archive.clone())
            .with_context(|| format!("{path} was not published"))
    };
    Ok(vec![
        (
            format!("index ({} versions)", options.versions),
            index_path,
            index_body,
        ),
        (
            "download large".to_owned(),
            large_path.clone(),
            find(&large_path)?,
        ),
        (
            "download small".to_owned(),
            small_path.clone(),
            find(&small_path)?,
        ),
    ])
}

/// Sums two runs' counts and keeps the worse latencies (rounds are few: a median of two
/// would hide a bad round).
fn accumulate(total: &mut LoadResult, run: LoadResult) {
    total.requests += run.requests;
    total.seconds += run.seconds;
    total.bytes += run.bytes;
    total.socket_errors += run.socket_errors;
    total.bad_status += run.bad_status;
    total.p50_ms = total.p50_ms.max(run.p50_ms);
    total.p99_ms = total.p99_ms.max(run.p99_ms);
}

/// Everything between a started registry and its shutdown: publish, start nginx, check
/// that both serve the same bytes, then load them alternately.
fn bench(options: &Options, ours: &str, token: String, tmp: &Path) -> Result<Vec<Row>> {
    let publisher = Publisher::new(ours, token)?;
    let root = tmp.join("static");
    let scenarios = publish_all(options, &publisher, &root)?;
    let work = tmp.join("nginx");
    fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
    let nginx = Nginx::start(&root, &work)?;
    let theirs = nginx.url();
    for (name, path, body) in &scenarios {
        for url in [ours, theirs.as_str()] {
            let served = publisher.get(url, path)?;
            ensure!(&served == body, "{name}: {url}{path} serves other bytes");
        }
    }
    println!("both servers serve the same bytes; nginx at {theirs}, ours at {ours}");
    let wrk = Wrk::new(tmp, options.connections, options.threads)?;
    let duration = Duration::from_secs(options.duration);
    let mut rows = Vec::new();
    for (name, path, body) in scenarios {
        let urls = [format!("{ours}{path}"), format!("{theirs}{path}")];
        if options.warmup > 0 {
            for url in &urls {
                wrk.run(url, Duration::from_secs(options.warmup), REQUEST_TIMEOUT)?;
            }
        }
        let mut totals = [LoadResult::default(); 2];
        for round in 0..options.rounds {
            // Ours first in even rounds, nginx first in odd ones.
            for turn in 0..2 {
                let which = (turn + round) % 2;
                let run = wrk.run(&urls[which], duration, REQUEST_TIMEOUT)?;
                let who = ["ours", "nginx"][which];
                println!(
                    "{name} round {}: {who} {:.0} req/s, {:.1} MiB/s, p50 {:.2} ms, p99 {:.2} ms",
                    round + 1,
                    run.requests_per_s(),
                    run.mib_per_s(),
                    run.p50_ms,
                    run.p99_ms
                );
                accumulate(&mut totals[which], run);
            }
        }
        rows.push(Row {
            scenario: format!("{name} ({} B)", body.len()),
            path,
            body_bytes: body.len(),
            ours: totals[0],
            nginx: totals[1],
        });
    }
    nginx.stop()?;
    Ok(rows)
}

fn main() -> Result<()> {
    let options = <Options as clap::Parser>::parse();
    validate(&options)?;
    let versions = format!("{}, {}", Nginx::version()?, Wrk::version()?);
    let load_before = load_average();
    let tmp = tempfile::tempdir().context("create a temporary directory")?;
    // nginx's workers run as `nobody` when we are root: let them into the static root.
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))
        .context("open the temporary directory to nginx's workers")?;
    let registry = LocalRegistry::start(tmp.path().join("data"))?;
    let outcome = registry
        .user("bench")
        .and_then(|token| bench(&options, &registry.url, token, tmp.path()));
    let stopped = registry.shutdown();
    let rows = outcome?;
    stopped?;
    report(&options, &rows, &versions, &load_before)
}

fn report(options: &Options, rows: &[Row], versions: &str, load_before: &str) -> Result<()> {
    let machine = machine();
    let load_after = load_average();
    println!("\nmachine: {machine}; load average before {load_before}, after {load_after}");
    println!(
        "{versions}; {} connections, {} wrk threads, {} s x {} round(s), alternating",
        options.connections, options.threads, options.duration, options.rounds
    );
    println!("ratio = ours/nginx (above 1: we serve more); MiB/s counts headers too\n");
    println!(
        "{:<32} {:>10} {:>11} {:>6} {:>10} {:>11} {:>6} {:>19} {:>19}",
        "scenario",
        "ours req/s",
        "nginx req/s",
        "ratio",
        "ours MiB/s",
        "nginx MiB/s",
        "ratio",
        "ours p50/p99",
        "nginx p50/p99"
    );
    let mut json_rows = Vec::new();
    for row in rows {
        let (o, n) = (&row.ours, &row.nginx);
        let rps_ratio = o.requests_per_s() / n.requests_per_s();
        let mib_ratio = o.mib_per_s() / n.mib_per_s();
        println!(
            "{:<32} {:>10.0} {:>11.0} {rps_ratio:>6.2} {:>10.1} {:>11.1} {mib_ratio:>6.2} {:>19} {:>19}",
            row.scenario,
            o.requests_per_s(),
            n.requests_per_s(),
            o.mib_per_s(),
            n.mib_per_s(),
            format!("{:.2}/{:.2} ms", o.p50_ms, o.p99_ms),
            format!("{:.2}/{:.2} ms", n.p50_ms, n.p99_ms),
        );
        for (who, run) in [("ours", o), ("nginx", n)] {
            if run.socket_errors + run.bad_status > 0 {
                println!(
                    "  warning: {who}: {} socket errors or timeouts, {} non-2xx/3xx responses",
                    run.socket_errors, run.bad_status
                );
            }
        }
        let side = |run: &LoadResult| {
            serde_json::json!({
                "requests": run.requests,
                "seconds": run.seconds,
                "bytes": run.bytes,
                "req_per_s": run.requests_per_s(),
                "mib_per_s": run.mib_per_s(),
                "p50_ms": run.p50_ms,
                "p99_ms": run.p99_ms,
                "socket_errors": run.socket_errors,
                "bad_status": run.bad_status,
            })
        };
        json_rows.push(serde_json::json!({
            "scenario": row.scenario,
            "path": row.path,
            "body_bytes": row.body_bytes,
            "ours": side(o),
            "nginx": side(n),
            "req_per_s_ratio": rps_ratio,
            "mib_per_s_ratio": mib_ratio,
        }));
    }
    let Some(path) = &options.json else {
        return Ok(());
    };
    let json = serde_json::json!({
        "machine": machine,
        "tools": versions,
        "load_average": {"before": load_before, "after": load_after},
        "connections": options.connections,
        "threads": options.threads,
        "duration_s": options.duration,
        "rounds": options.rounds,
        "rows": json_rows,
    });
    modularbase_bench::measure::write_json(path, &json)?;
    Ok(())
}
