//! Signed-metadata benchmark (issue 18): `modularbase pack resolve python_code@1.0.0` of the
//! DESIGN graph (`tiny_base` 1.0.0; `reasoning` 1.0.0, 1.1.0, 1.2.0; `python_code` 1.0.0
//! needing `reasoning >=1.1`) with the registry's signed metadata verified, against the
//! same resolve reading the index the old way, cold (an empty home) and warm (a home that
//! resolved once already).
//!
//! One registry runs in-process; two forwarding proxies ([`ForwardProxy`], the same code)
//! stand in front of it, so both sides pay the same hop. `signed` forwards everything;
//! `unsigned` answers 404 for `root.json`, `N.root.json`, `timestamp.json` and
//! `snapshot.json`, so its client finds no metadata and revalidates every index file with
//! its ETag. Every run is checked: exit 0, the same three-line plan, a verified snapshot
//! in the signed home (`trust/HOST/snapshot.json`) and no `trust/` at all in
//! the unsigned one. The proxies count the requests of every run.
//!
//! Run with:
//! `cargo build --release -p modularbase -p modularbase-bench --bin modularbase --bin metadata
//! && target/release/metadata [--runs 15] [--json PATH]`

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail, ensure};
use modularbase_bench::forward::{ForwardProxy, Logged};
use modularbase_bench::local_registry::LocalRegistry;
use modularbase_bench::measure::{median, millis, rotate};
use modularbase_bench::publisher::Publisher;
use modularbase_bench::tools::{self, settle};
use modularbase_bench::{load_average, machine};
use modularbase_pack::tuf::{ROOT_FILE, SNAPSHOT_FILE, TIMESTAMP_FILE};
use modularbase_tests::Pack;

/// What every run resolves.
const REQUEST: &str = "python_code@1.0.0";
/// The plan every run must print: (id, version), in order.
const PLAN: [(&str, &str); 3] = [
    ("python_code", "1.0.0"),
    ("reasoning", "1.2.0"),
    ("tiny_base", "1.0.0"),
];
/// The targets of issue 18: signed/unsigned at most this, cold and warm.
const TARGET_COLD: f64 = 1.3;
const TARGET_WARM: f64 = 1.1;

/// Command-line options.
#[derive(clap::Parser)]
#[command(about = "Cold and warm `pack resolve` with signed metadata verified, against without")]
struct Options {
    /// Timed runs of each of the four cases (the median is kept).
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// The `modularbase` binary (default: the one beside this benchmark).
    #[arg(long)]
    modularbase: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One of the four cases timed.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    signed: bool,
    warm: bool,
}

/// The cases, in the order the first run takes them (later runs rotate it).
const CASES: [Case; 4] = [
    Case {
        name: "cold signed",
        signed: true,
        warm: false,
    },
    Case {
        name: "cold unsigned",
        signed: false,
        warm: false,
    },
    Case {
        name: "warm signed",
        signed: true,
        warm: true,
    },
    Case {
        name: "warm unsigned",
        signed: false,
        warm: true,
    },
];

/// Every run of one case.
#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    /// The requests the proxy answered, per run.
    requests: Vec<Vec<Logged>>,
}

/// The paths the unsigned side's proxy refuses: the signed metadata.
fn is_metadata(target: &str) -> bool {
    let path = target.split('?').next().unwrap_or(target);
    let Some(name) = path.strip_prefix("/index/") else {
        return false;
    };
    let versioned_root = name
        .strip_suffix(".root.json")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    versioned_root || [ROOT_FILE, TIMESTAMP_FILE, SNAPSHOT_FILE].contains(&name)
}

/// The DESIGN graph, in publishing order.
fn graph() -> Vec<Pack> {
    let mut packs = vec![Pack::base("tiny_base", "1.0.0")];
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        packs.push(Pack::domain("reasoning", version));
    }
    packs.push(Pack::domain("python_code", "1.0.0").dep("reasoning", ">=1.1"));
    packs
}

