//! `registry keys init`, `registry keys rotate`, and the first root `registry serve` makes
//! on a data directory that has none. Each builds the next root, checks it as a client
//! would (`TrustedMetadata`) before anything is committed, and commits it with a snapshot
//! and timestamp signed under it in one transaction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use modularbase_pack::tuf::{
    ROOT_FILE, Received, Role, RoleSpec, Root, TrustedMetadata, document_bytes, sign_document,
};
use modularbase_pack::{PublicKey, SigningKey};

use super::keys::{
    load_online_keys, online_key_path, promote_online_keys, self_root_keys_dir, stage_online_keys,
    write_root_keys,
};
use super::refresh::NewRoot;
use super::{DEFAULT_ROOT_EXPIRY, Lifetimes, Metadata};
use crate::db::Db;

/// Most root keys one root may name.
const MAX_ROOT_KEYS: u32 = 32;

/// What `registry keys init` makes.
#[derive(Debug, Clone)]
pub(crate) struct InitOptions {
    /// How many root keys to generate.
    pub(crate) root_keys: u32,
    /// How many of them must sign a root.
    pub(crate) threshold: u32,
    /// Where the root key files go (kept by the operator, offline).
    pub(crate) out: PathBuf,
    /// How long root version 1 is valid.
    pub(crate) expires: Duration,
}

/// What `registry keys rotate` changes.
#[derive(Debug, Clone)]
pub(crate) struct RotateOptions {
    /// Root key files of the current root that sign the next one.
    pub(crate) keys: Vec<PathBuf>,
    /// Generate this many new root keys to replace the current ones.
    pub(crate) new_root_keys: Option<u32>,
    /// The next root's root threshold (default: the current one, at most the key count).
    pub(crate) threshold: Option<u32>,
    /// Where new root key files go.
    pub(crate) out: PathBuf,
    /// Replace the online snapshot and timestamp keys too.
    pub(crate) online: bool,
    /// How long the next root is valid.
    pub(crate) expires: Duration,
}

async fn open(data_dir: &Path) -> anyhow::Result<Metadata> {
    let db = Db::open(data_dir)
        .await
        .with_context(|| format!("cannot open the registry data in `{}`", data_dir.display()))?;
    Ok(Metadata::new(db, data_dir, Lifetimes::default()))
}

fn check_threshold(threshold: u32, keys: u32) -> anyhow::Result<()> {
    if keys == 0 || keys > MAX_ROOT_KEYS {
        bail!("a root needs 1 to {MAX_ROOT_KEYS} root keys, not {keys}");
    }
    if threshold == 0 || threshold > keys {
        bail!(
            "the threshold must be between 1 and the number of root keys ({keys}), not {threshold}"
        );
    }
    Ok(())
}

/// `registry keys init`: root keys in `options.out`, online keys in the data directory,
/// and root version 1 signed by every root key. Returns what to print.
pub(crate) async fn init_keys(
    data_dir: &Path,
    options: &InitOptions,
) -> anyhow::Result<Vec<String>> {
    check_threshold(options.threshold, options.root_keys)?;
    let metadata = open(data_dir).await?;
    let result = async {
        if let Some(version) = metadata.newest_root_version().await? {
            bail!(
                "the registry in `{}` already has root version {version}; nothing was written\n\
                 help: to change its keys or renew it, run `modularbase registry keys rotate --key ROOT_KEY_FILE … --data {}`",
                data_dir.display(),
                data_dir.display()
            );
        }
        let root_keys = write_root_keys(&options.out, "root-", options.root_keys)?;
        first_root(&metadata, &root_keys, options.threshold, options.expires).await
    }
    .await;
    metadata.db.close().await;
    result
}

