//! What the home's TOML files hold: settings, tokens, requests, the lock and trusted keys.

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use modularbase_pack::{PackId, PackKind, PublicKey, Sha256Digest};
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

/// `config.toml`: user settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The registry used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_registry: Option<String>,
    /// Network bounds.
    #[serde(default, skip_serializing_if = "NetConfig::is_unset")]
    pub net: NetConfig,
}

/// `[net]` in `config.toml`: how long and how often to try the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetConfig {
    /// Seconds to wait for any answer or any read of a body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Seconds to wait for a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u64>,
    /// Retries of an idempotent request after a connection error, 5xx or 429.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Follow redirects to another origin (off: only the registry's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_origin_redirects: Option<bool>,
}

/// The keys `modularbase config` knows.
pub const CONFIG_KEYS: [&str; 5] = [
    "registry",
    "net.timeout",
    "net.connect-timeout",
    "net.retries",
    "net.cross-origin-redirects",
];

impl Config {
    /// The value of `key`, as text (`None` when unset).
    pub fn get(&self, key: &str) -> anyhow::Result<Option<String>> {
        let net = &self.net;
        Ok(match key {
            "registry" => self.default_registry.clone(),
            "net.timeout" => net.timeout.map(|v| v.to_string()),
            "net.connect-timeout" => net.connect_timeout.map(|v| v.to_string()),
            "net.retries" => net.retries.map(|v| v.to_string()),
            "net.cross-origin-redirects" => net.cross_origin_redirects.map(|v| v.to_string()),
            other => anyhow::bail!(unknown_key(other)),
        })
    }

    /// Sets `key` from text (`None` unsets it), checking the value.
    pub fn set(&mut self, key: &str, value: Option<&str>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(
            key: &str,
            value: Option<&str>,
        ) -> anyhow::Result<Option<T>> {
            value
                .map(|v| {
                    v.trim()
                        .parse::<T>()
                        .map_err(|_| anyhow::anyhow!("`{v}` is not a valid value for `{key}`"))
                })
                .transpose()
        }
        match key {
            "registry" => {
                self.default_registry = value.map(super::normalise_url).transpose()?;
            }
            "net.timeout" => self.net.timeout = parse::<NonZeroU64>(key, value)?.map(u64::from),
            "net.connect-timeout" => {
                self.net.connect_timeout = parse::<NonZeroU64>(key, value)?.map(u64::from);
            }
            "net.retries" => self.net.retries = parse(key, value)?,
            "net.cross-origin-redirects" => self.net.cross_origin_redirects = parse(key, value)?,
            other => anyhow::bail!(unknown_key(other)),
        }
        Ok(())
    }
}

fn unknown_key(key: &str) -> String {
    format!(
        "`{key}` is not a setting; the settings are {}",
        CONFIG_KEYS.join(", ")
    )
}

impl NetConfig {
    fn is_unset(&self) -> bool {
        *self == Self::default()
    }
}

/// `credentials.toml`: one token per registry URL (mode 0600).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Tokens by registry URL.
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryCredential>,
}

/// The token for one registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryCredential {
    /// The API token.
    pub token: String,
}

/// `modularbase.toml`: what the user asked for, pack id → requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    /// Requirements by pack.
    #[serde(default)]
    pub packs: BTreeMap<PackId, VersionReq>,
}

/// `modularbase.lock`: what is installed, with checksums, keys and where each came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// One entry per installed pack.
    #[serde(default, rename = "pack")]
    pub packs: Vec<LockedPack>,
}

/// One installed pack. Kind, base, dependencies and size come from the verified archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPack {
    /// Its id.
    pub id: PackId,
    /// Its version.
    pub version: Version,
    /// base, router or domain.
    pub kind: PackKind,
    /// The base family it runs on (router and domain packs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PackId>,
    /// The packs it needs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<PackId, VersionReq>,
    /// SHA-256 of its archive.
    pub cksum: Sha256Digest,
    /// The key that signed it; `None` for a local archive installed with
    /// `--allow-unsigned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PublicKey>,
    /// Archive size in bytes.
    pub size: u64,
    /// Digest of the unpacked files ([`modularbase_pack::tree_digest`]); locks written
    /// before it was recorded lack it, and their directories are reinstalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Sha256Digest>,
    /// The registry it was installed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The archive file it was installed from (`file:///…`), for a local archive; such a
    /// pack stays at its version until it is removed or another archive replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Lock {
    /// The entry for `id`, if locked.
    pub fn get(&self, id: &PackId) -> Option<&LockedPack> {
        self.packs.iter().find(|p| p.id == *id)
    }

    /// The versions the lock holds, by pack.
    pub fn versions(&self) -> BTreeMap<PackId, Version> {
        self.packs
            .iter()
            .map(|p| (p.id.clone(), p.version.clone()))
            .collect()
    }

    /// The registry every entry came from, when they agree on one.
    pub fn registry(&self) -> Option<&str> {
        let mut urls = self.packs.iter().filter_map(|p| p.registry.as_deref());
        let first = urls.next()?;
        urls.all(|u| u == first).then_some(first)
    }
}

/// `trusted-keys.toml`: the key first seen for each pack from a registry without signed
/// metadata (trust on first use), and the owners' keys last seen for each pack from one
/// with it (so a change of owners is reported once).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKeys {
    /// The pinned key of each pack.
    #[serde(default)]
    pub keys: BTreeMap<PackId, PublicKey>,
    /// The keys of each pack's owners, as the registry's signed snapshot listed them at the
    /// last install.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<PackId, Vec<PublicKey>>,
}
