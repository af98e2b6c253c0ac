//! Runtime benchmark (DESIGN §5): each of the runtime's claims as a ratio against a baseline
//! measured in the same run, with its target. Expert bytes in Q8_0 and Q4_0 against F16;
//! top-2-of-8 MoE against all 8 experts; pack load against a plain read of the file; a cache
//! hit switch between two resident packs; decode tokens/s of base + pack against the base
//! alone; hit ratio of the predictor-aware cache against a plain LRU on Zipf and Markov traces.
//!
//! Run with:
//! `cargo build --release -p modularbase-bench --bin runtime && target/release/runtime [--quick] [--json PATH]`

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fs;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use candle_core::{Device, Tensor};
use modularbase_bench::measure::{alternate, millis};
use modularbase_bench::shapes::{BENCH_BASE, BENCH_PACK};
use modularbase_bench::{load_average, machine};
use modularbase_pack::ExpertFormat;
use modularbase_pack::PackId;
use modularbase_runtime::{
    BaseModel, ByteTokenizer, CacheStats, HiddenPlug, PackCache, PackConfig, PackModule,
    PackWeights, Sampling, Sized64, generate,
};

/// Bytes in a MiB.
const MIB: f64 = 1_048_576.0;
/// The pack shape of the memory, MoE, switch and decode measurements.
const PACK: PackConfig = BENCH_PACK;

/// Command-line options.
#[derive(clap::Parser)]
#[command(about = "The runtime's claims, each against a baseline in the same run")]
struct Options {
    /// Fewer runs and a smaller pack (about 5 s instead of 11).
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What a row's target bounds.
#[derive(Clone, Copy)]
enum Target {
    /// ours/baseline must not exceed this.
    RatioAtMost(f64),
    /// ours/baseline must reach this.
    RatioAtLeast(f64),
    /// ours alone (in the row's unit) must not exceed this.
    AtMost(f64),
}

/// One measured claim.
struct Row {
    metric: String,
    unit: &'static str,
    ours: f64,
    baseline: Option<f64>,
    target: Target,
}

impl Row {
    /// ours/baseline, where there is a baseline.
    fn ratio(&self) -> Option<f64> {
        self.baseline.map(|b| self.ours / b)
    }

    /// Whether the target is met.
    fn pass(&self) -> bool {
        match (self.target, self.ratio()) {
            (Target::RatioAtMost(t), Some(r)) => r <= t,
            (Target::RatioAtLeast(t), Some(r)) => r >= t,
            (Target::AtMost(t), _) => self.ours <= t,
            _ => false,
        }
    }

