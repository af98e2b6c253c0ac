//! `modularbase demo`: the whole story on one machine, without network: a registry in this
//! process and a temporary home; the example packs published, `python_code@1.0.0` resolved
//! and installed, prompts routed through the pack cache under a small budget, one pack
//! broken to show the fallback, the monitor; then the marketplace is served until Ctrl-C
//! (`--exit` stops at the end). Each step runs what the matching command runs.

use std::path::Path;

use anyhow::Context;
use modularbase_runtime::{ImportOptions, RunOptions, Sampling, import_base};

use super::pack_resolve;
use crate::cli::DemoArgs;
use crate::client::RegistryClient;
use crate::home::Home;
use crate::ops::demo::{self, DemoRegistry, Tour, heading};
use crate::ops::models::{KnownModel, locate_model};
use crate::ops::runtime::{installed_set, open_dirs};
use crate::ops::{HttpIndex, InstallOptions, Source};
use crate::printer::{Printer, human_bytes};

/// The install the demo explains.
const FIRST_INSTALL: &str = "python_code@1.0.0";
/// Tokens the real model may answer a chat prompt with.
const REAL_MODEL_TOKENS: usize = 96;
/// Tokens it continues a domain's text with.
const REAL_MODEL_DOMAIN_TOKENS: usize = 40;
/// What it installs next.
const THEN_INSTALL: [&str; 3] = ["router", "general_chat", "rust_code"];

/// Runs the demo.
pub(crate) fn run(args: &DemoArgs, printer: &Printer) -> anyhow::Result<()> {
    let examples_dir = demo::locate_examples(args.examples.as_deref())?;
    let examples = demo::read_examples(&examples_dir)?;
    // Before anything runs: a model that was never fetched is a hint, not a half demo.
    let model = args.model.as_deref().map(locate_model).transpose()?;
    // Declared first, so it is removed last, after the registry has stopped.
    let scratch = tempfile::Builder::new()
        .prefix("modularbase-demo-")
        .tempdir()
        .context("cannot create the demo's temporary directory")?;
    let home = Home::sealed(scratch.path().join("home"));

    heading(
        printer,
        "1. A registry on this machine",
        "The marketplace server runs inside this process on 127.0.0.1; a temporary home plays the user's ~/.modularbase.",
    );
    let mut registry = DemoRegistry::start(&scratch.path().join("registry"), args.port, "demo")?;
    printer.line(format!("  registry  {}", registry.url));
    printer.line(format!("  home      {}", home.root().display()));

    heading(
        printer,
        "2. Publishing the example packs",
        "A publisher logs in, registers an Ed25519 signing key, then builds, signs and uploads each pack.",
    );
    sign_in(&home, &registry, printer)?;
    let staging = scratch.path().join("staging");
    demo::publish_examples(&home, &registry.url, &examples, &staging, printer)?;
    registry.check_interrupt()?;

    heading(
        printer,
        &format!("3. Installing {FIRST_INSTALL}"),
        "The resolver (PubGrub over the registry's index, checked against its signed metadata: the root pinned on first use, then timestamp and snapshot) picks a version of every pack needed; each archive is then downloaded, its checksum and its owner's signature verified, unpacked and locked.",
    );
    explain_install(&home, &registry.url, printer)?;
    install(&home, &[FIRST_INSTALL], &registry.url, printer)?;
    heading(
        printer,
        "4. Installing the router and two more packs",
        "The router sends each prompt to the pack whose key matches it best; general_chat is every pack's last fallback.",
    );
    install(&home, &THEN_INSTALL, &registry.url, printer)?;
    registry.check_interrupt()?;

    tour(&home, &registry, printer)?;
    let marketplace = match &model {
        Some((model, gguf)) => {
            let packs = demo::model_packs(&examples_dir, model)?;
            real_model(
                &home,
                &registry.url,
                scratch.path(),
                (model, gguf),
                &packs,
                printer,
            )?;
            registry.check_interrupt()?;
            "12. The marketplace"
        }
        None => "11. The marketplace",
    };

    heading(
        printer,
        marketplace,
        "Browse the packs just published: versions, model cards, dependencies, base compatibility, downloads.",
    );
    printer.output(format!("  marketplace: {}/", registry.url));
    if !args.exit {
        printer.line("  serving until Ctrl-C (`modularbase demo --exit` stops here)");
        registry.serve_until_interrupted()?;
    }
    registry.shutdown()?;
    scratch
        .close()
        .context("cannot remove the demo's temporary directory")
}

