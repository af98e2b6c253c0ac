//! How the demo shows what it does: section headings, and for each prompt the routing
//! scores, fallbacks, cache events, the pack that answered, the continuation and its speed,
//! each in words a newcomer can follow.

use modularbase_runtime::{CacheEvent, GENERAL_CHAT, Route, RunReport};

use crate::printer::Printer;

/// Routing scores shown per prompt.
const TOP_SCORES: usize = 3;

/// A section: its title and what it shows.
pub(crate) fn heading(printer: &Printer, title: &str, about: &str) {
    printer.line("");
    printer.line(format!("━━ {title}"));
    printer.line(about);
}

/// Prints what happened answering `prompt`.
pub(crate) fn show(printer: &Printer, prompt: &str, report: &RunReport) {
    printer.line(format!("  prompt    {prompt:?}"));
    let scores: Vec<String> = report
        .scores
        .iter()
        .take(TOP_SCORES)
        .map(|s| format!("{} {:.3}", s.id, s.score))
        .collect();
    let scores = scores.join(", ");
    let routing = match &report.route {
        Some(Route::Pack(best)) => format!("{scores} → `{}`", best.id),
        Some(Route::LowConfidence(_)) => match &report.wanted {
            Some(wanted) => format!(
                "{scores} → no score clears the router's threshold, so the catch-all `{wanted}`"
            ),
            None => format!(
                "{scores} → no score clears the router's threshold and no `{GENERAL_CHAT}` is installed, so the base alone"
            ),
        },
        None => match &report.wanted {
            Some(wanted) => format!("skipped: `{wanted}` was asked for by name"),
            None => "skipped: no packs installed".to_owned(),
        },
    };
    printer.line(format!("  routing   {routing}"));
    for event in &report.events {
        printer.line(format!("  cache     {}", describe(event)));
    }
    for s in &report.substitutions {
        // The cause's first line: a backtrace may follow (RUST_BACKTRACE).
        let cause = s.cause.to_string();
        printer.line(format!(
            "  fallback  `{}` could not be used: {}",
            s.wanted,
            cause.lines().next().unwrap_or_default()
        ));
    }
    let instead = match (&report.used, &report.wanted) {
        (Some(used), Some(wanted)) if used != wanted => format!(", instead of `{wanted}`"),
        _ => String::new(),
    };
    printer.line(format!(
        "  answered  by {}{instead}",
        report
            .used
            .as_ref()
            .map_or("the base alone".to_owned(), |id| format!("`{id}`"))
    ));
    printer.line(format!(
        "  output    {:?}  ({} tokens, {:.0} tokens/s)",
        report.text, report.tokens, report.tokens_per_second
    ));
}

/// One cache event, with what it means.
fn describe(event: &CacheEvent) -> String {
    match event {
        CacheEvent::Hit(id) => format!("hit `{id}`: already in memory, nothing loaded"),
        CacheEvent::Miss(id) => format!("miss `{id}`: not in memory, loaded from disk"),
        CacheEvent::Evicted(id) => {
            format!("evicted `{id}`: least recently used, dropped to stay within the budget")
        }
        CacheEvent::Preloaded(id) => {
            format!("preloaded `{id}`: the likely next pack, loaded while there was room")
        }
        CacheEvent::Expired(id) => format!("unloaded `{id}`: its keep-alive ran out"),
    }
}
