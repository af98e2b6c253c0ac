//! The runtime half of the demo: the installed set opened under a budget that holds the
//! base, the router and one domain pack but not two (the example packs share one shape),
//! then prompts that show routing, a cache miss and a hit, an eviction, and the fallback
//! from a pack broken on purpose.

use std::fs::OpenOptions;
use std::path::Path;

use anyhow::Context;
use modularbase_pack::{PackId, WEIGHTS_FILE};
use modularbase_runtime::{ComponentState, RunOptions, Runtime, Sampling};

use super::report::show;
use crate::home::Home;
use crate::ops::runtime::{installed_set, open_dirs};
use crate::printer::{Printer, human_bytes};

/// Where the demo runs: the example models are tiny, and the CPU answers them fastest.
const DEVICE: &str = "cpu";
/// Tokens generated per prompt.
const MAX_TOKENS: usize = 24;
/// The pack the demo corrupts.
const BROKEN: &str = "python_code";

/// A prompt and the pack of its domain.
struct Prompt {
    domain: &'static str,
    pack: &'static str,
    text: &'static str,
}

/// One prompt per domain; the first is the broken pack's.
const PROMPTS: [Prompt; 4] = [
    Prompt {
        domain: "Python code",
        pack: BROKEN,
        text: "def fibonacci(n):\n    ",
    },
    Prompt {
        domain: "Rust code",
        pack: "rust_code",
        text: "fn main() {\n    let numbers = vec![",
    },
    Prompt {
        domain: "reasoning",
        pack: "reasoning",
        text: "Q: 17 + 25 = ?\nA:",
    },
    Prompt {
        domain: "general English",
        pack: "general_chat",
        text: "The best way to learn a new language is",
    },
];

/// The installed set, running under the demo's small budget.
pub(crate) struct Tour<'a> {
    runtime: Runtime,
    home: &'a Home,
    printer: &'a Printer,
}

impl<'a> Tour<'a> {
    /// Opens the packs in the home's lock under a budget for the base, the router and one
    /// domain pack, and says so.
    pub(crate) fn open(home: &'a Home, printer: &'a Printer) -> anyhow::Result<Self> {
        let (base, dirs) = installed_set(home, printer)?;
        // Measured on an unbounded runtime: the resident base and router, and the largest
        // domain pack (its weights on disk, as the monitor counts packs not loaded).
        let view = open_dirs(&base, &dirs, u64::MAX, DEVICE, printer)?.monitor();
        let resident: u64 = view
            .rows
            .iter()
            .filter(|r| r.state == ComponentState::Resident)
            .map(|r| r.bytes)
            .sum();
        let largest = view
            .rows
            .iter()
            .filter(|r| r.state != ComponentState::Resident)
            .map(|r| r.bytes)
            .max()
            .unwrap_or(0);
        let budget = resident + largest * 3 / 2;
        let runtime = open_dirs(&base, &dirs, budget, DEVICE, printer)?;
        printer.line(format!(
            "  budget {}: the base and the router ({}) stay in memory; the rest holds one domain pack (up to {}), not two",
            human_bytes(budget),
            human_bytes(resident),
            human_bytes(largest)
        ));
        Ok(Self {
            runtime,
            home,
            printer,
        })
    }

    /// Routes one prompt of each domain.
    pub(crate) fn routing(&mut self) -> anyhow::Result<()> {
        PROMPTS.iter().try_for_each(|p| self.ask(p, false))
    }

    /// Asks the last prompt again: its pack is still in memory.
    pub(crate) fn repeat(&mut self) -> anyhow::Result<()> {
        self.ask(&PROMPTS[PROMPTS.len() - 1], false)
    }

    /// Asks by name for a domain pack not in memory: loading it evicts the one that is.
    pub(crate) fn evict(&mut self) -> anyhow::Result<()> {
        let loaded = self.loaded();
        let prompt = PROMPTS
            .iter()
            .find(|p| p.pack != BROKEN && !loaded.iter().any(|id| id.as_str() == p.pack))
            .context("every example pack is in memory; the budget should hold one")?;
        self.printer.line(format!(
            "  in memory now: {}",
            if loaded.is_empty() {
                "no domain pack".to_owned()
            } else {
                format!("`{}`", loaded.join("`, `"))
            }
        ));
        self.ask(prompt, true)
    }

    /// Cuts the broken pack's installed weights in half and asks for it by name.
    pub(crate) fn fallback(&mut self) -> anyhow::Result<()> {
        let lock = self.home.lock()?;
        let pack = lock
            .packs
            .iter()
            .find(|p| p.id.as_str() == BROKEN)
            .with_context(|| format!("`{BROKEN}` is not installed"))?;
        let weights = self
            .home
            .pack_dir(&pack.id, &pack.version)
            .join(WEIGHTS_FILE);
        let (before, after) = truncate_half(&weights)?;
        self.printer.line(format!(
            "  cut `{}` from {} to {}, as a torn download or a failing disk would",
            weights.display(),
            human_bytes(before),
            human_bytes(after)
        ));
        self.ask(&PROMPTS[0], true)
    }

    /// The memory dashboard, as `modularbase monitor` shows it.
    pub(crate) fn monitor(&self) {
        self.printer
            .output(self.runtime.monitor().render().trim_end());
    }

    /// Answers `prompt`, routed or (`by_name`) forced to its domain's pack, and shows it.
    fn ask(&mut self, prompt: &Prompt, by_name: bool) -> anyhow::Result<()> {
        let how = if by_name {
            format!(
                ", asked for `{}` by name (`run --pack {}`)",
                prompt.pack, prompt.pack
            )
        } else {
            String::new()
        };
        self.printer.line(format!("[{}{how}]", prompt.domain));
        let options = RunOptions {
            max_tokens: MAX_TOKENS,
            sampling: Sampling::greedy(),
            force_pack: by_name.then(|| prompt.pack.parse()).transpose()?,
            chat: false,
            allow_fallback: true,
        };
        let report = self
            .runtime
            .run(prompt.text, &options)
            .with_context(|| format!("cannot answer {:?}", prompt.text))?;
        show(self.printer, prompt.text, &report);
        Ok(())
    }

    /// The domain packs in memory now.
    fn loaded(&self) -> Vec<PackId> {
        self.runtime
            .monitor()
            .rows
            .into_iter()
            .filter(|r| r.state == ComponentState::Loaded)
            .map(|r| r.id)
            .collect()
    }
}

/// Cuts the file at `path` to half its length; returns its lengths before and after.
fn truncate_half(path: &Path) -> anyhow::Result<(u64, u64)> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open `{}` for writing", path.display()))?;
    let before = file
        .metadata()
        .with_context(|| format!("cannot read `{}`", path.display()))?
        .len();
    file.set_len(before / 2)
        .with_context(|| format!("cannot truncate `{}`", path.display()))?;
    Ok((before, before / 2))
}
