//! A running ModularBase: the base and router resident, domain packs loaded on demand
//! through the cache with fallback, prompts routed and answered.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};
use modularbase_pack::{PackId, PackKind};

use crate::base::read_base_gguf;
use crate::base::{BaseModel, HiddenPlug};
use crate::cache::{CacheEvent, PackCache};
use crate::chat::ChatMessage;
use crate::error::{Result, RuntimeError};
use crate::eval::{EvalReport, score_window, windows};
use crate::fallback::{BaseInfo, InstalledPack, Substitution, general_chat, load_with_fallback};
use crate::generate::{GenerationStats, Sampling};
use crate::keep_alive::KeepAlive;
use crate::monitor::{ComponentRow, ComponentState, MonitorView};
use crate::pack_module::{PackModule, read_pack_key};
use crate::router::{Route, RouteScore, Router};
use crate::sequence::Routing;
use crate::serving::{ModelChoice, Prompt, Request};

/// How one prompt is answered.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Most new tokens.
    pub max_tokens: usize,
    /// Sampling settings.
    pub sampling: Sampling,
    /// Use this pack instead of routing.
    pub force_pack: Option<PackId>,
    /// Wrap the prompt in the base's chat template (one user turn) when it has one.
    pub chat: bool,
    /// When the forced pack cannot be used, answer with its fallback chain (reported in
    /// [`RunReport::substitutions`]) instead of failing with [`RuntimeError::ForcedPack`].
    pub allow_fallback: bool,
}

/// Bytes of a window that decide its route in a routed evaluation (about a prompt's length).
pub const ROUTE_PREFIX: usize = 64;

/// What scores the text in [`Runtime::evaluate`].
#[derive(Clone, Copy)]
pub enum EvalTarget<'a> {
    /// The base alone.
    Base,
    /// The base with this pack.
    Pack(&'a PackModule),
    /// Each window routed as a prompt would be.
    Routed,
}

/// Everything that happened answering one prompt.
#[derive(Debug)]
pub struct RunReport {
    /// The generated text.
    pub text: String,
    /// Tokens generated.
    pub tokens: usize,
    /// Routing scores, best first (empty when the pack was forced).
    pub scores: Vec<RouteScore>,
    /// The routing decision (`None` when forced or when no pack is installed).
    pub route: Option<Route>,
    /// The pack asked for (by routing or `--pack`).
    pub wanted: Option<PackId>,
    /// The pack that answered (`None`: the base alone).
    pub used: Option<PackId>,
    /// Packs that could not be used, with causes.
    pub substitutions: Vec<Substitution>,
    /// Cache events while answering.
    pub events: Vec<CacheEvent>,
    /// Tokens each expert of the used pack processed for this prompt.
    pub expert_usage: Vec<u64>,
    /// The used pack's insertion layer.
    pub insertion_layer: Option<usize>,
    /// Generation speed.
    pub tokens_per_second: f64,
    /// Prompt and decoding times.
    pub stats: GenerationStats,
}

/// The base, the router and the installed packs under one memory budget.
pub struct Runtime {
    pub(crate) base: BaseModel,
    base_info: BaseInfo,
    router: Router,
    router_pack: Option<InstalledPack>,
    installed: HashMap<PackId, InstalledPack>,
    keys: Vec<(PackId, Tensor)>,
    pub(crate) cache: PackCache<PackModule>,
    pub(crate) default_keep_alive: Option<KeepAlive>,
    device: Device,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("base", &self.base_info)
            .field("packs", &self.installed.keys())
            .finish()
    }
}

