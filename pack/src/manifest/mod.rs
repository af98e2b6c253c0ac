//! `pack.toml`: what a pack is, what it needs and what it plugs into (DESIGN §2).
//!
//! [`Manifest::from_toml_str`] parses and validates in one step, so a `Manifest` value is
//! always valid; [`Manifest::to_toml_string`] writes it back in the canonical layout.

mod error;
mod parse;
mod shape;
mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::PackId;

pub use error::{ManifestError, ManifestProblem};
pub use shape::{ExpertFormat, ModelShape};

/// A validated pack manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `pack.id`: directory, file and URL name.
    pub id: PackId,
    /// `pack.version`: semver 2.0.
    pub version: Version,
    /// `pack.name`: the human title.
    pub name: String,
    /// `pack.kind`.
    pub kind: PackKind,
    /// `pack.domain`: a short label such as `code` (required for domain packs).
    pub domain: Option<String>,
    /// `pack.description`: one paragraph for search results.
    pub description: Option<String>,
    /// `pack.license`: an SPDX expression.
    pub license: Option<String>,
    /// `pack.base`: the base family a router or domain pack plugs into.
    pub base: Option<PackId>,
    /// `pack.base_compatibility`: base versions `MAJOR.MINOR` the pack was aligned with.
    pub base_compatibility: Vec<BaseCompat>,
    /// `pack.fallback`: packs the runtime tries, in order, when this one cannot load.
    pub fallback: Vec<PackId>,
    /// `pack.readme`: the model card, a file name in the pack directory.
    pub readme: Option<String>,
    /// `[dependencies]`: other packs, with cargo requirement syntax.
    pub dependencies: BTreeMap<PackId, VersionReq>,
    /// `[conflicts]`: packs that must never be installed alongside.
    pub conflicts: BTreeMap<PackId, VersionReq>,
    /// `[model]`: the optional shape of the weights.
    pub model: Option<ModelShape>,
}

impl Manifest {
    /// Parses and validates manifest text; `origin` names the file in errors.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self, ManifestError> {
        parse::parse(text, origin)
    }

    /// Parses manifest bytes (for example an archive entry), refusing non-UTF-8 text.
    pub fn from_toml_bytes(bytes: &[u8], origin: &Path) -> Result<Self, ManifestError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ManifestError {
            path: origin.to_owned(),
            location: None,
            field: None,
            problem: Box::new(ManifestProblem::NotUtf8),
        })?;
        Self::from_toml_str(text, origin)
    }

    /// Reads and validates the manifest file at `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let bytes = std::fs::read(path).map_err(|err| ManifestError {
            path: path.to_owned(),
            location: None,
            field: None,
            problem: Box::new(ManifestProblem::Unreadable(err.to_string())),
        })?;
        Self::from_toml_bytes(&bytes, path)
    }

    /// The manifest in canonical TOML: `[pack]`, then `[dependencies]`, `[conflicts]`,
    /// `[model]` when non-empty.
    pub fn to_toml_string(&self) -> String {
        write::to_toml_string(self)
    }

    /// Whether this pack declares it works with base `version`.
    pub fn supports_base(&self, version: &Version) -> bool {
        self.base_compatibility.iter().any(|c| c.admits(version))
    }
}

/// What role a pack plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PackKind {
    /// A frozen base core (a llama model).
    Base,
    /// The router that picks a domain pack per prompt.
    Router,
    /// A domain pack: adapters plus a mixture-of-experts layer.
    Domain,
}

impl PackKind {
    /// The kind as written in `pack.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Router => "router",
            Self::Domain => "domain",
        }
    }
}

impl fmt::Display for PackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for PackKind {
    type Err = ManifestProblem;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "base" => Ok(Self::Base),
            "router" => Ok(Self::Router),
            "domain" => Ok(Self::Domain),
            other => Err(ManifestProblem::InvalidKind(other.to_owned())),
        }
    }
}

/// One `MAJOR.MINOR` entry of `base_compatibility`: admits base versions
/// `[MAJOR.MINOR.0, MAJOR.(MINOR+1).0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BaseCompat {
    /// The base's major version.
    pub major: u64,
    /// The base's minor version.
    pub minor: u64,
}

impl BaseCompat {
    /// The lowest admitted version, `MAJOR.MINOR.0`.
    pub fn lower(&self) -> Version {
        Version::new(self.major, self.minor, 0)
    }

    /// The first version no longer admitted, `MAJOR.(MINOR+1).0`.
    pub fn upper(&self) -> Version {
        Version::new(self.major, self.minor.saturating_add(1), 0)
    }

    /// Whether base `version` falls in this entry's range (pre-releases excluded).
    pub fn admits(&self, version: &Version) -> bool {
        version.pre.is_empty() && version.major == self.major && version.minor == self.minor
    }
}

impl fmt::Display for BaseCompat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for BaseCompat {
    type Err = ManifestProblem;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ManifestProblem::InvalidBaseCompat(s.escape_debug().to_string());
        let (major, minor) = s.split_once('.').ok_or_else(invalid)?;
        let number = |part: &str| -> Option<u64> {
            let canonical = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            canonical.then(|| part.parse().ok()).flatten()
        };
        Ok(Self {
            major: number(major).ok_or_else(invalid)?,
            minor: number(minor).ok_or_else(invalid)?,
        })
    }
}

#[cfg(test)]
mod tests;
