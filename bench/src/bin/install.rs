//! Cold-install benchmark: `modularbase pack install` of a graph of 20 packs into an empty
//! home (resolve over the sparse index, download in parallel, check every checksum and
//! signature, unpack durably, write the lock) against the floor of the same bytes' work
//! with standard tools: `curl --parallel` of the same 20 archives from the same server,
//! `sha256sum --check` and `tar --zstd -xf` of each; and that floor again followed by
//! `sync FILE…` (an fsync of every file written), since our install is durable. The three
//! take turns (the order rotates every run); the medians and ratios are reported.
//!
//! Run with:
//! `cargo build --release -p modularbase -p modularbase-bench --bin modularbase --bin install
//! && target/release/install [--packs 20] [--weights-mib 4] [--runs 5] [--json PATH]`
//!
//! Needs `curl`, GNU tar, `zstd`, `sha256sum` and `sync` on the `PATH`.

// A benchmark's output is its product: printing is what this program is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};
use modularbase_bench::local_registry::LocalRegistry;
use modularbase_bench::measure::{millis, rotate};
use modularbase_bench::publisher::Publisher;
use modularbase_bench::tools::{self, run, settle};
use modularbase_bench::weights::f16_like;
use modularbase_bench::{load_average, machine};
use modularbase_pack::{Sha256Digest, WEIGHTS_FILE};
use modularbase_tests::Pack;
use modularbase_tests::synthetic_weights;

/// The pack `install` names; the rest of the graph comes in as its dependencies.
const ROOT: &str = "pack_00";