impl Runtime {
    /// Opens the base in `base_dir` and the packs in `pack_dirs` (a router among them is
    /// used as the router) under `budget` bytes on `device`.
    pub fn open(
        base_dir: &Path,
        pack_dirs: &[PathBuf],
        budget: u64,
        device: &Device,
    ) -> Result<Self> {
        let base_pack = InstalledPack::open(base_dir)?;
        if base_pack.manifest.kind != PackKind::Base {
            return Err(RuntimeError::Config(format!(
                "`{}` is a {} pack, not a base",
                base_dir.display(),
                base_pack.manifest.kind
            )));
        }
        let base = BaseModel::new(read_base_gguf(&base_pack.weights())?, device)?;
        let base_info = BaseInfo {
            id: base_pack.manifest.id.clone(),
            version: base_pack.manifest.version.clone(),
            hidden: base.config().hidden,
            layers: base.config().layers,
        };
        let mut router = Router::identity();
        let mut router_pack = None;
        let mut installed = HashMap::new();
        let mut warnings = Vec::new();
        for dir in pack_dirs {
            let pack = InstalledPack::open(dir)?;
            let id = pack.manifest.id.clone();
            match pack.manifest.kind {
                PackKind::Router if pack.manifest.base.as_ref() != Some(&base_info.id) => {
                    warnings.push(format!(
                        "router `{id}` was not used: it is made for base {}, not {}; prompts are routed by cosine in the base's hidden space",
                        family_name(&pack.manifest),
                        base_info.id
                    ));
                }
                PackKind::Router => match Router::read(&pack.weights(), device) {
                    Ok(read) => {
                        router = read;
                        router_pack = Some(pack);
                    }
                    Err(e) => warnings.push(format!(
                        "router `{id}` was not used: {e}; prompts are routed by cosine in the base's hidden space"
                    )),
                },
                PackKind::Domain => {
                    installed.insert(id, pack);
                }
                PackKind::Base => {
                    return Err(RuntimeError::Config(format!(
                        "`{}` is a second base; give one base only",
                        dir.display()
                    )));
                }
            }
        }
        // Keys are small: read them all now so routing never loads a whole pack. A pack whose
        // weights fail their checks is not routed to, with a warning (and its cause again if
        // it is asked for); the other packs are unaffected.
        let mut keys: Vec<(PackId, Tensor)> = Vec::new();
        for (id, pack) in &installed {
            if pack.manifest.base.as_ref() != Some(&base_info.id) {
                warnings.push(format!(
                    "pack `{id}` is not routed to: it is made for base {}, not {} (asked for, it falls back)",
                    family_name(&pack.manifest),
                    base_info.id
                ));
                continue;
            }
            match read_pack_key(&pack.weights()) {
                Ok(key) if key.dims() != [base_info.hidden] => warnings.push(format!(
                    "pack `{id}` is not routed to: its key has shape {:?} but base {} has hidden width {} (asked for, it falls back)",
                    key.dims(),
                    base_info.id,
                    base_info.hidden
                )),
                Ok(key) => keys.push((id.clone(), key)),
                Err(e) => warnings.push(format!("pack `{id}` is not routed to: {e}")),
            }
        }
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        warnings.sort();
        let mut pinned = vec![(base_info.id.clone(), base.bytes())];
        if let Some(pack) = &router_pack {
            pinned.push((pack.manifest.id.clone(), router.bytes()));
        }
        let cache =
            PackCache::new(budget, pinned).map_err(|e| RuntimeError::Config(e.to_string()))?;
        Ok(Self {
            base,
            base_info,
            router,
            router_pack,
            installed,
            keys,
            cache,
            default_keep_alive: None,
            device: device.clone(),
            warnings,
        })
    }

    /// Packs that could not be used at all, found while opening (each with its cause).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether a domain pack `id` is among the packs given.
    pub fn has_pack(&self, id: &PackId) -> bool {
        self.installed.contains_key(id)
    }

    /// The domain packs given, sorted.
    pub fn pack_ids(&self) -> Vec<&PackId> {
        let mut ids: Vec<&PackId> = self.installed.keys().collect();
        ids.sort();
        ids
    }

    /// The base in use.
    pub fn base_info(&self) -> &BaseInfo {
        &self.base_info
    }

    /// Keeps the base's matrices dense from now on (see [`BaseModel::keep_matrices_dense`]):
    /// for evaluation runs on the CPU, not for answering under a budget.
    pub fn keep_base_dense(&mut self) -> Result<()> {
        if self.device.is_cpu() {
            self.base.keep_matrices_dense()?;
        }
        Ok(())
    }

    /// Routes `prompt` (or uses the forced pack), loads the pack with fallback, generates.
    pub fn run(&mut self, prompt: &str, options: &RunOptions) -> Result<RunReport> {
        self.run_streaming(prompt, options, &mut |_| {})
    }