/// `modularbase pack resolve python_code@1.0.0 --registry url` in `home`; fails unless it
/// exits 0.
fn resolve(binary: &Path, url: &str, home: &Path) -> Result<Output> {
    let output = Command::new(binary)
        .args(["pack", "resolve", REQUEST, "--registry", url])
        .env("MODULARBASE_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("MODULARBASE_REGISTRY")
        .env_remove("MODULARBASE_TOKEN")
        .env_remove("MODULARBASE_SERVER")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("spawn `{}`", binary.display()))?;
    ensure!(
        output.status.success(),
        "`modularbase pack resolve {REQUEST}` via {url} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(output)
}

/// Fails unless `stdout` is the expected plan, one pack a line.
fn check_plan(stdout: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(stdout);
    let printed: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut fields = l.split_whitespace();
            (fields.next().unwrap_or(""), fields.next().unwrap_or(""))
        })
        .collect();
    ensure!(printed == PLAN, "unexpected plan:\n{text}");
    Ok(())
}

/// Fails unless the home verified metadata (signed) or never saw any (unsigned).
fn check_trust(home: &Path, signed: bool) -> Result<()> {
    let trust = home.join("trust");
    if !signed {
        ensure!(
            !trust.exists(),
            "the unsigned side's home has `{}`: its client found metadata",
            trust.display()
        );
        return Ok(());
    }
    let hosts = fs::read_dir(&trust)
        .with_context(|| format!("the signed side's home has no `{}`", trust.display()))?;
    for host in hosts {
        let host = host.context("list the trust directory")?;
        if host.path().join(SNAPSHOT_FILE).is_file() {
            return Ok(());
        }
    }
    bail!("the signed side's home has no `trust/*/{SNAPSHOT_FILE}`: nothing was verified")
}

