//! Pack archive benchmark: `build_archive`, `unpack_archive`, `inspect_archive` and
//! `sha256_file` against `tar --zstd -cf`, `tar --zstd -xf`, `tar --zstd -tf` and
//! `sha256sum` on the same bytes, in the same run. The result is the ratio ours/tool
//! (median of the runs, taken alternately), not the absolute seconds.
//!
//! Run with:
//! `cargo run --release -p modularbase-bench --bin archive -- [--size-mib 256] [--runs 5] [--json PATH]`
//!
//! Needs GNU tar, `zstd` (Debian package `zstd`) and `sha256sum` on the `PATH`.

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use modularbase_bench::machine;
use modularbase_bench::tools::{self, run, settle};
use modularbase_bench::weights::write_f16_like;
use modularbase_pack::{
    ArchiveLimits, MANIFEST_FILE, PackRef, WEIGHTS_FILE, build_archive, inspect_archive,
    sha256_file, unpack_archive,
};

const README: &str = "README.md";
const MANIFEST: &str = r#"[pack]
id = "bench_pack"
version = "1.0.0"
name = "Benchmark Pack"
kind = "domain"
domain = "bench"
description = "Synthetic weights for the archive benchmark"
license = "MIT"
base = "tiny_base"
base_compatibility = ["1.0"]
readme = "README.md"
"#;

/// Command-line options.
#[derive(clap::Parser)]
#[command(about = "Pack archive build, unpack and SHA-256 against tar --zstd and sha256sum")]
struct Options {
    /// Size of the synthetic weights in MiB.
    #[arg(long, default_value_t = 256)]
    size_mib: u64,
    /// Alternating runs per operation; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One compared operation: medians in milliseconds and the bytes it processed.
struct Row {
    operation: &'static str,
    tool: &'static str,
    bytes: u64,
    ours_ms: f64,
    tool_ms: f64,
}

impl Row {
    /// `[ratio ours/tool, ours MiB/s, tool MiB/s]`.
    fn derived(&self) -> [f64; 3] {
        let mib = self.bytes as f64 / f64::from(1 << 20);
        [
            self.ours_ms / self.tool_ms,
            mib * 1000.0 / self.ours_ms,
            mib * 1000.0 / self.tool_ms,
        ]
    }
}

/// Writes `pack.toml`, `README.md` and `size_mib` MiB of F16-like `weights.gguf`.
fn write_pack(dir: &Path, size_mib: u64) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    fs::write(dir.join(MANIFEST_FILE), MANIFEST).context("write pack.toml")?;
    fs::write(dir.join(README), "# Benchmark Pack\n\nSynthetic weights.\n")
        .context("write README")?;
    let path = dir.join(WEIGHTS_FILE);
    let mut out = File::create(&path).with_context(|| format!("create {}", path.display()))?;
    write_f16_like(&mut out, size_mib, 0x9E37_79B9_7F4A_7C15).context("write weights.gguf")
}

/// Times `runs` alternating pairs (order swapped every run) and keeps the medians.
/// Each closure does its own untimed set-up and clean-up and returns the timed duration.
fn compare(
    (operation, tool, bytes): (&'static str, &'static str, u64),
    runs: usize,
    mut ours: impl FnMut(usize) -> Result<Duration>,
    mut theirs: impl FnMut(usize) -> Result<Duration>,
) -> Result<Row> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..runs {
        settle()?;
        if i % 2 == 0 {
            a.push(ours(i)?);
            settle()?;
            b.push(theirs(i)?);
        } else {
            b.push(theirs(i)?);
            settle()?;
            a.push(ours(i)?);
        }
    }
    let (ours_ms, tool_ms) = (median_ms(a), median_ms(b));
    println!("{operation}: ours {ours_ms:.1} ms, {tool} {tool_ms:.1} ms");
    Ok(Row {
        operation,
        tool,
        bytes,
        ours_ms,
        tool_ms,
    })
}

/// `tar --zstd MODE ARCHIVE -C DIR`.
fn tar(mode: &str, archive: &Path, dir: &Path) -> Command {
    let mut command = Command::new("tar");
    command
        .args(["--zstd", mode])
        .arg(archive)
        .arg("-C")
        .arg(dir);
    command
}

fn median_ms(mut times: Vec<Duration>) -> f64 {
    times.sort();
    let n = times.len();
    let mid = if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2
    };
    mid.as_secs_f64() * 1000.0
}