/// A real model fetched from PyPI: imported as a base (`base import`) and published; the
/// example packs trained over it published too and installed, with the base they need, in
/// a home of its own (a home runs one base); then prompts of their domains routed to them,
/// and chat prompts (`run --chat`).
fn real_model(
    home: &Home,
    registry: &str,
    scratch: &Path,
    (model, gguf): (&KnownModel, &Path),
    packs: &[demo::ExamplePack],
    printer: &Printer,
) -> anyhow::Result<()> {
    heading(
        printer,
        &format!("11. A real model: {}", model.name),
        "A llama-family GGUF becomes a base pack with its tensor bytes unchanged, is published and installed like any pack, and answers through its own chat template.",
    );
    let dir = scratch.join("staging").join(model.base_id);
    let options = ImportOptions {
        id: model.base_id.parse()?,
        version: model.version.parse()?,
        quantize: None,
    };
    let imported = import_base(gguf, &dir, &options)
        .with_context(|| format!("cannot import `{}`", gguf.display()))?;
    printer.line(format!(
        "  imported  {} as {} {} ({})",
        gguf.display(),
        imported.manifest.id,
        imported.manifest.version,
        imported.weights.vocab.description()
    ));
    let published = crate::ops::publish(home, &dir, Some(registry), "default", false, printer)?;
    printer.line(format!(
        "  published {} {} ({})",
        imported.manifest.id,
        imported.manifest.version,
        human_bytes(published.built.size)
    ));
    let chat_home = Home::sealed(scratch.join("home-real-model"));
    if packs.is_empty() {
        printer.line(format!(
            "  no packs trained over {} were found (`examples/{}`; `examples/build-smollm2.sh` builds them): the base alone answers",
            model.base_id, model.packs
        ));
        let request = format!("{}@{}", model.base_id, model.version);
        install(&chat_home, &[request.as_str()], registry, printer)?;
    } else {
        demo::publish_examples(home, registry, packs, &scratch.join("staging"), printer)?;
        printer.line(format!(
            "  installing {}: the resolver adds the base it was trained over",
            model.first_pack
        ));
        install(&chat_home, &[model.first_pack], registry, printer)?;
        install(&chat_home, model.then_packs, registry, printer)?;
    }
    let (base, dirs) = installed_set(&chat_home, printer)?;
    let mut runtime = open_dirs(&base, &dirs, u64::MAX, "cpu", printer)?;
    if !packs.is_empty() {
        printer.line("");
        printer
            .line("Text of each domain, routed by the router over the model's own hidden states:");
        for (domain, prompt) in model.domain_prompts {
            printer.line(format!("[{domain}]"));
            let report = runtime
                .run(prompt, &run_options(REAL_MODEL_DOMAIN_TOKENS, false))
                .with_context(|| format!("cannot answer {prompt:?}"))?;
            demo::show(printer, prompt, &report);
        }
        printer.line("");
        printer.line("Chat prompts, in the model's chat template:");
    }
    for prompt in model.prompts {
        let report = runtime
            .run(prompt, &run_options(REAL_MODEL_TOKENS, true))
            .with_context(|| format!("cannot answer {prompt:?}"))?;
        printer.line(format!("  prompt    {prompt:?}"));
        for line in report.text.trim_end().lines() {
            printer.output(format!("  │ {line}"));
        }
        printer.line(format!(
            "  speed     {} tokens at {:.1} tokens/s",
            report.tokens,
            report.stats.decode_per_second()
        ));
    }
    Ok(())
}

