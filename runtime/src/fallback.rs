//! Loading a pack with its fallback chain: a pack that is missing, corrupt, shaped for
//! another base, or aligned with other base versions is replaced by the packs its manifest
//! names in `fallback`, then by `general_chat`. Every substitution is reported with its
//! cause; none is silent.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::Device;
use modularbase_pack::{BaseCompat, MANIFEST_FILE, Manifest, PackId, WEIGHTS_FILE};
use semver::Version;

use crate::cache::{CacheError, GetError, PackCache};
use crate::error::{Result, RuntimeError};
use crate::pack_module::{PackModule, PackWeights};

/// The last resort of every chain.
pub const GENERAL_CHAT: &str = "general_chat";

/// [`GENERAL_CHAT`] as an id.
pub fn general_chat() -> PackId {
    PackId::new(GENERAL_CHAT).expect("`general_chat` is a valid pack id")
}

/// An installed pack: its directory and manifest.
#[derive(Debug, Clone)]
pub struct InstalledPack {
    /// The unpacked directory (`pack.toml`, `weights.gguf`, readme).
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl InstalledPack {
    /// Reads the manifest in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest = Manifest::load(&dir.join(MANIFEST_FILE))
            .map_err(|e| RuntimeError::Config(e.to_string()))?;
        Ok(Self {
            dir: dir.to_owned(),
            manifest,
        })
    }

    /// Its weights file.
    pub fn weights(&self) -> PathBuf {
        self.dir.join(WEIGHTS_FILE)
    }
}

/// The base a pack must fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseInfo {
    /// The base family id.
    pub id: PackId,
    /// The base version.
    pub version: Version,
    /// Hidden width.
    pub hidden: usize,
    /// Number of blocks.
    pub layers: usize,
}

/// Why a pack could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadFailure {
    /// Not installed.
    Missing,
    /// Its weights could not be read.
    Corrupt(String),
    /// Its shape does not fit the base.
    Incompatible(String),
    /// It was aligned with other base versions (or another base family).
    BaseVersion {
        /// The base it declares.
        base: Option<String>,
        /// What it declares to support.
        compat: Vec<BaseCompat>,
        /// The base in use.
        running: String,
    },
    /// It does not fit in the memory budget.
    Budget(String),
    /// It fits the budget, but only once packs that requests are using are released.
    Held(String),
}

impl LoadFailure {
    /// The cause in one word (`missing`, `corrupt`, `incompatible`, `base_version`,
    /// `budget`), for metrics labels.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Corrupt(_) => "corrupt",
            Self::Incompatible(_) => "incompatible",
            Self::BaseVersion { .. } => "base_version",
            Self::Budget(_) => "budget",
            Self::Held(_) => "held",
        }
    }
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("it is not installed"),
            Self::Corrupt(e) => write!(f, "its weights are unreadable: {e}"),
            Self::Incompatible(e) => write!(f, "it does not fit this base: {e}"),
            Self::BaseVersion {
                base,
                compat,
                running,
            } => {
                let compat: Vec<String> = compat.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "it supports base {} {} but {running} is running",
                    base.as_deref().unwrap_or("(none)"),
                    compat.join(", ")
                )
            }
            Self::Budget(e) | Self::Held(e) => f.write_str(e),
        }
    }
}

/// One substitution in a fallback chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitution {
    /// The pack that could not be used.
    pub wanted: PackId,
    /// Why.
    pub cause: LoadFailure,
}

/// The pack that ended up loaded, and what was skipped on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The pack in use.
    pub id: PackId,
    /// The module.
    pub pack: Arc<PackModule>,
    /// Packs tried first, with their causes.
    pub substitutions: Vec<Substitution>,
}

/// Loads one installed pack, checking its base compatibility and shape.
pub fn load_pack_module(
    pack: &InstalledPack,
    base: &BaseInfo,
    device: &Device,
) -> Result<PackModule, LoadFailure> {
    let m = &pack.manifest;
    let same_family = m.base.as_ref() == Some(&base.id);
    if !same_family || !m.supports_base(&base.version) {
        return Err(LoadFailure::BaseVersion {
            base: m.base.as_ref().map(ToString::to_string),
            compat: m.base_compatibility.clone(),
            running: format!("{} {}", base.id, base.version),
        });
    }
    let weights =
        PackWeights::read(&pack.weights()).map_err(|e| LoadFailure::Corrupt(e.to_string()))?;
    let module =
        PackModule::new(weights, device).map_err(|e| LoadFailure::Corrupt(e.to_string()))?;
    module
        .check_fits(base.hidden, base.layers)
        .map_err(|e| LoadFailure::Incompatible(e.to_string()))?;
    Ok(module)
}

/// `wanted`, then its manifest's fallbacks, then `general_chat`, without repeats.
pub fn fallback_chain(installed: &HashMap<PackId, InstalledPack>, wanted: &PackId) -> Vec<PackId> {
    let mut chain = vec![wanted.clone()];
    if let Some(pack) = installed.get(wanted) {
        chain.extend(pack.manifest.fallback.iter().cloned());
    }
    chain.push(general_chat());
    let mut seen = std::collections::HashSet::new();
    chain.retain(|id| seen.insert(id.clone()));
    chain
}

/// Loads `wanted` through the cache, falling back along its chain; when nothing in the
/// chain loads, returns every substitution so the caller can report them. With
/// `wait_for_room`, a pack that would fit once the packs in use are released stops the
/// walk there (its [`LoadFailure::Held`] last): the caller may wait instead of falling back.
pub fn load_with_fallback(
    cache: &mut PackCache<PackModule>,
    installed: &HashMap<PackId, InstalledPack>,
    base: &BaseInfo,
    device: &Device,
    wanted: &PackId,
    wait_for_room: bool,
) -> Result<Loaded, Vec<Substitution>> {
    let mut substitutions = Vec::new();
    for id in fallback_chain(installed, wanted) {
        let Some(pack) = installed.get(&id) else {
            substitutions.push(Substitution {
                wanted: id,
                cause: LoadFailure::Missing,
            });
            continue;
        };
        match cache.get(&id, || load_pack_module(pack, base, device)) {
            Ok(module) => {
                return Ok(Loaded {
                    id,
                    pack: module,
                    substitutions,
                });
            }
            Err(GetError::Load(cause)) => substitutions.push(Substitution { wanted: id, cause }),
            Err(GetError::Cache(e @ CacheError::Held { .. })) => {
                substitutions.push(Substitution {
                    wanted: id,
                    cause: LoadFailure::Held(e.to_string()),
                });
                if wait_for_room {
                    break;
                }
            }
            Err(GetError::Cache(e)) => substitutions.push(Substitution {
                wanted: id,
                cause: LoadFailure::Budget(e.to_string()),
            }),
        }
    }
    Err(substitutions)
}