/// `path status` of each request, the `/index/` prefix dropped.
fn describe(requests: &[Logged]) -> String {
    requests
        .iter()
        .map(|r| {
            let path = r.path.strip_prefix("/index/").unwrap_or(&r.path);
            format!("{path} {}", r.status)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The fewest and most requests a run of these samples made.
fn request_range(samples: &Samples) -> (usize, usize) {
    let counts = samples.requests.iter().map(Vec::len);
    (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0))
}

/// Everything between a started registry and its shutdown: publish, start the proxies,
/// prime the warm homes, then time the four cases in turn.
fn bench(
    options: &Options,
    binary: &Path,
    url: &str,
    token: String,
    tmp: &Path,
) -> Result<Vec<Samples>> {
    let publisher = Publisher::new(url, token)?;
    for pack in graph() {
        publisher.publish(&pack)?;
    }
    // The registry itself signs: without this, both sides would run unsigned.
    publisher.get(url, &format!("/index/{ROOT_FILE}"))?;
    publisher.get(url, &format!("/index/{TIMESTAMP_FILE}"))?;
    let signed = ForwardProxy::start(url, |_| false)?;
    let unsigned = ForwardProxy::start(url, is_metadata)?;
    let proxy = |case: &Case| if case.signed { &signed } else { &unsigned };
    let warm_home = |case: &Case| {
        tmp.join(if case.signed {
            "warm-signed"
        } else {
            "warm-unsigned"
        })
    };

    let mut plan = None;
    let mut run_checked = |case: &Case, home: &Path| -> Result<f64> {
        settle()?;
        let mut output = None;
        let ms = millis(|| {
            output = Some(resolve(binary, &proxy(case).url, home)?);
            Ok(())
        })?;
        let output = output.context("the resolve did not run")?;
        check_plan(&output.stdout).context(case.name)?;
        match &plan {
            None => plan = Some(output.stdout),
            Some(first) => ensure!(
                *first == output.stdout,
                "{}: the plan differs from the first run's:\n{}",
                case.name,
                String::from_utf8_lossy(&output.stdout)
            ),
        }
        check_trust(home, case.signed).context(case.name)?;
        Ok(ms)
    };

    // The warm homes resolve once, untimed: that run is what makes them warm.
    for case in CASES.iter().filter(|c| c.warm) {
        let home = warm_home(case);
        fs::create_dir(&home).with_context(|| format!("create {}", home.display()))?;
        run_checked(case, &home)?;
        let first = proxy(case).take_log();
        println!(
            "{} home, first run: {} requests: {}",
            case.name,
            first.len(),
            describe(&first)
        );
    }

    let mut samples: Vec<Samples> = CASES.iter().map(|_| Samples::default()).collect();
    let mut cold_runs = 0usize;
    rotate(options.runs, CASES.len(), |index| {
        let case = &CASES[index];
        let home = if case.warm {
            warm_home(case)
        } else {
            cold_runs += 1;
            let home = tmp.join(format!("cold-{cold_runs}"));
            fs::create_dir(&home).with_context(|| format!("create {}", home.display()))?;
            home
        };
        let ms = run_checked(case, &home)?;
        let requests = proxy(case).take_log();
        println!("{}: {ms:.1} ms, {} requests", case.name, requests.len());
        if !case.warm {
            fs::remove_dir_all(&home).with_context(|| format!("remove {}", home.display()))?;
        }
        samples[index].ms.push(ms);
        samples[index].requests.push(requests);
        Ok(ms)
    })?;
    Ok(samples)
}

fn main() -> Result<()> {
    let options = <Options as clap::Parser>::parse();
    ensure!(options.runs > 0, "--runs must be positive");
    let binary = tools::modularbase_binary(options.modularbase.as_deref())?;
    let load_before = load_average();
    let tmp = tempfile::tempdir().context("create a temporary directory")?;
    let registry = LocalRegistry::start(tmp.path().join("data"))?;
    let outcome = registry
        .user("bench")
        .and_then(|token| bench(&options, &binary, &registry.url, token, tmp.path()));
    let stopped = registry.shutdown();
    let samples = outcome?;
    stopped?;
    report(&options, &samples, &load_before)
}

fn report(options: &Options, samples: &[Samples], load_before: &str) -> Result<()> {
    let machine = machine();
    let load_after = load_average();
    println!("\nmachine: {machine}; load average before {load_before}, after {load_after}");
    println!(
        "`modularbase pack resolve {REQUEST}` (a spawned process) through a forwarding proxy; median of {} runs per case, order rotating\n",
        options.runs
    );
    println!(
        "{:<6} {:>10} {:>12} {:>16} {:>7} {:>16} {:>18}",
        "home",
        "signed ms",
        "unsigned ms",
        "signed/unsigned",
        "target",
        "signed requests",
        "unsigned requests"
    );
    let count = |s: &Samples| {
        let (low, high) = request_range(s);
        if low == high {
            low.to_string()
        } else {
            format!("{low}-{high}")
        }
    };
    let mut rows = Vec::new();
    for (warm, target) in [(false, TARGET_COLD), (true, TARGET_WARM)] {
        let find = |signed: bool| {
            let at = CASES
                .iter()
                .position(|c| c.warm == warm && c.signed == signed)
                .unwrap_or(0);
            &samples[at]
        };
        let (s, u) = (find(true), find(false));
        let (s_ms, u_ms) = (median(s.ms.clone()), median(u.ms.clone()));
        let ratio = s_ms / u_ms;
        let home = if warm { "warm" } else { "cold" };
        let verdict = if ratio <= target { "" } else { "  over target" };
        println!(
            "{home:<6} {s_ms:>10.1} {u_ms:>12.1} {ratio:>16.2} {:>7} {:>16} {:>18}{verdict}",
            format!("<={target}"),
            count(s),
            count(u)
        );
        rows.push(serde_json::json!({
            "home": home,
            "signed_median_ms": s_ms,
            "unsigned_median_ms": u_ms,
            "signed_over_unsigned": ratio,
            "target": target,
            "signed_ms": s.ms,
            "unsigned_ms": u.ms,
            "signed_requests": s.requests.iter().map(Vec::len).collect::<Vec<_>>(),
            "unsigned_requests": u.requests.iter().map(Vec::len).collect::<Vec<_>>(),
            "signed_last_run": describe(s.requests.last().map_or(&[], Vec::as_slice)),
            "unsigned_last_run": describe(u.requests.last().map_or(&[], Vec::as_slice)),
        }));
    }
    println!("\nrequests of each case's last run (path under /index/, status):");
    for (case, s) in CASES.iter().zip(samples) {
        let last = s.requests.last().map_or(&[][..], Vec::as_slice);
        println!("  {:<14} {}", case.name, describe(last));
    }
    let Some(path) = &options.json else {
        return Ok(());
    };
    let json = serde_json::json!({
        "machine": machine,
        "load_average": {"before": load_before, "after": load_after},
        "request": REQUEST,
        "runs": options.runs,
        "rows": rows,
    });
    modularbase_bench::measure::write_json(path, &json)?;
    Ok(())
}