    /// The target, as printed.
    fn target_text(&self) -> String {
        match self.target {
            Target::RatioAtMost(t) => format!("<= {t}x"),
            Target::RatioAtLeast(t) => format!(">= {t}x"),
            Target::AtMost(t) => format!("<= {t} {}", self.unit),
        }
    }
}

/// A seeded xorshift64* generator, for inputs and traces that are the same every run.
struct Rng(u64);

impl Rng {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// [`PACK`] with its experts stored as `format`.
fn with_format(format: ExpertFormat) -> PackConfig {
    PackConfig {
        expert_format: format,
        ..PACK
    }
}

/// A random pack module on the CPU.
fn pack(config: PackConfig, seed: u64) -> Result<PackModule> {
    let weights = PackWeights::random(config, seed).context("random pack weights")?;
    PackModule::new(weights, &Device::Cpu).context("build the pack module")
}

/// 1. Expert bytes (resident as stored: quantized blocks stay quantized, F16 stays F16).
fn memory_rows() -> Result<Vec<Row>> {
    let bytes = |format| -> Result<f64> {
        let weights = PackWeights::random(with_format(format), 1).context("random weights")?;
        Ok(weights.expert_bytes() as f64)
    };
    let f16 = bytes(ExpertFormat::F16)?;
    [(ExpertFormat::Q8_0, 0.55), (ExpertFormat::Q4_0, 0.30)]
        .into_iter()
        .map(|(format, target)| {
            Ok(Row {
                metric: format!("expert bytes {format:?} vs F16"),
                unit: "B",
                ours: bytes(format)?,
                baseline: Some(f16),
                target: Target::RatioAtMost(target),
            })
        })
        .collect()
}

/// 2. Top-k MoE against every expert on the same adapted rows, per expert format.
fn moe_rows(runs: usize) -> Result<Vec<Row>> {
    const ROWS: usize = 128;
    const REPS: usize = 3;
    let mut rng = Rng(0x5EED_0002);
    let values = (0..ROWS * PACK.hidden).map(|_| (rng.unit() * 2.0 - 1.0) as f32);
    let h = Tensor::from_iter(values, &Device::Cpu)?.reshape((1, ROWS, PACK.hidden))?;
    let mut rows = Vec::new();
    for format in [ExpertFormat::Q8_0, ExpertFormat::F16, ExpertFormat::Q4_0] {
        let module = pack(with_format(format), 2)?;
        let z = module.adapt_in(&h).context("adapt_in")?;
        let sparse = module.moe(&z).context("moe")?;
        let dense = module.moe_all_experts(&z).context("moe_all_experts")?;
        let diff: f32 = (&sparse - &dense)?.abs()?.max_all()?.to_scalar()?;
        let scale: f32 = dense.abs()?.max_all()?.to_scalar()?;
        ensure!(
            diff <= 1e-3 * scale.max(1e-6),
            "{format:?}: moe and moe_all_experts differ by {diff} (scale {scale})"
        );
        let (ours, base) = alternate(runs, |sparse| {
            let total = millis(|| {
                (0..REPS).try_for_each(|_| {
                    let out = if sparse {
                        module.moe(&z)
                    } else {
                        module.moe_all_experts(&z)
                    };
                    out.map(drop).context("MoE forward")
                })
            })?;
            Ok(total / REPS as f64)
        })?;
        rows.push(Row {
            metric: format!("MoE top-2/8 vs all 8, {format:?}, {ROWS} rows"),
            unit: "ms",
            ours,
            baseline: Some(base),
            target: Target::RatioAtMost(0.35),
        });
    }
    Ok(rows)
}

/// 3. `PackWeights::read` + `PackModule::new` against `fs::read` of the same file.
fn load_row(runs: usize, quick: bool) -> Result<Row> {
    let size = if quick { 512 } else { 1024 };
    let config = PackConfig {
        hidden: size,
        width: size,
        expert_ffn: 2 * size,
        ..PACK
    };
    let tmp = tempfile::tempdir().context("create a temporary directory")?;
    let path = tmp.path().join("weights.gguf");
    let weights = PackWeights::random(config, 3).context("random pack weights")?;
    let stored = weights.storage_bytes();
    weights
        .write(&path, "bench_pack")
        .with_context(|| format!("write {}", path.display()))?;
    let file = fs::metadata(&path).with_context(|| format!("stat {}", path.display()))?;
    let load = || -> Result<PackModule> {
        let weights = PackWeights::read(&path).context("PackWeights::read")?;
        PackModule::new(weights, &Device::Cpu).context("PackModule::new")
    };
    let module = load()?;
    let loaded = module.bytes();
    ensure!(loaded == stored, "loaded {loaded} bytes, wrote {stored}");
    let read = || fs::read(&path).with_context(|| format!("read {}", path.display()));
    let (ours, base) = alternate(runs, |pack| if pack { millis(load) } else { millis(read) })?;
    Ok(Row {
        metric: format!("pack load vs fs::read, {:.1} MiB", file.len() as f64 / MIB),
        unit: "ms",
        ours,
        baseline: Some(base),
        target: Target::RatioAtMost(1.5),
    })
}

/// 4. `PackCache::get` of a resident pack, alternating between two resident packs.
fn switch_row(iterations: usize) -> Result<Row> {
    let ids = [PackId::new("pack_a")?, PackId::new("pack_b")?];
    let mut cache: PackCache<PackModule> = PackCache::new(1 << 30, Vec::new())?;
    for (seed, id) in (4..).zip(&ids) {
        let module = pack(PACK, seed)?;
        cache.get(id, || Ok::<_, Infallible>(module))?;
    }
    let start = Instant::now();
    for i in 0..iterations {
        black_box(cache.get(&ids[i % 2], || Err("not resident"))?);
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    let stats = cache.stats();
    ensure!(
        stats.hits == iterations as u64 && stats.misses == 2,
        "expected {iterations} hits and 2 misses, got {stats:?}"
    );
    Ok(Row {
        metric: format!("cache hit switch, mean of {iterations}"),
        unit: "us",
        ours: micros,
        baseline: None,
        target: Target::AtMost(50.0),
    })
}

/// 5. Greedy decode tokens/s with the pack plugged in against the base alone.
fn decode_row(runs: usize) -> Result<Row> {
    const TOKENS: usize = 128;
    let mut base = BaseModel::random(&BENCH_BASE, 6, &Device::Cpu).context("random base")?;
    let module = pack(PACK, 7)?;
    let prompt = ByteTokenizer.encode("fn main() {\n    let total = ");
    let greedy = Sampling::greedy();
    let mut counts = [0usize; 2];
    let mut rate = |with_pack: bool| -> Result<f64> {
        let plug = with_pack.then_some(&module as &dyn HiddenPlug);
        let start = Instant::now();
        let out = generate(&mut base, plug, &prompt, TOKENS, &greedy).context("generate")?;
        let secs = start.elapsed().as_secs_f64();
        ensure!(!out.is_empty(), "generate stopped at once (EOS)");
        counts[usize::from(!with_pack)] = out.len();
        Ok(out.len() as f64 / secs)
    };
    // Warm-up, untimed.
    rate(true)?;
    rate(false)?;
    let (ours, alone) = alternate(runs, &mut rate)?;
    Ok(Row {
        metric: format!(
            "decode tok/s base+pack vs base ({}/{} tokens)",
            counts[0], counts[1]
        ),
        unit: "tok/s",
        ours,
        baseline: Some(alone),
        target: Target::RatioAtLeast(0.9),
    })
}

/// A stand-in cache item: every pack the same size.
struct Stub;

impl Sized64 for Stub {
    fn bytes(&self) -> u64 {
        1 << 20
    }
}

/// Zipf(`s`) over `n` ids: the cumulative distribution, sampled by binary search.
struct Zipf(Vec<f64>);

impl Zipf {
    /// The distribution over ids `0..n` with exponent `s` (id 0 the most frequent).
    fn new(n: usize, s: f64) -> Self {
        let total: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        let cdf = (1..=n).scan(0.0, |acc, k| {
            *acc += (k as f64).powf(-s) / total;
            Some(*acc)
        });
        Self(cdf.collect())
    }

    /// One id.
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.0.partition_point(|&c| c < u).min(self.0.len() - 1)
    }
}

/// Plain LRU with `slots` places: hits on `trace`.
fn lru_hits(trace: &[usize], slots: usize) -> u64 {
    let mut order: VecDeque<usize> = VecDeque::with_capacity(slots + 1);
    let mut hits = 0;
    for &id in trace {
        if let Some(pos) = order.iter().position(|&x| x == id) {
            hits += 1;
            order.remove(pos);
        } else if order.len() == slots {
            order.pop_back();
        }
        order.push_front(id);
    }
    hits
}

/// `PackCache` (LRU + predictor) with room for `slots` stubs: `get` then `preload` per request.
fn cache_stats(trace: &[usize], names: &[PackId], slots: usize) -> Result<CacheStats> {
    let mut cache: PackCache<Stub> = PackCache::new(slots as u64 * Stub.bytes(), Vec::new())?;
    for &id in trace {
        cache.get(&names[id], || Ok::<_, Infallible>(Stub))?;
        cache.preload(|_| Ok::<_, Infallible>(Stub));
        cache.take_events();
    }
    Ok(cache.stats().clone())
}

/// 6. Hit ratio of `PackCache` against the plain LRU, on a Zipf trace and a Markov trace.
fn hit_rows(requests: usize) -> Result<(Vec<Row>, Vec<serde_json::Value>)> {
    const PACKS: usize = 50;
    const SLOTS: usize = 8;
    const FOLLOW: f64 = 0.8;
    let names = (0..PACKS)
        .map(|i| PackId::new(&format!("pack_{i:02}")))
        .collect::<Result<Vec<_>, _>>()?;
    let zipf = Zipf::new(PACKS, 1.0);
    let mut rng = Rng(0x5EED_0006);
    let independent: Vec<usize> = (0..requests).map(|_| zipf.sample(&mut rng)).collect();
    // Each pack's fixed successor: a seeded random permutation (Fisher–Yates).
    let mut successor: Vec<usize> = (0..PACKS).collect();
    for i in (1..PACKS).rev() {
        successor.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let mut markov = vec![zipf.sample(&mut rng)];
    while markov.len() < requests {
        let last = markov[markov.len() - 1];
        let next = if rng.unit() < FOLLOW {
            successor[last]
        } else {
            zipf.sample(&mut rng)
        };
        markov.push(next);
    }
    let (mut rows, mut extra) = (Vec::new(), Vec::new());
    for (label, trace) in [
        ("Zipf s=1.0", &independent),
        ("Markov, 80% successor", &markov),
    ] {
        let plain = lru_hits(trace, SLOTS) as f64 / requests as f64;
        let stats = cache_stats(trace, &names, SLOTS)?;
        let ours = stats.hits as f64 / requests as f64;
        println!(
            "hit ratio, {label}: ours {ours:.4} (preloads {}, preload hits {}, evictions {}), plain LRU {plain:.4}",
            stats.preloads, stats.preload_hits, stats.evictions
        );
        extra.push(serde_json::json!({
            "trace": label, "requests": requests, "packs": PACKS, "slots": SLOTS,
            "ours_hits": stats.hits, "ours_misses": stats.misses, "preloads": stats.preloads,
            "preload_hits": stats.preload_hits, "evictions": stats.evictions,
            "plain_lru_hit_ratio": plain,
        }));
        rows.push(Row {
            metric: format!("hit ratio vs LRU, {label} ({PACKS} packs/{SLOTS} slots)"),
            unit: "",
            ours,
            baseline: Some(plain),
            target: Target::RatioAtLeast(1.0),
        });
    }
    Ok((rows, extra))
}

fn main() -> Result<()> {
    let options = <Options as clap::Parser>::parse();
    let (runs, iterations, requests) = if options.quick {
        (3, 20_000, 5_000)
    } else {
        (9, 100_000, 20_000)
    };
    let machine = machine();
    let threads = candle_core::utils::get_num_threads();
    let avx2 = candle_core::utils::with_avx();
    let device = format!(
        "candle {:?} (CPU), {threads} threads, AVX2 {avx2}",
        Device::Cpu
    );
    println!(
        "machine: {machine}\ndevice: {device}\nload average: {}",
        load_average()
    );
    if std::env::var_os("CANDLE_DEQUANTIZE_ALL").is_some() {
        eprintln!("warning: CANDLE_DEQUANTIZE_ALL is set: quantized experts are held as F32");
    }
    let started = Instant::now();
    let mut rows = memory_rows()?;
    rows.extend(moe_rows(2 * runs + 1)?);
    rows.push(load_row(runs, options.quick)?);
    rows.push(switch_row(iterations)?);
    rows.push(decode_row(runs)?);
    let (hit, traces) = hit_rows(requests)?;
    rows.extend(hit);
    let elapsed = started.elapsed();
    println!("load average after: {}", load_average());
    report(&options, &rows, &machine, &device, &traces, elapsed)
}

/// Prints the table and writes `--json`.
fn report(
    options: &Options,
    rows: &[Row],
    machine: &str,
    device: &str,
    traces: &[serde_json::Value],
    elapsed: Duration,
) -> Result<()> {
    println!(
        "\n{:<58} {:>12} {:>12} {:>7} {:>12} {:>5}",
        "metric", "ours", "baseline", "ratio", "target", "pass"
    );
    let cell = |v: f64, unit: &str| {
        if unit == "B" || v >= 1000.0 {
            format!("{v:.0} {unit}")
        } else {
            format!("{v:.4} {unit}")
        }
    };
    for r in rows {
        println!(
            "{:<58} {:>12} {:>12} {:>7} {:>12} {:>5}",
            r.metric,
            cell(r.ours, r.unit).trim(),
            r.baseline.map_or("-".into(), |b| cell(b, r.unit)).trim(),
            r.ratio().map_or("-".into(), |x| format!("{x:.3}")),
            r.target_text(),
            if r.pass() { "pass" } else { "FAIL" }
        );
    }
    let failed = rows.iter().filter(|r| !r.pass()).count();
    println!(
        "\n{} of {} targets met; {:.1} s in all{}",
        rows.len() - failed,
        rows.len(),
        elapsed.as_secs_f64(),
        if options.quick { " (--quick)" } else { "" }
    );
    let Some(path) = &options.json else {
        return Ok(());
    };
    let json_rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "metric": r.metric, "unit": r.unit, "ours": r.ours, "baseline": r.baseline,
                "ratio": r.ratio(), "target": r.target_text(), "pass": r.pass(),
            })
        })
        .collect();
    let json = serde_json::json!({
        "machine": machine,
        "device": device,
        "quick": options.quick,
        "seconds": elapsed.as_secs_f64(),
        "rows": json_rows,
        "traces": traces,
    });
    modularbase_bench::measure::write_json(path, &json)?;
    Ok(())
}
