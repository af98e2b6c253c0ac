//! The user's ModularBase home (DESIGN §4): `$MODULARBASE_HOME`, by default `~/.modularbase`,
//! holding `config.toml`, `credentials.toml` (tokens, mode 0600), `keys/`, and later the
//! installed packs, the lock and the archive cache.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// Where the home is, and the files in it.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    /// Whether `MODULARBASE_REGISTRY` / `MODULARBASE_TOKEN` may override this home's files.
    environment: bool,
}

/// `config.toml`: user settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The registry used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_registry: Option<String>,
}

/// `credentials.toml`: one token per registry URL (mode 0600).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Tokens by registry URL.
    #[serde(default)]
    pub registries: std::collections::BTreeMap<String, RegistryCredential>,
}

/// The token for one registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryCredential {
    /// The API token.
    pub token: String,
}

impl Home {
    /// `$MODULARBASE_HOME`, else `$HOME/.modularbase`.
    pub fn locate() -> anyhow::Result<Self> {
        if let Some(dir) = std::env::var_os("MODULARBASE_HOME").filter(|d| !d.is_empty()) {
            return Ok(Self::at(dir));
        }
        let home = std::env::var_os("HOME").filter(|d| !d.is_empty()).context(
            "cannot find the ModularBase home: neither MODULARBASE_HOME nor HOME is set",
        )?;
        Ok(Self::at(PathBuf::from(home).join(".modularbase")))
    }

    /// The home at `root`, whatever the environment says (the demo's temporary home).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            environment: true,
        }
    }

    /// A home whose registry and token come from its own files only, whatever the user's
    /// environment says (the demo's temporary home talks to its own registry).
    pub fn sealed(root: impl Into<PathBuf>) -> Self {
        Self {
            environment: false,
            ..Self::at(root)
        }
    }

    /// The home directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `keys/`: the user's signing keys.
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// Creates `dir` (inside the home) if needed.
    pub fn ensure_dir(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))
    }

    fn read_toml<T: for<'de> Deserialize<'de> + Default>(&self, name: &str) -> anyhow::Result<T> {
        let path = self.root.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("`{}` is not valid", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        }
    }

    /// Replaces `name` atomically with `value` as TOML; the file is created 0600.
    fn write_toml<T: Serialize>(&self, name: &str, value: &T) -> anyhow::Result<()> {
        self.ensure_dir(&self.root)?;
        let path = self.root.join(name);
        let text = toml::to_string(value).context("cannot serialise the settings")?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.root)
            .with_context(|| format!("cannot write in `{}`", self.root.display()))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(())
    }

    /// The user's settings (defaults when there is no `config.toml`).
    pub fn config(&self) -> anyhow::Result<Config> {
        self.read_toml("config.toml")
    }

    /// Saves the settings.
    pub fn save_config(&self, config: &Config) -> anyhow::Result<()> {
        self.write_toml("config.toml", config)
    }

    /// The stored tokens.
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        self.read_toml("credentials.toml")
    }

    /// Saves the tokens (mode 0600: only the user can read them).
    pub fn save_credentials(&self, credentials: &Credentials) -> anyhow::Result<()> {
        self.write_toml("credentials.toml", credentials)
    }

    /// The registry to talk to and its token: `--registry`, else `MODULARBASE_REGISTRY`, else
    /// the configured default; the token from `MODULARBASE_TOKEN`, else `credentials.toml`.
    pub fn registry(&self, flag: Option<&str>) -> anyhow::Result<(String, Option<String>)> {
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| self.environment && !v.is_empty())
        };
        let from_env = env("MODULARBASE_REGISTRY");
        let url = match flag
            .map(str::to_owned)
            .or(from_env)
            .or(self.config()?.default_registry)
        {
            Some(url) => normalise_url(&url)?,
            None => bail!(
                "no registry given: pass `--registry URL`, set MODULARBASE_REGISTRY, or `modularbase login --registry URL` once"
            ),
        };
        let token = match env("MODULARBASE_TOKEN") {
            Some(token) => Some(token),
            None => self
                .credentials()?
                .registries
                .get(&url)
                .map(|c| c.token.clone()),
        };
        Ok((url, token))
    }
}

/// `http(s)://host[:port][/path]` without a trailing slash.
pub(crate) fn normalise_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        bail!("`{url}` is not a registry URL; it starts with http:// or https://");
    }
    Ok(url.to_owned())
}
