//! `modularbase pack resolve ID[@REQ]…`: what an install would choose, and why not when
//! nothing fits. Reads the registry's index; changes nothing.

use anyhow::Context;
use modularbase_pack::PackId;
use semver::VersionReq;

use crate::cli::ResolveArgs;
use crate::client::{NetFlags, RegistryClient};
use crate::home::Home;
use crate::ops::HttpIndex;
use crate::printer::{Printer, human_bytes};

/// Parses `ID` or `ID@REQ` (`python_code@1.0.0` means `=1.0.0`, as in `cargo install`).
pub(crate) fn parse_request(text: &str) -> anyhow::Result<(PackId, VersionReq)> {
    let (id, req) = match text.split_once('@') {
        Some((id, req)) => {
            let exact = req.chars().next().is_some_and(|c| c.is_ascii_digit())
                && req.split('.').count() == 3;
            let req = if exact {
                format!("={req}")
            } else {
                req.to_owned()
            };
            (
                id,
                req.parse::<VersionReq>()
                    .with_context(|| format!("`{req}` in `{text}` is not a version requirement"))?,
            )
        }
        None => (text, VersionReq::STAR),
    };
    Ok((
        id.parse()
            .with_context(|| format!("`{text}` does not name a pack"))?,
        req,
    ))
}

/// Resolves the request against the registry and prints the plan.
pub(crate) fn run(args: &ResolveArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let requests = args
        .packs
        .iter()
        .map(|p| parse_request(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let lock = {
        let _guard = home.shared(printer)?;
        home.lock()?
    };
    let flags = NetFlags {
        timeout: args.net.timeout,
        retries: args.net.retries,
    };
    let client = RegistryClient::open(
        &home,
        args.registry.as_deref(),
        lock.registry(),
        flags,
        printer,
    )?;
    let index = HttpIndex::with_root(&home, client, false, args.net.root.as_deref())?;
    let resolution = crate::resolve::resolve(&index, &requests, &lock.versions())?;
    if args.json {
        let records: Vec<_> = resolution.packs.values().collect();
        printer.output(serde_json::to_string(&records).context("cannot serialise the plan")?);
        return Ok(());
    }
    for record in resolution.packs.values() {
        let why = if requests.iter().any(|(id, _)| *id == record.id) {
            "requested"
        } else {
            "needed"
        };
        printer.output(format!(
            "{:<24} {:<12} {:<7} {:>10}  {why}",
            record.id,
            record.vers,
            record.kind,
            human_bytes(record.size)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_like_cargo_install() {
        let parse = |t: &str| parse_request(t).map(|(id, req)| format!("{id} {req}"));
        assert_eq!(parse("python_code").unwrap(), "python_code *");
        assert_eq!(parse("python_code@1.0.0").unwrap(), "python_code =1.0.0");
        assert_eq!(parse("python_code@>=1.1").unwrap(), "python_code >=1.1");
        assert_eq!(parse("python_code@1.2").unwrap(), "python_code ^1.2");
        assert!(
            parse("Python")
                .unwrap_err()
                .to_string()
                .contains("does not name a pack")
        );
        assert!(
            parse("python_code@>>1")
                .unwrap_err()
                .to_string()
                .contains("is not a version requirement")
        );
    }
}
