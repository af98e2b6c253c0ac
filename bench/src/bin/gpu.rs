//! The GPU benchmark of the runtime, run by `bench/gpu/check.sh` on a machine with an
//! NVIDIA GPU (built here with `--features cuda`, see bench/gpu/README.md):
//!
//! - CUDA against CPU logits for the base alone and base + pack (tolerances stated below);
//! - pack load from disk to the GPU against a plain device copy of the same bytes;
//! - decode tokens/s on the GPU against the CPU;
//! - MoE top-2 of 8 against all 8 experts on the GPU;
//! - cache switch (hit) and swap (evict + load) latency, and memory freed by eviction as the
//!   device reports it.
//!
//! `gpu [--json PATH] [--quick] [--device cuda:0]` (`--device cpu` runs every step on the CPU
//! against itself: a smoke test of the program where there is no GPU).

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use modularbase_bench::measure::{alternate, median, millis};
use modularbase_bench::shapes::{BENCH_BASE, BENCH_PACK};
use modularbase_pack::PackId;
use modularbase_runtime::{
    BaseConfig, BaseModel, BaseWeights, ByteTokenizer, HiddenPlug, PackCache, PackConfig,
    PackModule, PackWeights, Sampling, device_memory, generate, pick_device,
};

/// Base logits on the GPU must match the CPU within this relative L2 error (F32 compute on
/// both; only summation order differs).
const BASE_TOLERANCE: f64 = 1e-3;
/// With a Q8_0 pack the GPU quantizes activations differently from the CPU kernels.
const PACK_TOLERANCE: f64 = 2e-2;

const BASE: BaseConfig = BENCH_BASE;
const PACK: PackConfig = BENCH_PACK;

/// One result line.
struct Row {
    name: &'static str,
    value: f64,
    unit: &'static str,
    target: &'static str,
    pass: Option<bool>,
}

fn sync(device: &Device) -> Result<()> {
    device.synchronize().context("synchronising the device")
}

fn rel_l2(a: &Tensor, b: &Tensor) -> Result<f64> {
    let a = a.to_device(&Device::Cpu)?.to_dtype(DType::F64)?;
    let b = b.to_device(&Device::Cpu)?.to_dtype(DType::F64)?;
    let diff = (&a - &b)?.sqr()?.sum_all()?.sqrt()?.to_scalar::<f64>()?;
    Ok(diff / b.sqr()?.sum_all()?.sqrt()?.to_scalar::<f64>()?)
}

fn pack_on(device: &Device, config: PackConfig, seed: u64) -> Result<PackModule> {
    Ok(PackModule::new(PackWeights::random(config, seed)?, device)?)
}

fn logits_rows(gpu: &Device) -> Result<Vec<Row>> {
    let prompt = ByteTokenizer.encode("def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n");
    let mut cpu_base = BaseModel::new(BaseWeights::random(&BASE, 7)?, &Device::Cpu)?;
    let mut gpu_base = BaseModel::new(BaseWeights::random(&BASE, 7)?, gpu)?;
    let base = rel_l2(
        &gpu_base.forward(&prompt, 0, None)?,
        &cpu_base.forward(&prompt, 0, None)?,
    )?;
    let cpu_pack = pack_on(&Device::Cpu, PACK, 9)?;
    let gpu_pack = pack_on(gpu, PACK, 9)?;
    cpu_base.clear_kv_cache();
    gpu_base.clear_kv_cache();
    let with_pack = rel_l2(
        &gpu_base.forward(&prompt, 0, Some(&gpu_pack))?,
        &cpu_base.forward(&prompt, 0, Some(&cpu_pack))?,
    )?;
    Ok(vec![
        Row {
            name: "logits CUDA vs CPU, base (rel. L2)",
            value: base,
            unit: "",
            target: "<= 1e-3",
            pass: Some(base <= BASE_TOLERANCE),
        },
        Row {
            name: "logits CUDA vs CPU, base + Q8_0 pack (rel. L2)",
            value: with_pack,
            unit: "",
            target: "<= 2e-2",
            pass: Some(with_pack <= PACK_TOLERANCE),
        },
    ])
}

