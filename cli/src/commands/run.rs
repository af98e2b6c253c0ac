//! `modularbase run "PROMPT"`: route the prompt, load the pack under the budget (with
//! fallback), generate, and report what happened.

use modularbase_pack::PackId;
use modularbase_runtime::{
    CacheEvent, ChatMessage, Prompt, Route, RunOptions, RunReport, Sampling,
};

use super::chat::{Backend, TurnError, repl};
use crate::cli::RunArgs;
use crate::printer::Printer;
use crate::serve_client::ServeClient;

/// Answers one prompt, streaming it to the terminal, or chats interactively; through a
/// running `modularbase serve` when one listens and the installed set is asked for.
pub(crate) fn run(args: &RunArgs, printer: &Printer) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let interactive = args.interactive || (args.prompt.is_none() && std::io::stdin().is_terminal());
    if !interactive && args.prompt.is_none() {
        anyhow::bail!(
            "give a prompt (`modularbase run \"PROMPT\"`), or `--interactive` to chat with lines from stdin"
        );
    }
    let installed_set = args.set.base.is_none() && !args.set.packs.iter().any(|p| p.contains('/'));
    if let Some(client) = (installed_set && !args.local)
        .then(|| ServeClient::probe(&args.server))
        .flatten()
    {
        let forced = match args.set.packs.first() {
            Some(id) => Some(
                id.parse::<PackId>()
                    .map_err(|e| anyhow::anyhow!("`--pack {id}`: {e}"))?,
            ),
            None => None,
        };
        printer.step(format!("answering through the server at {}", client.url()));
        let base = client.base_model()?;
        let mut backend = Backend::Server(client, base);
        return answer(&mut backend, args, forced, interactive, printer);
    }
    let (runtime, forced) = super::pack_set::open_runtime(&args.set, printer)?;
    if interactive {
        let mut backend = Backend::Local(Box::new(runtime));
        return answer(&mut backend, args, forced, true, printer);
    }
    let mut runtime = runtime;
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
    let prompt = args.prompt.as_deref().unwrap_or_default();
    let report = runtime
        .run_streaming(prompt, &options, &mut |piece| printer.output_piece(piece))
        .map_err(|e| match e {
            e @ modularbase_runtime::RuntimeError::ForcedPack { .. } => anyhow::anyhow!(
                "{e}\nhint: pass `--allow-fallback` to answer with its fallback chain instead, or run without `--pack` to route the prompt"
            ),
            other => other.into(),
        })?;
    printer.output_piece("\n");
    for s in &report.substitutions {
        printer.warn(format!("pack `{}` was not used: {}", s.wanted, s.cause));
    }
    if args.debug {
        debug(&report, printer);
    }
    if args.monitor {
        printer.note(runtime.monitor().render());
    }
    Ok(())
}

/// One prompt or the interactive chat, through `backend`.
fn answer(
    backend: &mut Backend,
    args: &RunArgs,
    forced: Option<PackId>,
    interactive: bool,
    printer: &Printer,
) -> anyhow::Result<()> {
    if interactive {
        return repl(backend, args, forced, printer);
    }
    let prompt = args.prompt.clone().unwrap_or_default();
    let prompt = if args.chat {
        Prompt::Chat(vec![ChatMessage::user(prompt)])
    } else {
        Prompt::Text(prompt)
    };
    let turn = backend
        .answer(prompt, forced.as_ref(), args, &mut |piece| {
            printer.output_piece(piece)
        })
        .map_err(|e| match e {
            TurnError::ContextFull(message) => anyhow::anyhow!(message),
            TurnError::Other(e) => e,
        })?;
    printer.output_piece("\n");
    for (wanted, cause) in &turn.substitutions {
        printer.warn(format!("pack `{wanted}` was not used: {cause}"));
    }
    if args.debug {
        printer.note(format!(
            "pack: {}",
            turn.pack.as_deref().unwrap_or("(base alone)")
        ));
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
            CacheEvent::Expired(id) => format!("cache: unloaded `{id}` (keep-alive)"),
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