/// Greedy answers of up to `max_tokens`, routed, in the chat template or not.
fn run_options(max_tokens: usize, chat: bool) -> RunOptions {
    RunOptions {
        max_tokens,
        sampling: Sampling::greedy(),
        force_pack: None,
        chat,
        allow_fallback: false,
    }
}

/// `login`, `key generate` and `key register` against the demo registry.
fn sign_in(home: &Home, registry: &DemoRegistry, printer: &Printer) -> anyhow::Result<()> {
    let url = Some(registry.url.as_str());
    let (url, who) = crate::ops::login(home, url, &registry.token, printer)?;
    printer.line(format!("  logged in to {url} as {}", who.login));
    let key = crate::ops::generate_key(home, "default")?;
    let (_, info) = crate::ops::register_key(home, "default", Some(&url), printer)?;
    printer.line(format!(
        "  registered key `default` ({}, {})",
        info.fingerprint,
        key.fingerprint()
    ));
    Ok(())
}

/// Resolves [`FIRST_INSTALL`] as `pack resolve` does and says why each version was chosen.
fn explain_install(home: &Home, registry: &str, printer: &Printer) -> anyhow::Result<()> {
    let requests = vec![pack_resolve::parse_request(FIRST_INSTALL)?];
    let index = HttpIndex::new(
        home,
        RegistryClient::from_home(home, Some(registry), printer)?,
        false,
    )?;
    let resolution = crate::resolve::resolve(&index, &requests, &home.lock()?.versions())?;
    printer.line("  the resolver chose:");
    for line in demo::explain(&resolution, &requests, &index)? {
        printer.line(format!("    {line}"));
    }
    Ok(())
}

/// `pack install PACKS --registry URL` in `home`.
fn install(home: &Home, packs: &[&str], registry: &str, printer: &Printer) -> anyhow::Result<()> {
    let options = InstallOptions {
        add: packs
            .iter()
            .map(|p| pack_resolve::parse_request(p))
            .collect::<anyhow::Result<_>>()?,
        ..InstallOptions::default()
    };
    let source = Source {
        registry: Some(registry.to_owned()),
        ..Source::default()
    };
    let outcome = crate::ops::install(home, &source, &options, false, printer)?;
    for line in outcome.summary(home) {
        printer.line(line);
    }
    Ok(())
}

/// The runtime's part: routing, a hit, an eviction, a fallback, the monitor.
fn tour(home: &Home, registry: &DemoRegistry, printer: &Printer) -> anyhow::Result<()> {
    heading(
        printer,
        "5. The runtime, under a small memory budget",
        "The base and the router stay in memory; domain packs are loaded on demand into an LRU cache.",
    );
    let mut tour = Tour::open(home, printer)?;
    heading(
        printer,
        "6. Routing: prompts from three domains",
        "Each prompt is scored against every installed pack's key (top 3 shown) and answered with the best one.",
    );
    tour.routing()?;
    registry.check_interrupt()?;
    heading(
        printer,
        "7. A cache hit",
        "The same prompt again: its pack is still in memory, so nothing is loaded.",
    );
    tour.repeat()?;
    heading(
        printer,
        "8. An eviction",
        "A pack that is not in memory is asked for by name; the budget holds one domain pack, so the least recently used one goes.",
    );
    tour.evict()?;
    heading(
        printer,
        "9. A fallback",
        "An installed pack is corrupted on purpose; asking for it loads the next pack of its manifest's fallback chain instead, and says why.",
    );
    tour.fallback()?;
    heading(
        printer,
        "10. The monitor",
        "What `modularbase monitor` shows: each component's state and size against the budget, and the cache counters.",
    );
    tour.monitor();
    Ok(())
}