fn load_row(gpu: &Device, runs: usize) -> Result<Row> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("weights.gguf");
    let big = PackConfig {
        hidden: 1024,
        width: 1024,
        expert_ffn: 4096,
        ..PACK
    };
    PackWeights::random(big, 3)?.write(&path, "big")?;
    let (ours, plain) = alternate(runs, |ours| {
        millis(|| {
            if ours {
                let module = PackModule::new(PackWeights::read(&path)?, gpu)?;
                sync(gpu)?;
                Ok(module.bytes() as usize)
            } else {
                let bytes = std::fs::read(&path)?;
                let n = bytes.len();
                let tensor = Tensor::from_vec(bytes, n, gpu)?;
                sync(gpu)?;
                Ok(tensor.elem_count())
            }
        })
    })?;
    let ratio = plain / ours;
    Ok(Row {
        name: "pack load disk->GPU, throughput vs plain device copy",
        value: ratio,
        unit: "x",
        target: ">= 0.7",
        pass: Some(ratio >= 0.7),
    })
}

fn decode_rows(gpu: &Device, tokens: usize) -> Result<Vec<Row>> {
    let prompt = ByteTokenizer.encode("The quick brown fox");
    let mut speeds = Vec::new();
    for device in [gpu, &Device::Cpu] {
        let mut base = BaseModel::new(BaseWeights::random(&BASE, 7)?, device)?;
        let pack = pack_on(device, PACK, 9)?;
        generate(&mut base, Some(&pack), &prompt, 4, &Sampling::greedy())?; // warm-up
        let runs: Vec<f64> = (0..3)
            .map(|_| {
                let ms = millis(|| {
                    Ok(generate(
                        &mut base,
                        Some(&pack),
                        &prompt,
                        tokens,
                        &Sampling::greedy(),
                    )?)
                })?;
                Ok(tokens as f64 / (ms / 1e3))
            })
            .collect::<Result<_>>()?;
        speeds.push(median(runs));
    }
    let ratio = speeds[0] / speeds[1];
    Ok(vec![
        Row {
            name: "decode base + pack on GPU",
            value: speeds[0],
            unit: "tok/s",
            target: "",
            pass: None,
        },
        Row {
            name: "decode base + pack on CPU",
            value: speeds[1],
            unit: "tok/s",
            target: "",
            pass: None,
        },
        Row {
            name: "decode GPU vs CPU",
            value: ratio,
            unit: "x",
            target: "(reported)",
            pass: None,
        },
    ])
}

fn moe_row(gpu: &Device, runs: usize) -> Result<Row> {
    let pack = pack_on(gpu, PACK, 11)?;
    let h = Tensor::randn(0f32, 1.0, (1, 512, PACK.hidden), gpu)?;
    let z = pack.adapt_in(&h)?;
    let (sparse, dense) = alternate(runs, |ours| {
        millis(|| {
            let out = if ours {
                pack.moe(&z)?
            } else {
                pack.moe_all_experts(&z)?
            };
            sync(gpu)?;
            Ok(out)
        })
    })?;
    let ratio = sparse / dense;
    Ok(Row {
        name: "MoE top-2 of 8 vs all 8 on GPU (time)",
        value: ratio,
        unit: "x",
        target: "<= 0.35",
        pass: Some(ratio <= 0.35),
    })
}

