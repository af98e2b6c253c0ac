//! `modularbase serve`, `ps` and `stop`.

use std::time::{Duration, SystemTime};

use modularbase_serve::{Limits, ServeOptions};

use crate::cli::{PsArgs, ServeArgs, StopArgs};
use crate::printer::{Printer, human_bytes};
use crate::serve_client::ServeClient;

/// Serves the pack set until Ctrl-C or SIGTERM.
pub(crate) fn serve(args: &ServeArgs, printer: &Printer) -> anyhow::Result<()> {
    let (runtime, forced) = super::pack_set::open_runtime(&args.set, printer)?;
    if let Some(id) = forced {
        anyhow::bail!(
            "`serve --pack {id}`: the server answers for every pack; ask for `{id}` with `\"model\": \"{id}\"` in a request"
        );
    }
    let options = ServeOptions {
        addr: args.addr,
        limits: Limits {
            parallel: usize::from(args.parallel),
            max_queue: args.max_queue,
        },
        keep_alive: args.keep_alive,
    };
    modularbase_serve::serve(&options, runtime, |addr, models| {
        printer.note(format!(
            "listening on http://{addr} (models: {}; monitor: http://{addr}/)",
            models.names().join(", ")
        ));
    })
}

/// Prints what a running server holds.
pub(crate) fn ps(args: &PsArgs, printer: &Printer) -> anyhow::Result<()> {
    let ps = ServeClient::new(&args.server)?.ps()?;
    if args.json {
        printer.output(serde_json::to_string_pretty(&ps)?);
        return Ok(());
    }
    let mut table = format!(
        "{:<24} {:<10} {:<7} {:>10}  {:<9} {}",
        "ID", "VERSION", "KIND", "SIZE", "STATE", "UNTIL"
    );
    for m in &ps.models {
        let until = match (&m.expires_at, m.state.as_str()) {
            (Some(at), _) => until(at),
            (None, "pinned") => "forever".to_owned(),
            (None, "in_use") => "in use".to_owned(),
            (None, _) => "always".to_owned(),
        };
        table.push_str(&format!(
            "\n{:<24} {:<10} {:<7} {:>10}  {:<9} {until}",
            m.id,
            m.version,
            m.kind,
            human_bytes(m.bytes),
            m.state
        ));
    }
    printer.output(table);
    Ok(())
}

/// `expires_at` as "in 4 minutes" (or the time itself when it cannot be read).
fn until(at: &str) -> String {
    match humantime::parse_rfc3339(at) {
        Ok(when) => {
            let left = when
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let rounded = Duration::from_secs(left.as_secs());
            format!("in {}", humantime::format_duration(rounded))
        }
        Err(_) => at.to_owned(),
    }
}

/// Unloads a pack from a running server.
pub(crate) fn stop(args: &StopArgs, printer: &Printer) -> anyhow::Result<()> {
    let client = ServeClient::new(&args.server)?;
    if client.stop(&args.pack)? {
        printer.line(format!(
            "Unloaded `{}` from {} (or it unloads once its requests finish)",
            args.pack,
            client.url()
        ));
    } else {
        printer.line(format!(
            "`{}` was not loaded at {}",
            args.pack,
            client.url()
        ));
    }
    Ok(())
}
