//! `modularbase serve` benchmark: each figure against a baseline measured in the same run.
//!
//! 1. Concurrency: 8 clients at once across 4 packs (2 each, forced by model name) against
//!    the same 8 requests one at a time, on the same server: generated tokens/s and the
//!    ratio. On the tiny example packs, then on SmolLM2-135M with its packs.
//! 2. Time to first token of a streamed request whose pack is resident against one whose
//!    pack was just unloaded (`/api/stop`): medians and the ratio.
//! 3. Against llama.cpp (PyPI xllamacpp's server): tokens/s under the same 8-client load on
//!    SmolLM2's base, greedy, the same GGUF, 2 threads each.
//!
//! Run with:
//! `cargo build --release -p modularbase -p modularbase-bench && target/release/serve [--quick] [--runs N]`

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod rows;

use rows::{concurrency_row, first_token_row, llamacpp_row};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use modularbase_bench::serving::ServerProcess;
use modularbase_bench::{load_average, machine};
use serde_json::{Value, json};

/// Threads for both servers' compute (candle's rayon pool, llama.cpp's threads).
const THREADS: usize = 2;
/// Clients at once in the concurrent side.
const CLIENTS: usize = 8;
/// The SmolLM2 base's id, as `base import` is told.
const SMOLLM2_ID: &str = "smollm2_135m";

/// Command-line options.
#[derive(clap::Parser)]
#[command(about = "modularbase serve: concurrency, time to first token, and llama.cpp")]
struct Options {
    /// Timed runs of each side (medians kept).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// A smoke run: 2 runs, 16 tokens, fewer time-to-first-token samples.
    #[arg(long)]
    quick: bool,
    /// The `modularbase` binary to serve with.
    #[arg(long, default_value = "target/release/modularbase")]
    modularbase: PathBuf,
    /// Tokens per request.
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    /// SmolLM2-135M's GGUF (`scripts/fetch-model.sh smollm2-135m` fetches it); default
    /// the path it fetches to. The SmolLM2 rows are skipped when it is missing.
    #[arg(long)]
    gguf: Option<PathBuf>,
    /// The python with xllamacpp (`scripts/llamacpp-venv.sh` prints it); default
    /// target/llamacpp-venv/bin/python. The llama.cpp row is skipped when it is missing.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Only the tiny example packs (no SmolLM2, no llama.cpp).
    #[arg(long)]
    tiny_only: bool,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One line of the results table.
struct Row {
    metric: String,
    unit: &'static str,
    ours: f64,
    baseline: f64,
    /// ours/baseline.
    ratio: f64,
    /// The least ratio wanted, where there is a target.
    target: Option<f64>,
    note: String,
    load_before: String,
    load_after: String,
}

/// The repository root (this crate's parent).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// A prompt per domain, for the pack that knows it.
fn prompt_for(pack: &str) -> &'static str {
    match pack {
        "python_code" => "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
        "rust_code" => "fn parse_config(path: &Path) -> Result<Config> {\n    let text = ",
        "reasoning" => {
            "Question: A train travels 60 miles in 1.5 hours. What is its average speed?\nAnswer: Let's think step by step."
        }
        _ => "The best way to spend a quiet Sunday afternoon is",
    }
}

/// Eight prompts for the llama.cpp comparison, all different (no prefix shared).
const PROMPTS: [&str; CLIENTS] = [
    "The history of the Roman Empire begins with",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "fn parse_config(path: &Path) -> Result<Config> {\n    let text = ",
    "Question: A train travels 60 miles in 1.5 hours. What is its average speed?\nAnswer:",
    "My favourite recipe for a quick weeknight dinner is",
    "In physics, the law of conservation of energy states that",
    "Once upon a time, in a small village by the sea,",
    "The three most important things to know about databases are",
];

/// Our server: `modularbase serve --base BASE --pack ./P ... --parallel 8`.
fn start_ours(
    options: &Options,
    home: &Path,
    base: &Path,
    packs: &[PathBuf],
    keep_alive: &str,
) -> Result<ServerProcess> {
    let mut command = Command::new(&options.modularbase);
    command
        .env("RAYON_NUM_THREADS", THREADS.to_string())
        .env("MODULARBASE_HOME", home)
        .args(["serve", "--device", "cpu", "--addr", "127.0.0.1:0"])
        .args([
            "--parallel",
            &CLIENTS.to_string(),
            "--keep-alive",
            keep_alive,
        ])
        .arg("--base")
        .arg(base);
    for pack in packs {
        command.arg("--pack").arg(pack);
    }
    ServerProcess::start("modularbase serve", command)
}