fn timed(f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

fn main() -> Result<()> {
    let options = <Options as clap::Parser>::parse();
    ensure!(
        options.size_mib > 0 && options.runs > 0,
        "--size-mib and --runs must be positive"
    );
    tools::require(&[
        ("tar", "install GNU tar (Debian package `tar`)"),
        ("zstd", "install the Debian package `zstd`"),
        ("sha256sum", "install GNU coreutils"),
    ])?;
    let tmp = tempfile::tempdir().context("create a temporary directory")?;
    let pack_dir = tmp.path().join("pack");
    let started = Instant::now();
    write_pack(&pack_dir, options.size_mib)?;
    println!(
        "wrote {} MiB of weights in {:.0} ms",
        options.size_mib,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let weights = pack_dir.join(WEIGHTS_FILE);
    let payload: u64 = [MANIFEST_FILE, README, WEIGHTS_FILE]
        .iter()
        .map(|f| fs::metadata(pack_dir.join(f)).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()
        .context("stat the pack files")?;
    let ours_archive = tmp.path().join("bench_pack-1.0.0.mbpack");
    let tool_archive = tmp.path().join("bench_pack-1.0.0.tar.zst");
    let limits = ArchiveLimits::default();

    let mut pack_ref = None;
    let build = compare(
        ("build", "tar --zstd -cf", payload),
        options.runs,
        |_| {
            let _ = fs::remove_file(&ours_archive);
            timed(|| {
                let file = File::create(&ours_archive).context("create our archive")?;
                let m = build_archive(&pack_dir, file)
                    .context("build_archive")?
                    .manifest;
                pack_ref = Some(PackRef {
                    id: m.id,
                    version: m.version,
                });
                Ok(())
            })
        },
        |_| {
            let _ = fs::remove_file(&tool_archive);
            let mut command = tar("-cf", &tool_archive, &pack_dir);
            command.args([MANIFEST_FILE, README, WEIGHTS_FILE]);
            timed(|| run(&mut command).map(drop))
        },
    )?;
    let pack_ref = pack_ref.context("build_archive never ran")?;

    let unpack = compare(
        ("unpack (ours fsyncs)", "tar --zstd -xf", payload),
        options.runs,
        |i| {
            let target = tmp.path().join(format!("unpack-ours-{i}"));
            let time = timed(|| {
                let file = File::open(&ours_archive).context("open our archive")?;
                unpack_archive(file, &target, &limits, &pack_ref).context("unpack_archive")?;
                Ok(())
            })?;
            fs::remove_dir_all(&target).context("remove the unpacked pack")?;
            Ok(time)
        },
        |i| {
            let target = tmp.path().join(format!("unpack-tool-{i}"));
            fs::create_dir(&target).context("create the tar target")?;
            let time = timed(|| run(&mut tar("-xf", &tool_archive, &target)).map(drop))?;
            fs::remove_dir_all(&target).context("remove the tar output")?;
            Ok(time)
        },
    )?;

    let verify = compare(
        ("verify (no writes)", "tar --zstd -tf", payload),
        options.runs,
        |_| {
            timed(|| {
                let file = File::open(&ours_archive).context("open our archive")?;
                inspect_archive(file, &limits, Some(&pack_ref)).context("inspect_archive")?;
                Ok(())
            })
        },
        |_| timed(|| run(&mut tar("-tf", &tool_archive, tmp.path())).map(drop)),
    )?;

    let (digest, _) = sha256_file(&weights).context("sha256_file")?;
    let out = run(Command::new("sha256sum").arg(&weights))?;
    let theirs = String::from_utf8_lossy(&out);
    ensure!(
        theirs.split_whitespace().next() == Some(digest.to_hex().as_str()),
        "digests differ: sha256_file says {digest}, sha256sum says {theirs}"
    );
    let sha = compare(
        ("sha256", "sha256sum", options.size_mib << 20),
        options.runs,
        |_| timed(|| sha256_file(&weights).map(drop).context("sha256_file")),
        |_| timed(|| run(Command::new("sha256sum").arg(&weights)).map(drop)),
    )?;

    let rows = [build, unpack, verify, sha];
    report(&options, &rows, &ours_archive, &tool_archive)
}

fn report(options: &Options, rows: &[Row], ours_archive: &Path, tool_archive: &Path) -> Result<()> {
    let ours_size = fs::metadata(ours_archive)
        .context("stat our archive")?
        .len();
    let tool_size = fs::metadata(tool_archive)
        .context("stat the tar archive")?
        .len();
    let machine = machine();
    println!("\nmachine: {machine}");
    println!(
        "weights: {} MiB, runs: {} (median, alternating)",
        options.size_mib, options.runs
    );
    println!("archive: ours {ours_size} bytes, tar --zstd {tool_size} bytes");
    println!("note: unpack_archive fsyncs every file, tar -xf does not; caches are not dropped\n");
    println!(
        "{:<22} {:<16} {:>10} {:>10} {:>7} {:>11} {:>11}",
        "operation", "tool", "ours ms", "tool ms", "ratio", "ours MiB/s", "tool MiB/s"
    );
    for r in rows {
        let [ratio, ours_rate, tool_rate] = r.derived();
        println!(
            "{:<22} {:<16} {:>10.1} {:>10.1} {ratio:>7.2} {ours_rate:>11.1} {tool_rate:>11.1}",
            r.operation, r.tool, r.ours_ms, r.tool_ms
        );
    }
    let Some(path) = &options.json else {
        return Ok(());
    };
    let rows_json: Vec<String> = rows
        .iter()
        .map(|r| {
            let [ratio, ours_rate, tool_rate] = r.derived();
            format!(
                "    {{\"operation\": \"{}\", \"tool\": \"{}\", \"bytes\": {}, \"ours_ms\": {:.3}, \"tool_ms\": {:.3}, \"ratio\": {ratio:.4}, \"ours_mib_s\": {ours_rate:.2}, \"tool_mib_s\": {tool_rate:.2}}}",
                r.operation, r.tool, r.bytes, r.ours_ms, r.tool_ms
            )
        })
        .collect();
    let json = format!(
        "{{\n  \"machine\": \"{}\",\n  \"size_mib\": {},\n  \"runs\": {},\n  \"archive_bytes\": {{\"ours\": {ours_size}, \"tool\": {tool_size}}},\n  \"rows\": [\n{}\n  ]\n}}\n",
        machine.replace(['"', '\\'], ""),
        options.size_mib,
        options.runs,
        rows_json.join(",\n")
    );
    fs::write(path, json).with_context(|| format!("write {}", path.display()))?;
    println!("\nwrote {}", path.display());
    Ok(())
}