fn cache_rows(gpu: &Device, switches: usize) -> Result<Vec<Row>> {
    let one = pack_on(gpu, PACK, 1)?.bytes();
    // Room for exactly two packs.
    let mut cache = PackCache::<PackModule>::new(one * 2 + one / 2, Vec::new())?;
    let load = |seed: u64| move || pack_on(gpu, PACK, seed);
    let [a, b, c]: [PackId; 3] = [
        PackId::new("pack_a")?,
        PackId::new("pack_b")?,
        PackId::new("pack_c")?,
    ];
    cache.get(&a, load(1)).map_err(|e| anyhow::anyhow!("{e}"))?;
    cache.get(&b, load(2)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let switch_us = millis(|| {
        for i in 0..switches {
            let id = if i % 2 == 0 { &a } else { &b };
            cache.get(id, load(1)).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(())
    })? * 1e3
        / switches as f64;
    sync(gpu)?;
    let before = device_memory(gpu);
    let swap_ms = millis(|| {
        let pack = cache.get(&c, load(3)).map_err(|e| anyhow::anyhow!("{e}"))?;
        pack.delta(&Tensor::zeros((1, 1, PACK.hidden), DType::F32, gpu)?)?;
        sync(gpu)?;
        Ok(())
    })?;
    let evictions = cache.stats().evictions;
    // Drop the evicted pack's last reference and see the device's own figure.
    sync(gpu)?;
    let after = device_memory(gpu);
    let mut rows = vec![
        Row {
            name: "cache hit switch",
            value: switch_us,
            unit: "us",
            target: "<= 50",
            pass: Some(switch_us <= 50.0),
        },
        Row {
            name: "cache swap (evict + load to GPU)",
            value: swap_ms,
            unit: "ms",
            target: "(reported)",
            pass: None,
        },
        Row {
            name: "evictions during swap",
            value: evictions as f64,
            unit: "",
            target: "== 1",
            pass: Some(evictions == 1),
        },
        Row {
            name: "pack bytes on GPU (tensor sizes)",
            value: one as f64 / 1048576.0,
            unit: "MiB",
            target: "",
            pass: None,
        },
    ];
    if let (Some((free_before, total)), Some((free_after, _))) = (before, after) {
        let net = (free_after as f64 - free_before as f64) / 1048576.0;
        rows.push(Row {
            name: "device free memory change over swap (load one, evict one)",
            value: net,
            unit: "MiB",
            target: "~ 0",
            pass: None,
        });
        rows.push(Row {
            name: "device memory total",
            value: total as f64 / 1048576.0,
            unit: "MiB",
            target: "",
            pass: None,
        });
    }
    Ok(rows)
}

/// Command-line options.
#[derive(clap::Parser)]
#[command(about = "The runtime on a CUDA GPU against the CPU")]
struct Options {
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Fewer runs, tokens and switches.
    #[arg(long)]
    quick: bool,
    /// The device to measure (`cpu` runs every step on the CPU against itself).
    #[arg(long, default_value = "cuda:0")]
    device: String,
}

fn main() -> Result<()> {
    let Options {
        json,
        quick,
        device: spec,
    } = <Options as clap::Parser>::parse();
    let gpu = pick_device(&spec)
        .context("this benchmark needs a CUDA GPU and a build with --features cuda")?
        .device;
    println!(
        "machine: {}; GPU memory (free, total): {:?}",
        modularbase_bench::machine(),
        device_memory(&gpu)
    );
    let runs = if quick { 3 } else { 7 };
    let mut rows = logits_rows(&gpu)?;
    rows.push(load_row(&gpu, runs)?);
    rows.extend(decode_rows(&gpu, if quick { 32 } else { 128 })?);
    rows.push(moe_row(&gpu, runs)?);
    rows.extend(cache_rows(&gpu, if quick { 2_000 } else { 20_000 })?);
    println!(
        "{:<60} {:>14} {:<6} {:<12} result",
        "metric", "value", "unit", "target"
    );
    for r in &rows {
        let result = match r.pass {
            Some(true) => "pass",
            Some(false) => "MISS",
            None => "",
        };
        println!(
            "{:<60} {:>14.6} {:<6} {:<12} {result}",
            r.name, r.value, r.unit, r.target
        );
    }
    if let Some(path) = json {
        let values: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| serde_json::json!({ "metric": r.name, "value": r.value, "unit": r.unit, "target": r.target, "pass": r.pass }))
            .collect();
        std::fs::write(&path, serde_json::to_string_pretty(&values)?)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}