/// The checkout's commit, and whether the working tree differs from it (for the record:
/// the binary served is whatever was built from it).
fn revision(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(head) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            format!(
                "commit {head}{}",
                if dirty { ", tree modified" } else { "" }
            )
        }
        None => "commit unknown".to_owned(),
    }
}

/// `examples/packs/NAME`, made absolute.
fn example(root: &Path, dir: &str, name: &str) -> PathBuf {
    root.join(dir).join(name)
}

/// Forced models: each pack by its id.
fn forced(ids: &[&str]) -> Vec<(String, Option<String>)> {
    ids.iter()
        .map(|id| ((*id).to_owned(), Some((*id).to_owned())))
        .collect()
}

/// The tiny example packs: concurrency and first token.
fn tiny_rows(
    options: &Options,
    root: &Path,
    home: &Path,
    runs: usize,
    ttft_runs: usize,
) -> Result<Vec<Row>> {
    let ids = ["python_code", "rust_code", "reasoning", "general_chat"];
    let dirs = [
        "python_code-1.0.0",
        "rust_code-1.0.0",
        "reasoning-1.1.0",
        "general_chat-1.0.0",
    ];
    let packs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| example(root, "examples/packs", d))
        .collect();
    let base = example(root, "examples/packs", "tiny_base-1.0.0");
    let mut server = start_ours(options, home, &base, &packs, "5m")?;
    println!("tiny packs: {} at {}", server.name, server.url);
    let mut rows = vec![concurrency_row(
        "tiny, 4 packs",
        &mut server,
        &forced(&ids),
        runs,
        options_tokens(options),
    )?];
    rows.push(first_token_row(
        "tiny",
        &mut server,
        "python_code",
        ttft_runs,
    )?);
    Ok(rows)
}

/// `--max-tokens`, or 16 with `--quick`.
fn options_tokens(options: &Options) -> usize {
    if options.quick {
        options.max_tokens.min(16)
    } else {
        options.max_tokens
    }
}

/// SmolLM2: the base imported into `work`, concurrency over its packs, first token, and
/// the llama.cpp comparison.
fn smollm2_rows(
    options: &Options,
    root: &Path,
    home: &Path,
    work: &Path,
    gguf: &Path,
    runs: usize,
    ttft_runs: usize,
) -> Result<Vec<Row>> {
    let base = work.join("smollm2_135m-1.0.0");
    let started = Instant::now();
    let status = Command::new(&options.modularbase)
        .env("MODULARBASE_HOME", home)
        .args(["-q", "base", "import"])
        .arg(gguf)
        .args(["--id", SMOLLM2_ID, "--version", "1.0.0", "--out"])
        .arg(&base)
        .status()
        .context("spawn modularbase base import")?;
    ensure!(status.success(), "modularbase base import failed: {status}");
    println!(
        "imported {} as {SMOLLM2_ID} 1.0.0 in {:.1} s",
        gguf.display(),
        started.elapsed().as_secs_f64()
    );
    let ids = ["python_code", "rust_code", "reasoning"];
    let packs: Vec<PathBuf> = ["python_code-0.1.0", "rust_code-0.1.0", "reasoning-0.1.0"]
        .iter()
        .map(|d| example(root, "examples/smollm2-packs", d))
        .collect();
    let tokens = options_tokens(options);
    let mut rows = Vec::new();
    {
        let mut server = start_ours(options, home, &base, &packs, "5m")?;
        println!("SmolLM2 with packs: {} at {}", server.name, server.url);
        // Three packs forced and the base (routed, no router: the base alone) as the fourth.
        let mut models = forced(&ids);
        models.push((SMOLLM2_ID.to_owned(), None));
        rows.push(concurrency_row(
            "SmolLM2, 3 packs + base",
            &mut server,
            &models,
            runs,
            tokens,
        )?);
        rows.push(first_token_row(
            "SmolLM2",
            &mut server,
            "python_code",
            ttft_runs,
        )?);
    }
    let python = options
        .python
        .clone()
        .unwrap_or_else(|| root.join("target/llamacpp-venv/bin/python"));
    if !python.exists() {
        eprintln!(
            "warning: no {} (run scripts/llamacpp-venv.sh): the llama.cpp row is skipped",
            python.display()
        );
        return Ok(rows);
    }
    let mut ours = start_ours(options, home, &base, &[], "5m")?;
    let mut llama = Command::new(&python);
    llama
        .arg(root.join("bench/llamacpp/serve.py"))
        .arg("--model")
        .arg(gguf)
        .args(["--threads", &THREADS.to_string()])
        .args(["--parallel", &CLIENTS.to_string(), "--ctx", "4096"]);
    let mut theirs = ServerProcess::start("llama.cpp server (xllamacpp)", llama)?;
    println!(
        "SmolLM2 base: ours at {}, llama.cpp at {}",
        ours.url, theirs.url
    );
    rows.extend(llamacpp_row(&mut ours, &mut theirs, runs, tokens)?);
    Ok(rows)
}

