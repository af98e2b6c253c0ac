//! `modularbase run "PROMPT"`: route the prompt, load the pack under the budget (with
//! fallback), generate, and report what happened.

use modularbase_runtime::{CacheEvent, Route, RunOptions, RunReport, Sampling};

use crate::cli::RunArgs;
use crate::printer::Printer;

/// Answers one prompt.
pub(crate) fn run(args: &RunArgs, printer: &Printer) -> anyhow::Result<()> {
    let (mut runtime, forced) = super::pack_set::open_runtime(&args.set, printer)?;
    let options = RunOptions {
        max_tokens: args.max_tokens,
        sampling: Sampling {
            temperature: args.temperature,
            top_p: args.top_p,
            seed: args.seed,
        },
        force_pack: forced,
        chat: args.chat,
        allow_fallback: args.allow_fallback,
    };
    let report = runtime.run(&args.prompt, &options).map_err(|e| match e {
        e @ modularbase_runtime::RuntimeError::ForcedPack { .. } => anyhow::anyhow!(
            "{e}\nhint: pass `--allow-fallback` to answer with its fallback chain instead, or run without `--pack` to route the prompt"
        ),
        other => other.into(),
    })?;
    for s in &report.substitutions {
        printer.warn(format!("pack `{}` was not used: {}", s.wanted, s.cause));
    }
    if args.debug {
        debug(&report, printer);
    }
    printer.output(&report.text);
    if args.monitor {
        printer.note(runtime.monitor().render());
    }
    Ok(())
}

fn debug(report: &RunReport, printer: &Printer) {
    match &report.route {
        Some(Route::Pack(best)) => {
            printer.note(format!("route: `{}` (cosine {:.3})", best.id, best.score))
        }
        Some(Route::LowConfidence(best)) => printer.note(format!(
            "route: no pack above the threshold (best {}); {}",
            best.as_ref().map_or_else(
                || "none".to_owned(),
                |b| format!("`{}` {:.3}", b.id, b.score)
            ),
            report.wanted.as_ref().map_or_else(
                || "the base alone answers".to_owned(),
                |w| format!("using the fallback pack `{w}`")
            )
        )),
        None => printer.note(format!(
            "route: {}",
            report
                .wanted
                .as_ref()
                .map_or("no packs installed".to_owned(), |w| format!("forced `{w}`"))
        )),
    }
    for score in &report.scores {
        printer.note(format!("  score {:>7.3}  {}", score.score, score.id));
    }
    printer.note(format!(
        "pack: {}",
        report
            .used
            .as_ref()
            .map_or("(base alone)", modularbase_pack::PackId::as_str)
    ));
    if let Some(layer) = report.insertion_layer {
        let usage: Vec<String> = report
            .expert_usage
            .iter()
            .enumerate()
            .map(|(e, n)| format!("e{e}:{n}"))
            .collect();
        printer.note(format!("experts after block {layer}: {}", usage.join(" ")));
    }
    for event in &report.events {
        let line = match event {
            CacheEvent::Hit(id) => format!("cache: hit `{id}`"),
            CacheEvent::Miss(id) => format!("cache: miss `{id}` (loaded)"),
            CacheEvent::Evicted(id) => format!("cache: evicted `{id}`"),
            CacheEvent::Preloaded(id) => format!("cache: preloaded `{id}`"),
        };
        printer.note(line);
    }
    printer.note(format!(
        "{} tokens at {:.1} tokens/s (prompt: {} tokens at {:.1} tokens/s; decode: {:.1} tokens/s)",
        report.tokens,
        report.tokens_per_second,
        report.stats.prompt_tokens,
        report.stats.prompt_per_second(),
        report.stats.decode_per_second()
    ));
}