    /// [`Self::run`], handing each piece of the answer to `on_text` as soon as it is made.
    pub fn run_streaming(
        &mut self,
        prompt: &str,
        options: &RunOptions,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<RunReport> {
        let request = Request {
            prompt: if options.chat {
                Prompt::Chat(vec![ChatMessage::user(prompt)])
            } else {
                Prompt::Text(prompt.to_owned())
            },
            model: options
                .force_pack
                .clone()
                .map_or(ModelChoice::Routed, ModelChoice::Pack),
            max_tokens: options.max_tokens,
            sampling: options.sampling.clone(),
            stop: Vec::new(),
            keep_alive: None,
            wait_for_room: false,
        };
        let forced = options
            .force_pack
            .as_ref()
            .filter(|_| !options.allow_fallback);
        let accept = |routing: &Routing| match forced {
            Some(forced) if routing.used.as_ref() != Some(forced) => {
                let cause = routing
                    .substitutions
                    .iter()
                    .find(|s| &s.wanted == forced)
                    .map_or_else(
                        || "it could not be loaded".to_owned(),
                        |s| s.cause.to_string(),
                    );
                Err(RuntimeError::ForcedPack {
                    id: forced.clone(),
                    cause,
                })
            }
            _ => Ok(()),
        };
        self.answer(&request, &accept, on_text)
    }

    /// Answers one request alone: `accept` sees who will answer before anything is
    /// generated (and may refuse), `on_text` gets each piece of the answer as it is made.
    pub fn answer(
        &mut self,
        request: &Request,
        accept: &dyn Fn(&Routing) -> Result<()>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<RunReport> {
        let mut sequence = self.start(request)?;
        let routing = sequence.routing().clone();
        if let Err(e) = accept(&routing) {
            self.finish(sequence);
            return Err(e);
        }
        let started = Instant::now();
        let mut first = None;
        while sequence.finish_reason().is_none() {
            self.step(&mut [&mut sequence])?;
            if first.is_none() && sequence.is_decoding() {
                first = Some(started.elapsed().as_secs_f64());
            }
            let piece = sequence.take_text();
            if !piece.is_empty() {
                on_text(&piece);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let prompt_seconds = first.unwrap_or(seconds);
        let expert_usage = sequence
            .pack()
            .map(|p| {
                p.expert_usage()
                    .iter()
                    .zip(sequence.usage_before.iter().chain(std::iter::repeat(&0)))
                    .map(|(a, b)| a - b)
                    .collect()
            })
            .unwrap_or_default();
        let insertion_layer = sequence.pack().map(|p| p.config().insertion_layer);
        let tokens = sequence.generated().len();
        let stats = GenerationStats {
            prompt_tokens: sequence.prompt_tokens(),
            prompt_seconds,
            decode_tokens: tokens,
            decode_seconds: seconds - prompt_seconds,
        };
        let text = sequence.text().to_owned();
        self.finish(sequence);
        Ok(RunReport {
            text,
            tokens,
            scores: routing.scores,
            route: routing.route,
            wanted: routing.wanted,
            used: routing.used,
            substitutions: routing.substitutions,
            events: self.cache.take_events(),
            expert_usage,
            insertion_layer,
            stats,
            tokens_per_second: if seconds > 0.0 {
                tokens as f64 / seconds
            } else {
                0.0
            },
        })
    }

    /// Loads the pack the predictor expects next, when the budget has room for it.
    pub(crate) fn preload(&mut self) {
        let installed = &self.installed;
        let base_info = &self.base_info;
        let device = &self.device;
        self.cache.preload(|id| {
            let pack = installed.get(id).ok_or(())?;
            crate::fallback::load_pack_module(pack, base_info, device).map_err(|_| ())
        });
    }

    /// Routing scores, the decision and the wanted pack for `tokens` (none, for the base
    /// alone, when no domain pack is installed or none is confident and `general_chat` is
    /// not installed).
    pub(crate) fn route_tokens(
        &mut self,
        tokens: &[u32],
    ) -> Result<(Vec<RouteScore>, Option<Route>, Option<PackId>)> {
        if self.installed.is_empty() {
            return Ok((Vec::new(), None, None));
        }
        let pooled = self.base.pooled_hidden(tokens)?;
        let (scores, route) = self.router.route(&pooled, &self.keys)?;
        // No pack is confident: the fallback pack when one is installed, else the base
        // alone, so text no pack knows is never made worse by one.
        let wanted = match &route {
            Route::Pack(best) => Some(best.id.clone()),
            Route::LowConfidence(_) => {
                Some(general_chat()).filter(|g| self.installed.contains_key(g))
            }
        };
        Ok((scores, Some(route), wanted))
    }

    /// Loads `wanted` (with its fallback chain) through the cache; with `wait_for_room` the
    /// chain stops at a pack that only packs in use keep out (see [`load_with_fallback`]).
    pub(crate) fn load(
        &mut self,
        wanted: Option<&PackId>,
        wait_for_room: bool,
    ) -> (Option<(PackId, Arc<PackModule>)>, Vec<Substitution>) {
        let Some(id) = wanted else {
            return (None, Vec::new());
        };
        match load_with_fallback(
            &mut self.cache,
            &self.installed,
            &self.base_info,
            &self.device,
            id,
            wait_for_room,
        ) {
            Ok(loaded) => (Some((loaded.id, loaded.pack)), loaded.substitutions),
            Err(substitutions) => (None, substitutions),
        }
    }

    /// Bits per byte of `text` with the base alone, with `pack`, or routed: each window goes
    /// to the pack its first [`ROUTE_PREFIX`] bytes are routed to, as a prompt would.
    /// `on_window` is called before each window (for progress displays).
    pub fn evaluate(
        &mut self,
        text: &[u8],
        target: EvalTarget<'_>,
        window: usize,
        on_window: &mut dyn FnMut(),
    ) -> Result<EvalReport> {
        let mut report = EvalReport::default();
        for w in windows(text, window) {
            on_window();
            let score = match target {
                EvalTarget::Base => score_window(&mut self.base, None, w)?,
                EvalTarget::Pack(pack) => score_window(&mut self.base, Some(pack), w)?,
                EvalTarget::Routed => {
                    let prefix = &w[..w.len().min(ROUTE_PREFIX)];
                    let tokens = self.base.vocab().encode(&String::from_utf8_lossy(prefix))?;
                    let (_, _, wanted) = self.route_tokens(&tokens)?;
                    let (pack, _) = self.load(wanted.as_ref(), false);
                    let used = pack
                        .as_ref()
                        .map(|(id, _)| id.to_string())
                        .unwrap_or_default();
                    *report.routed_to.entry(used).or_default() += 1;
                    let plug = pack.as_ref().map(|(_, p)| p.as_ref() as &dyn HiddenPlug);
                    score_window(&mut self.base, plug, w)?
                }
            };
            report.score.add(score);
        }
        self.cache.take_events();
        Ok(report)
    }

    /// The memory picture: base and router resident, packs loaded, evicted or installed.
    pub fn monitor(&self) -> MonitorView {
        let resident = self.cache.resident();
        let evicted = self.cache.evicted();
        let mut rows: Vec<ComponentRow> = Vec::new();
        for part in &resident {
            let router = self
                .router_pack
                .as_ref()
                .filter(|p| p.manifest.id == part.id);
            let (kind, version, state) = if part.id == self.base_info.id {
                (
                    "base",
                    self.base_info.version.clone(),
                    ComponentState::Resident,
                )
            } else if let Some(router) = router {
                (
                    "router",
                    router.manifest.version.clone(),
                    ComponentState::Resident,
                )
            } else {
                let state = if part.in_use {
                    ComponentState::InUse
                } else if part.pinned {
                    ComponentState::Pinned
                } else {
                    ComponentState::Loaded
                };
                let version = self
                    .installed
                    .get(&part.id)
                    .map(|p| p.manifest.version.clone())
                    .unwrap_or_else(|| semver::Version::new(0, 0, 0));
                ("domain", version, state)
            };
            rows.push(ComponentRow {
                id: part.id.clone(),
                version,
                kind: kind.into(),
                state,
                bytes: part.bytes,
                expires: part.expires,
            });
        }
        let mut others: Vec<&PackId> = self
            .installed
            .keys()
            .filter(|id| !resident.iter().any(|r| &r.id == *id))
            .collect();
        others.sort();
        for id in others {
            let state = if evicted.contains(id) {
                ComponentState::Evicted
            } else {
                ComponentState::Installed
            };
            let bytes = std::fs::metadata(self.installed[id].weights())
                .map(|m| m.len())
                .unwrap_or(0);
            rows.push(ComponentRow {
                id: id.clone(),
                version: self.installed[id].manifest.version.clone(),
                kind: "domain".into(),
                state,
                bytes,
                expires: None,
            });
        }
        MonitorView {
            budget: self.cache.budget(),
            used: self.cache.used(),
            device: if self.device.is_cpu() {
                "cpu".into()
            } else {
                format!("{:?}", self.device.location())
            },
            rows,
            stats: self.cache.stats().clone(),
            device_memory: crate::device::device_memory(&self.device),
        }
    }
}

/// The base family a pack's manifest names, for messages.
fn family_name(manifest: &modularbase_pack::Manifest) -> String {
    manifest
        .base
        .as_ref()
        .map_or_else(|| "(none)".to_owned(), ToString::to_string)
}
