//! The key files: the online snapshot and timestamp keys in `DATA/metadata/` (mode 0600),
//! and root keys wherever the operator keeps them. A rotation first writes new online keys
//! beside the current ones as `ROLE.key.new`; whichever file holds the key the root in use
//! names is the one that signs, and once that root is committed the new file replaces the
//! old ([`promote_online_keys`]), so a crash at any point leaves a key that matches.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use modularbase_pack::SigningKey;
use modularbase_pack::tuf::{Role, Root};

/// The directory of the online keys (and of generated root keys, on a self-initialised
/// registry), inside the data directory.
const METADATA_DIR: &str = "metadata";
/// Where `registry serve` keeps the root key it generates on a fresh data directory.
const SELF_ROOT_KEYS_DIR: &str = "root-keys";
/// The roles whose keys are online.
const ONLINE_ROLES: [Role; 2] = [Role::Snapshot, Role::Timestamp];

/// The keys that sign the snapshot and the timestamp.
#[derive(Debug)]
pub(crate) struct OnlineKeys {
    /// Signs `snapshot.json`.
    pub(crate) snapshot: SigningKey,
    /// Signs `timestamp.json`.
    pub(crate) timestamp: SigningKey,
}

/// `DATA/metadata`.
pub(crate) fn metadata_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(METADATA_DIR)
}

/// `DATA/metadata/root-keys`, where a self-initialised registry keeps its root key.
pub(crate) fn self_root_keys_dir(data_dir: &Path) -> PathBuf {
    metadata_dir(data_dir).join(SELF_ROOT_KEYS_DIR)
}

/// `DATA/metadata/ROLE.key`.
pub(crate) fn online_key_path(data_dir: &Path, role: Role) -> PathBuf {
    metadata_dir(data_dir).join(format!("{}.key", role.name()))
}

fn pending_path(data_dir: &Path, role: Role) -> PathBuf {
    metadata_dir(data_dir).join(format!("{}.key.new", role.name()))
}

/// Creates `dir` and any missing parents (mode 0700); an existing directory keeps its mode.
fn create_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the key directory `{}`", dir.display()))
}

/// The online keys `root` names, read from `DATA/metadata/` (the current file or a pending
/// one, whichever matches).
pub(crate) fn load_online_keys(data_dir: &Path, root: &Root) -> anyhow::Result<OnlineKeys> {
    let mut found = Vec::new();
    for role in ONLINE_ROLES {
        let wanted = root.role_keys(role);
        let mut matching = None;
        for path in [
            online_key_path(data_dir, role),
            pending_path(data_dir, role),
        ] {
            if !path.exists() {
                continue;
            }
            let key = SigningKey::read(&path)?;
            if wanted.contains(&key.public_key()) {
                matching = Some(key);
                break;
            }
        }
        let Some(key) = matching else {
            bail!(
                "no key file matches the {role} key of root version {} (`{}`)\n\
                 help: restore the online keys from a backup, or make new ones with \
                 `modularbase registry keys rotate --online --key ROOT_KEY_FILE …`",
                root.version,
                online_key_path(data_dir, role).display()
            );
        };
        found.push(key);
    }
    let timestamp = found.pop();
    let snapshot = found.pop();
    match (snapshot, timestamp) {
        (Some(snapshot), Some(timestamp)) => Ok(OnlineKeys {
            snapshot,
            timestamp,
        }),
        _ => bail!("internal error: online keys not loaded"),
    }
}

/// Replaces each online key file by its pending one when `root` (committed) names the
/// pending key: the last step of a rotation, repeated by every refresh until done.
pub(crate) fn promote_online_keys(data_dir: &Path, root: &Root) -> anyhow::Result<()> {
    for role in ONLINE_ROLES {
        let pending = pending_path(data_dir, role);
        if !pending.exists() {
            continue;
        }
        let key = SigningKey::read(&pending)?;
        if root.role_keys(role).contains(&key.public_key()) {
            let current = online_key_path(data_dir, role);
            std::fs::rename(&pending, &current).with_context(|| {
                format!(
                    "cannot move `{}` to `{}`",
                    pending.display(),
                    current.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Writes fresh snapshot and timestamp keys as pending files (replacing pending files no
/// committed root names; call [`promote_online_keys`] first).
pub(crate) fn stage_online_keys(data_dir: &Path) -> anyhow::Result<OnlineKeys> {
    create_dir(&metadata_dir(data_dir))?;
    let mut keys = Vec::new();
    for role in ONLINE_ROLES {
        let path = pending_path(data_dir, role);
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| {
                format!("cannot remove the unused pending key `{}`", path.display())
            })?;
        }
        let key = SigningKey::generate();
        key.write_new(&path)?;
        keys.push(key);
    }
    let timestamp = keys.pop();
    let snapshot = keys.pop();
    match (snapshot, timestamp) {
        (Some(snapshot), Some(timestamp)) => Ok(OnlineKeys {
            snapshot,
            timestamp,
        }),
        _ => bail!("internal error: online keys not generated"),
    }
}

/// Generates `count` root keys as `DIR/PREFIX1.key`, `DIR/PREFIX2.key`, … (mode 0600),
/// refusing before writing any if one of those files exists.
pub(crate) fn write_root_keys(
    dir: &Path,
    prefix: &str,
    count: u32,
) -> anyhow::Result<Vec<(PathBuf, SigningKey)>> {
    let paths: Vec<PathBuf> = (1..=count)
        .map(|i| dir.join(format!("{prefix}{i}.key")))
        .collect();
    if let Some(existing) = paths.iter().find(|p| p.exists()) {
        bail!(
            "root key file `{}` already exists; nothing was written\n\
             help: choose another directory with `--out DIR`, or move the old keys away",
            existing.display()
        );
    }
    create_dir(dir)?;
    let mut written = Vec::new();
    for path in paths {
        let key = SigningKey::generate();
        key.write_new(&path)?;
        written.push((path, key));
    }
    Ok(written)
}