/// Gives a data directory without a root one, with a single root key kept inside it (for
/// a self-host that starts with one command); logs how to move it offline. Returns
/// whether it did.
pub(crate) async fn ensure_root(metadata: &Metadata) -> anyhow::Result<bool> {
    if metadata.newest_root_version().await?.is_some() {
        return Ok(false);
    }
    let dir = self_root_keys_dir(&metadata.data_dir);
    let path = dir.join("root-1.key");
    // A previous start may have died between writing the key and committing the root.
    let root_keys = if path.exists() {
        vec![(path.clone(), SigningKey::read(&path)?)]
    } else {
        write_root_keys(&dir, "root-", 1)?
    };
    first_root(metadata, &root_keys, 1, DEFAULT_ROOT_EXPIRY).await?;
    tracing::warn!(
        "this registry had no signing keys: generated its root key at `{path}`, inside the data directory. \
         Anyone who can read the data directory can sign a new root; move the root offline with \
         `modularbase registry keys rotate --key {path} --new-root-keys 3 --threshold 2 --out DIR --data {data}`, \
         keep DIR offline, then delete `{path}`",
        path = path.display(),
        data = metadata.data_dir.display(),
    );
    Ok(true)
}

fn roles(
    root_keys: Vec<PublicKey>,
    threshold: u32,
    snapshot: PublicKey,
    timestamp: PublicKey,
) -> BTreeMap<Role, RoleSpec> {
    BTreeMap::from([
        (
            Role::Root,
            RoleSpec {
                keys: root_keys,
                threshold,
            },
        ),
        (
            Role::Snapshot,
            RoleSpec {
                keys: vec![snapshot],
                threshold: 1,
            },
        ),
        (
            Role::Timestamp,
            RoleSpec {
                keys: vec![timestamp],
                threshold: 1,
            },
        ),
    ])
}

async fn first_root(
    metadata: &Metadata,
    root_keys: &[(PathBuf, SigningKey)],
    threshold: u32,
    expires: Duration,
) -> anyhow::Result<Vec<String>> {
    let online = stage_online_keys(&metadata.data_dir)?;
    let public: Vec<PublicKey> = root_keys.iter().map(|(_, k)| k.public_key()).collect();
    let root = Root::new(
        1,
        SystemTime::now() + expires,
        &roles(
            public,
            threshold,
            online.snapshot.public_key(),
            online.timestamp.public_key(),
        ),
    );
    let signers: Vec<&SigningKey> = root_keys.iter().map(|(_, k)| k).collect();
    let bytes = document_bytes(&sign_document(root.clone(), &signers));
    TrustedMetadata::from_root(&bytes).context("internal error: root version 1 does not verify")?;
    let lines = report(&metadata.data_dir, &root, signers.len(), root_keys);
    metadata.refresh_with(Some(NewRoot { root, bytes })).await?;
    Ok(lines)
}

/// `registry keys rotate`: root version N+1, signed by the `--key` files (at least the
/// current root threshold of them) and by its own threshold. Returns what to print.
pub(crate) async fn rotate_keys(
    data_dir: &Path,
    options: &RotateOptions,
) -> anyhow::Result<Vec<String>> {
    let metadata = open(data_dir).await?;
    let result = rotate_open(&metadata, options).await;
    metadata.db.close().await;
    result
}