/// Command-line options.
#[derive(clap::Parser)]
#[command(
    about = "Cold `modularbase pack install` against curl + sha256sum + tar on the same archives"
)]
struct Options {
    /// Packs in the graph (`tiny_base` and `pack_00`… in a binary tree), at least 2.
    #[arg(long, default_value_t = 20)]
    packs: usize,
    /// MiB of F16-like weights in every pack.
    #[arg(long, default_value_t = 4)]
    weights_mib: u64,
    /// Timed runs per side (the median is kept).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The `modularbase` binary (default: the one beside this benchmark).
    #[arg(long)]
    modularbase: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What the sides compared are.
const SIDES: [&str; 3] = [
    "ours: modularbase pack install",
    "floor: curl + sha256sum + tar",
    "floor + sync FILE... (fsync)",
];

/// One published pack, as the floor fetches it.
struct Archive {
    /// Its id, also the name of the file and directory the floor writes.
    id: String,
    /// Its download URL.
    url: String,
    /// Its size in bytes.
    size: usize,
}

/// The name of the `i`-th domain pack.
fn domain_id(i: usize) -> String {
    format!("pack_{i:02}")
}

/// Valid `kind` weights around `mib` MiB of F16-like data, different for every `seed`.
fn weights(kind: &str, mib: u64, seed: u64) -> Result<Vec<u8>> {
    Ok(synthetic_weights(
        kind,
        &f16_like(mib, 0x9E37_79B9_7F4A_7C15 ^ seed),
    ))
}

/// `tiny_base` and `packs - 1` domain packs in a binary tree: `pack_i` needs `pack_{2i+1}`
/// and `pack_{2i+2}` where they exist, so installing `pack_00` pulls in every one. Listed
/// in publishing order, every pack after what it needs.
fn graph(packs: usize, mib: u64) -> Result<Vec<Pack>> {
    let mut list = vec![Pack::base("tiny_base", "1.0.0").weights(weights("base", mib, 0)?)];
    let domains = packs - 1;
    for i in (0..domains).rev() {
        let mut pack =
            Pack::domain(&domain_id(i), "1.0.0").weights(weights("domain", mib, i as u64 + 1)?);
        for child in [2 * i + 1, 2 * i + 2].into_iter().filter(|c| *c < domains) {
            pack = pack.dep(&domain_id(child), "^1");
        }
        list.push(pack);
    }
    Ok(list)
}

/// Publishes the graph; writes the floor's `sha256sum --check` list to `sums`.
fn publish(publisher: &Publisher, packs: &[Pack], sums: &Path) -> Result<Vec<Archive>> {
    let mut archives = Vec::new();
    let mut list = String::new();
    for pack in packs {
        let archive = publisher.publish(pack)?;
        list.push_str(&format!(
            "{}  {}.mbpack\n",
            Sha256Digest::of(&archive).to_hex(),
            pack.id
        ));
        archives.push(Archive {
            id: pack.id.clone(),
            url: format!(
                "{}/api/v1/packs/{}/{}/download",
                publisher.url, pack.id, pack.version
            ),
            size: archive.len(),
        });
    }
    fs::write(sums, list).with_context(|| format!("write {}", sums.display()))?;
    Ok(archives)
}

/// Ours, cold: `modularbase -q pack install pack_00` with `home` as an empty home.
fn ours(binary: &Path, url: &str, home: &Path) -> Result<()> {
    run(Command::new(binary)
        .args(["-q", "pack", "install", ROOT, "--registry", url])
        .env("MODULARBASE_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("MODULARBASE_REGISTRY")
        .env_remove("MODULARBASE_TOKEN")
        .stdin(Stdio::null()))
    .map(drop)
}

/// The floor in `dir`: every archive fetched at once, checked against `sums`, unpacked
/// into a directory of its own; with `durable`, every file written is then fsynced.
fn floor(archives: &[Archive], sums: &Path, dir: &Path, durable: bool) -> Result<()> {
    let mut curl = Command::new("curl");
    curl.args([
        "--silent",
        "--no-progress-meter",
        "--show-error",
        "--fail",
        "--parallel",
    ])
    .arg("--parallel-max")
    .arg(archives.len().to_string())
    .current_dir(dir);
    for archive in archives {
        curl.arg(&archive.url)
            .arg("--output")
            .arg(format!("{}.mbpack", archive.id));
    }
    run(&mut curl)?;
    run(Command::new("sha256sum")
        .args(["--check", "--quiet"])
        .arg(sums)
        .current_dir(dir))?;
    for archive in archives {
        fs::create_dir(dir.join(&archive.id)).with_context(|| format!("create {}", archive.id))?;
        run(Command::new("tar")
            .args(["--zstd", "-xf"])
            .arg(format!("{}.mbpack", archive.id))
            .arg("-C")
            .arg(&archive.id)
            .current_dir(dir))?;
    }
    if durable {
        let mut sync = Command::new("sync");
        sync.current_dir(dir);
        for archive in archives {
            sync.arg(format!("{}.mbpack", archive.id)).arg(&archive.id);
            for entry in fs::read_dir(dir.join(&archive.id)).context("list an unpacked pack")? {
                sync.arg(entry.context("list an unpacked pack")?.path());
            }
        }
        run(&mut sync)?;
    }
    Ok(())
}

/// Checks, untimed, that ours and the floor unpack the very same weights for every pack.
fn check(archives: &[Archive], home: &Path, floor_dir: &Path) -> Result<()> {
    let lock = fs::read_to_string(home.join("modularbase.lock")).context("read the lock")?;
    let locked = lock.matches("[[pack]]").count();
    ensure!(
        locked == archives.len(),
        "the lock holds {locked} packs, not {}",
        archives.len()
    );
    for archive in archives {
        let ours = home
            .join("packs")
            .join(&archive.id)
            .join("1.0.0")
            .join(WEIGHTS_FILE);
        let theirs = floor_dir.join(&archive.id).join(WEIGHTS_FILE);
        let same = fs::read(&ours).context("read our weights")?
            == fs::read(&theirs).context("read the floor's weights")?;
        ensure!(
            same,
            "{}: ours and tar unpacked different weights",
            archive.id
        );
    }
    Ok(())
}

/// Everything between a started registry and its shutdown: publish, check, then time the
/// three sides in turn. Returns the archives and each side's median ms.
fn bench(
    options: &Options,
    binary: &Path,
    url: &str,
    token: String,
    tmp: &Path,
) -> Result<(Vec<Archive>, Vec<f64>)> {
    let publisher = Publisher::new(url, token)?;
    let sums = tmp.join("SUMS");
    let archives = publish(
        &publisher,
        &graph(options.packs, options.weights_mib)?,
        &sums,
    )?;
    let fresh = |name: &str| -> Result<PathBuf> {
        let dir = tmp.join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
        }
        fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(dir)
    };
    let (home, floor_dir) = (fresh("check-home")?, fresh("check-floor")?);
    ours(binary, url, &home)?;
    floor(&archives, &sums, &floor_dir, false)?;
    check(&archives, &home, &floor_dir)?;
    println!(
        "ours and the floor unpack the same {} packs",
        archives.len()
    );

    let medians = rotate(options.runs, SIDES.len(), |side| {
        let dir = fresh("run")?;
        settle()?;
        let ms = millis(|| match side {
            0 => ours(binary, url, &dir),
            _ => floor(&archives, &sums, &dir, side == 2),
        })?;
        println!("{}: {ms:.0} ms", SIDES[side]);
        Ok(ms)
    })?;
    Ok((archives, medians))
}

/// The first line `tool --version` prints.
fn version(tool: &str) -> Result<String> {
    let out = run(Command::new(tool).arg("--version"))?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or(tool)
        .to_owned())
}

