//! `modularbase eval`: bits per byte on held-out text for the base alone, for given packs,
//! and routed (with routing accuracy when the text's pack is named).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use modularbase_pack::WEIGHTS_FILE;
use modularbase_runtime::train::read_text;
use modularbase_runtime::{EvalTarget, PackModule, PackWeights, Runtime, pick_device, windows};
use serde::Serialize;

use crate::cli::EvalArgs;
use crate::home::Home;
use crate::ops::read_manifest;
use crate::printer::Printer;

/// One measured figure.
#[derive(Debug, Serialize)]
struct Row {
    data: String,
    model: String,
    bits_per_byte: f64,
    bytes: usize,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    routed_to: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routing_accuracy: Option<f64>,
}

/// The base directory and the other pack directories: given, or the installed set
/// (verified against the lock: a base that fails is refused, another pack left out).
fn pack_set(
    args: &EvalArgs,
    printer: &Printer,
) -> anyhow::Result<(PathBuf, Vec<PathBuf>, Option<Home>)> {
    if let Some(base) = &args.base {
        return Ok((base.clone(), args.route_over.clone(), Home::locate().ok()));
    }
    let home = Home::locate()?;
    let (base, installed) = crate::ops::runtime::installed_set(&home, printer)?;
    let others = if args.route_over.is_empty() {
        installed
    } else {
        args.route_over.clone()
    };
    Ok((base, others, Some(home)))
}

/// The directory a `--pack` value names: a path, or an installed id.
fn pack_dir(value: &str, home: Option<&Home>) -> anyhow::Result<PathBuf> {
    if value.contains('/') || value.contains(std::path::MAIN_SEPARATOR) {
        return Ok(PathBuf::from(value));
    }
    let home = home.context("no home to find installed packs in; give the pack as a directory")?;
    let lock = home.lock()?;
    let Some(locked) = lock.packs.iter().find(|p| p.id.as_str() == value) else {
        bail!("`--pack {value}`: no installed pack has that id (write a directory as `./{value}`)");
    };
    let check = home.verify_files(locked);
    // A pack installed before file digests were recorded is used, as `run` uses it.
    if let Some(problem) = check
        .problem()
        .filter(|_| check != crate::home::FilesCheck::Unverifiable)
    {
        bail!(
            "`--pack {value}`: the installed {} {} fails verification: {problem}\nhelp: {}",
            locked.id,
            locked.version,
            home.repair_hint()?
        );
    }
    Ok(home.pack_dir(&locked.id, &locked.version))
}

/// Runs the evaluation and prints a table (or JSON).
pub(crate) fn run(args: &EvalArgs, printer: &Printer) -> anyhow::Result<()> {
    let device = pick_device("auto")?.device;
    let mut texts = Vec::with_capacity(args.data.len());
    for (_, path) in &args.data {
        let text = read_text(std::slice::from_ref(path))?;
        if windows(&text, args.window).next().is_none() {
            bail!("`{}` has no text to score", path.display());
        }
        texts.push(text);
    }
    // Read from the installed set, the home stays as it is until the figures are out.
    let _guard = match &args.base {
        None => Some(Home::locate()?.shared(printer)?),
        Some(_) => None,
    };
    let (base_dir, others, home) = pack_set(args, printer)?;
    let mut runtime = Runtime::open(&base_dir, &others, u64::MAX / 2, &device)
        .with_context(|| format!("cannot open the base in `{}`", base_dir.display()))?;
    runtime.keep_base_dense()?;
    let base_version = runtime.base_info().version.clone();
    let mut packs = Vec::new();
    for value in &args.packs {
        let dir = pack_dir(value, home.as_ref())?;
        let manifest = read_manifest(&dir)?;
        if !manifest.supports_base(&base_version) {
            printer.note(format!(
                "note: {} {} does not list base {base_version} in its compatibility; evaluating it anyway",
                manifest.id, manifest.version
            ));
        }
        let module = PackModule::new(PackWeights::read(&dir.join(WEIGHTS_FILE))?, &device)?;
        let info = runtime.base_info();
        module.check_fits(info.hidden, info.layers)?;
        packs.push((format!("{} {}", manifest.id, manifest.version), module));
    }
    let passes = 1 + packs.len() + usize::from(args.route);
    let total: usize = texts
        .iter()
        .map(|t| windows(t, args.window).count() * passes)
        .sum();
    let bar = printer.progress_bar(
        total as u64,
        "  evaluating [{bar:30}] {pos}/{len} windows (eta {eta})",
    );
    let mut tick = || bar.inc(1);
    let mut rows = Vec::new();
    for ((label, path), text) in args.data.iter().zip(&texts) {
        let data = path.display().to_string();
        let mut add = |model: String, report: modularbase_runtime::EvalReport| {
            let routing_accuracy =
                label
                    .as_ref()
                    .filter(|_| !report.routed_to.is_empty())
                    .map(|l| {
                        let windows: usize = report.routed_to.values().sum();
                        report.routed_to.get(l).copied().unwrap_or(0) as f64 / windows.max(1) as f64
                    });
            rows.push(Row {
                data: data.clone(),
                model,
                bits_per_byte: report.score.value(),
                bytes: report.score.bytes,
                routed_to: report.routed_to,
                routing_accuracy,
            });
        };
        add(
            "base alone".into(),
            runtime.evaluate(text, EvalTarget::Base, args.window, &mut tick)?,
        );
        for (name, module) in &packs {
            add(
                format!("+ {name}"),
                runtime.evaluate(text, EvalTarget::Pack(module), args.window, &mut tick)?,
            );
        }
        if args.route {
            add(
                "routed".into(),
                runtime.evaluate(text, EvalTarget::Routed, args.window, &mut tick)?,
            );
        }
    }
    bar.finish_and_clear();
    if args.json {
        printer.output(serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    printer.output(format!(
        "{:<36} {:<28} {:>9} {:>9}  routing",
        "data", "model", "bits/byte", "bytes"
    ));
    for row in &rows {
        let routing = if row.routed_to.is_empty() {
            String::new()
        } else {
            let spread: Vec<String> = row
                .routed_to
                .iter()
                .map(|(id, n)| format!("{}:{n}", if id.is_empty() { "base" } else { id }))
                .collect();
            match row.routing_accuracy {
                Some(acc) => format!("{:.1}% right ({})", acc * 100.0, spread.join(" ")),
                None => spread.join(" "),
            }
        };
        printer.output(format!(
            "{:<36} {:<28} {:>9.3} {:>9}  {routing}",
            row.data, row.model, row.bits_per_byte, row.bytes
        ));
    }
    Ok(())
}