fn main() -> Result<()> {
    let options = <Options as clap::Parser>::parse();
    let (runs, ttft_runs) = if options.quick {
        (2, 3)
    } else {
        (options.runs.max(1), 4 * options.runs.max(1) + 1)
    };
    ensure!(
        options.modularbase.exists(),
        "no {} (cargo build --release -p modularbase, or pass --modularbase)",
        options.modularbase.display()
    );
    let root = repo_root();
    let machine = machine();
    let started = Instant::now();
    let load_start = load_average();
    let revision = revision(&root);
    println!(
        "machine: {machine}\nload average: {load_start}\nserving: {} ({revision})\nRAYON_NUM_THREADS={THREADS} for ours, {THREADS} threads for llama.cpp",
        options.modularbase.display()
    );
    let tmp = tempfile::tempdir().context("create a temporary directory")?;
    let home = tmp.path().join("home");
    fs::create_dir_all(&home)?;
    let mut rows = tiny_rows(&options, &root, &home, runs, ttft_runs)?;
    if !options.tiny_only {
        let gguf = options.gguf.clone().unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map_or_else(PathBuf::new, PathBuf::from);
            home.join(".cache/modularbase/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
        if gguf.exists() {
            rows.extend(smollm2_rows(
                &options,
                &root,
                &home,
                tmp.path(),
                &gguf,
                runs,
                ttft_runs,
            )?);
        } else {
            eprintln!(
                "warning: no {} (scripts/fetch-model.sh smollm2-135m): the SmolLM2 rows are skipped",
                gguf.display()
            );
        }
    }
    let load_end = load_average();
    report(
        &options,
        &rows,
        &machine,
        &revision,
        &load_start,
        &load_end,
        started.elapsed(),
    )
}

/// Prints the table and writes `--json`.
fn report(
    options: &Options,
    rows: &[Row],
    machine: &str,
    revision: &str,
    load_start: &str,
    load_end: &str,
    elapsed: Duration,
) -> Result<()> {
    println!(
        "\n{:<58} {:>12} {:>12} {:>7} {:>12}  load before / after",
        "metric", "ours", "baseline", "ratio", "target"
    );
    for r in rows {
        let target = r.target.map_or("-".to_owned(), |t| {
            let pass = if r.ratio >= t { "pass" } else { "FAIL" };
            format!(">= {t}x {pass}")
        });
        println!(
            "{:<58} {:>12} {:>12} {:>7.2} {target:>12}  {} / {}",
            r.metric,
            format!("{:.1} {}", r.ours, r.unit),
            format!("{:.1} {}", r.baseline, r.unit),
            r.ratio,
            r.load_before,
            r.load_after
        );
    }
    println!(
        "\nload average: {load_start} at the start, {load_end} at the end; {:.1} s in all{}",
        elapsed.as_secs_f64(),
        if options.quick { " (--quick)" } else { "" }
    );
    let Some(path) = &options.json else {
        return Ok(());
    };
    let json_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "metric": r.metric, "unit": r.unit, "ours": r.ours, "baseline": r.baseline,
                "ratio": r.ratio, "target_at_least": r.target, "note": r.note, "load_before": r.load_before,
                "load_after": r.load_after,
            })
        })
        .collect();
    let json = json!({
        "machine": machine,
        "revision": revision,
        "quick": options.quick,
        "seconds": elapsed.as_secs_f64(),
        "load_start": load_start,
        "load_end": load_end,
        "rows": json_rows,
    });
    modularbase_bench::measure::write_json(path, &json)?;
    Ok(())
}