fn main() -> Result<()> {
    let options = <Options as clap::Parser>::parse();
    ensure!(
        options.packs >= 2 && options.weights_mib > 0 && options.runs > 0,
        "--packs must be at least 2, --weights-mib and --runs positive"
    );
    tools::require(&[
        ("curl", "install the Debian package `curl`"),
        ("tar", "install GNU tar (Debian package `tar`)"),
        ("zstd", "install the Debian package `zstd`"),
        ("sha256sum", "install GNU coreutils"),
        ("sync", "install GNU coreutils"),
    ])?;
    let binary = tools::modularbase_binary(options.modularbase.as_deref())?;
    let versions = [version("curl")?, version("tar")?, version("sha256sum")?].join("; ");
    let load_before = load_average();
    let tmp = tempfile::tempdir().context("create a temporary directory")?;
    let registry = LocalRegistry::start(tmp.path().join("data"))?;
    let outcome = registry
        .user("bench")
        .and_then(|token| bench(&options, &binary, &registry.url, token, tmp.path()));
    let stopped = registry.shutdown();
    let (archives, medians) = outcome?;
    stopped?;
    report(&options, &archives, &medians, &versions, &load_before)
}

fn report(
    options: &Options,
    archives: &[Archive],
    medians: &[f64],
    versions: &str,
    load_before: &str,
) -> Result<()> {
    let machine = machine();
    let load_after = load_average();
    let bytes: usize = archives.iter().map(|a| a.size).sum();
    let mib = bytes as f64 / f64::from(1 << 20);
    println!("\nmachine: {machine}; load average before {load_before}, after {load_after}");
    println!("{versions}");
    println!(
        "{} packs of {} MiB weights, {bytes} archive bytes ({mib:.1} MiB); median of {} runs, order rotating\n",
        archives.len(),
        options.weights_mib,
        options.runs
    );
    println!(
        "{:<34} {:>10} {:>15} {:>10}",
        "side", "median ms", "ours/this side", "MiB/s"
    );
    let mut rows = Vec::new();
    for (side, ms) in SIDES.iter().zip(medians) {
        let ratio = medians[0] / ms;
        let rate = mib * 1000.0 / ms;
        println!("{side:<34} {ms:>10.1} {ratio:>15.2} {rate:>10.1}");
        rows.push(serde_json::json!({
            "side": side, "median_ms": ms, "ours_over_side": ratio, "archive_mib_per_s": rate,
        }));
    }
    let Some(path) = &options.json else {
        return Ok(());
    };
    let json = serde_json::json!({
        "machine": machine,
        "tools": versions,
        "load_average": {"before": load_before, "after": load_after},
        "packs": archives.len(),
        "weights_mib": options.weights_mib,
        "archive_bytes": bytes,
        "runs": options.runs,
        "rows": rows,
    });
    modularbase_bench::measure::write_json(path, &json)?;
    Ok(())
}