async fn rotate_open(metadata: &Metadata, options: &RotateOptions) -> anyhow::Result<Vec<String>> {
    let data_dir = &metadata.data_dir;
    let Some((version, current_bytes)) = metadata.db.newest_root().await? else {
        bail!(
            "the registry in `{}` has no root yet; nothing was written\n\
             help: create one with `modularbase registry keys init --data {}`",
            data_dir.display(),
            data_dir.display()
        );
    };
    let current = Received::<Root>::parse(ROOT_FILE, &current_bytes)
        .context("the stored root does not parse")?
        .signed;
    let current_keys = current.role_keys(Role::Root);
    let current_threshold = current
        .roles
        .get(Role::Root.name())
        .map_or(1, |r| r.threshold);

    let mut signers: Vec<(PathBuf, SigningKey)> = Vec::new();
    for path in &options.keys {
        let key = SigningKey::read(path)?;
        if !signers
            .iter()
            .any(|(_, k)| k.public_key() == key.public_key())
        {
            signers.push((path.clone(), key));
        }
    }
    let held = signers
        .iter()
        .filter(|(_, k)| current_keys.contains(&k.public_key()))
        .count();
    let held = u32::try_from(held).unwrap_or(u32::MAX);
    if held < current_threshold {
        let strangers: Vec<String> = signers
            .iter()
            .filter(|(_, k)| !current_keys.contains(&k.public_key()))
            .map(|(p, _)| format!("`{}`", p.display()))
            .collect();
        let note = if strangers.is_empty() {
            String::new()
        } else {
            format!(
                " ({} not a root key of version {version})",
                strangers.join(", ")
            )
        };
        bail!(
            "root version {version} needs {current_threshold} of its {} root keys to sign version {}; \
             the `--key` files given hold {held}{note}; nothing was written\n\
             help: pass {} more root key file(s) with `--key FILE`",
            current_keys.len(),
            version + 1,
            current_threshold - held
        );
    }

    let next = version + 1;
    let (root_public, threshold, generated) = match options.new_root_keys {
        Some(count) => {
            let threshold = options.threshold.unwrap_or(current_threshold.min(count));
            check_threshold(threshold, count)?;
            let generated = write_root_keys(&options.out, &format!("root-v{next}-"), count)?;
            let public = generated.iter().map(|(_, k)| k.public_key()).collect();
            (public, threshold, generated)
        }
        None => {
            let count = u32::try_from(current_keys.len()).unwrap_or(u32::MAX);
            let threshold = options.threshold.unwrap_or(current_threshold);
            check_threshold(threshold, count)?;
            if held < threshold {
                bail!(
                    "version {next} would need {threshold} of its root keys to sign it; the `--key` files \
                     given hold {held}; nothing was written\nhelp: pass more root key files with `--key FILE`"
                );
            }
            (current_keys.clone(), threshold, Vec::new())
        }
    };

    let (snapshot_key, timestamp_key) = if options.online {
        promote_online_keys(data_dir, &current)?;
        let staged = stage_online_keys(data_dir)?;
        (staged.snapshot.public_key(), staged.timestamp.public_key())
    } else {
        let online = load_online_keys(data_dir, &current)?;
        (online.snapshot.public_key(), online.timestamp.public_key())
    };
    let root = Root::new(
        next,
        SystemTime::now() + options.expires,
        &roles(root_public.clone(), threshold, snapshot_key, timestamp_key),
    );
    let signing: Vec<&SigningKey> = signers
        .iter()
        .chain(generated.iter())
        .filter(|(_, k)| {
            current_keys.contains(&k.public_key()) || root_public.contains(&k.public_key())
        })
        .map(|(_, k)| k)
        .collect();
    let bytes = document_bytes(&sign_document(root.clone(), &signing));
    let mut trusted = TrustedMetadata::from_root(&current_bytes)?;
    trusted
        .update_root(&bytes)
        .with_context(|| format!("root version {next} would not verify; nothing was committed"))?;
    let signatures = signing.len();
    let mut known: Vec<(PathBuf, SigningKey)> = signers;
    known.extend(generated);
    let mut lines = report(data_dir, &root, signatures, &known);
    if options.new_root_keys.is_some() {
        lines.push(format!(
            "new root keys are in `{}`: keep them offline; the old root keys sign nothing from version {next} on",
            options.out.display()
        ));
    }
    metadata.refresh_with(Some(NewRoot { root, bytes })).await?;
    Ok(lines)
}

/// What `keys init` and `keys rotate` print: the root written, its keys with the files
/// known to hold them, and where the online keys are.
fn report(
    data_dir: &Path,
    root: &Root,
    signatures: usize,
    files: &[(PathBuf, SigningKey)],
) -> Vec<String> {
    let root_keys = root.role_keys(Role::Root);
    let threshold = root.roles.get(Role::Root.name()).map_or(1, |r| r.threshold);
    let mut lines = vec![
        format!(
            "wrote root version {} (expires {}), signed by {signatures} key(s)",
            root.version, root.expires
        ),
        format!(
            "root keys ({threshold} of {} must sign the next root):",
            root_keys.len()
        ),
    ];
    for key in &root_keys {
        let file = files
            .iter()
            .find(|(_, k)| k.public_key() == *key)
            .map_or_else(String::new, |(p, _)| format!("  `{}`", p.display()));
        lines.push(format!("  {}{file}", key.fingerprint()));
    }
    for role in [Role::Snapshot, Role::Timestamp] {
        for key in root.role_keys(role) {
            lines.push(format!(
                "{role} key: {}  `{}`",
                key.fingerprint(),
                online_key_path(data_dir, role).display()
            ));
        }
    }
    lines
}
