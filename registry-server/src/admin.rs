//! Administration on the data directory itself (works while a server runs): users,
//! tokens and garbage collection of unreferenced blobs.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};

use crate::auth::{Scope, mint_token};
use crate::db::Db;
use crate::storage::BlobStore;

/// A token as `registry token list` shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The public id, used to revoke it.
    pub id: String,
    /// Its label.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// When it was created.
    pub created_at: String,
    /// When it was last used.
    pub last_used_at: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<String>,
}

/// What `registry gc` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs no version references.
    pub blobs_removed: usize,
    /// Bytes those blobs held.
    pub bytes_freed: u64,
    /// Stale temporary uploads.
    pub uploads_removed: usize,
}

fn check_login(login: &str) -> anyhow::Result<()> {
    let valid = (1..=39).contains(&login.len())
        && login.starts_with(|c: char| c.is_ascii_lowercase())
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "`{login}` is not a valid login: use 1 to 39 lowercase letters, digits, `-` or `_`, starting with a letter"
        );
    }
    Ok(())
}

async fn open(data_dir: &Path) -> anyhow::Result<Db> {
    Db::open(data_dir)
        .await
        .with_context(|| format!("cannot open the registry data in `{}`", data_dir.display()))
}

/// Creates user `login` with a token carrying every scope; returns the token (shown once).
pub async fn create_user(data_dir: &Path, login: &str) -> anyhow::Result<String> {
    check_login(login)?;
    let db = open(data_dir).await?;
    let Some(user_id) = db.insert_user(login).await? else {
        bail!(
            "user `{login}` already exists; create another token with `modularbase registry token create --user {login}`"
        );
    };
    let token = mint_token();
    db.insert_token(
        user_id,
        "initial",
        &token.public_id,
        &token.secret_hash,
        &Scope::ALL,
    )
    .await?;
    db.close().await;
    Ok(token.text)
}

/// Creates a token for `login` with `scopes`; returns it (shown once).
pub async fn create_token(
    data_dir: &Path,
    login: &str,
    name: &str,
    scopes: &[Scope],
) -> anyhow::Result<String> {
    if scopes.is_empty() {
        bail!("a token needs at least one scope");
    }
    let db = open(data_dir).await?;
    let user_id = db.user_id(login).await?.with_context(|| {
        format!("no user `{login}`; add one with `modularbase registry user add {login}`")
    })?;
    let token = mint_token();
    db.insert_token(user_id, name, &token.public_id, &token.secret_hash, scopes)
        .await?;
    db.close().await;
    Ok(token.text)
}

/// The tokens of `login`, newest first.
pub async fn list_tokens(data_dir: &Path, login: &str) -> anyhow::Result<Vec<TokenInfo>> {
    let db = open(data_dir).await?;
    if db.user_id(login).await?.is_none() {
        bail!("no user `{login}`");
    }
    let tokens = db.tokens_of(login).await?;
    db.close().await;
    Ok(tokens)
}

/// Revokes the token whose public id is `id` (the part after `mbr_`, or the whole token).
pub async fn revoke_token(data_dir: &Path, id: &str) -> anyhow::Result<()> {
    let public_id = id
        .strip_prefix("mbr_")
        .map_or(id, |rest| rest.split('_').next().unwrap_or(rest));
    let db = open(data_dir).await?;
    let revoked = db.revoke_token(public_id).await?;
    db.close().await;
    if !revoked {
        bail!(
            "no active token with id `{public_id}`; `modularbase registry token list --user LOGIN` shows the ids"
        );
    }
    Ok(())
}

/// Removes blobs that no version references and temporary uploads, both only when older
/// than `grace` (so a publish in flight, whose blob is written before its row, keeps it).
pub async fn gc(data_dir: &Path, grace: Duration) -> anyhow::Result<GcReport> {
    let db = open(data_dir).await?;
    let store = BlobStore::open(data_dir)?;
    let referenced = db.referenced_cksums().await?;
    db.close().await;
    let now = SystemTime::now();
    let mut report = GcReport::default();
    for (digest, path, modified) in store.list()? {
        let old_enough = now.duration_since(modified).unwrap_or_default() >= grace;
        if old_enough && !referenced.contains(&digest.to_hex()) {
            report.bytes_freed += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove `{}`", path.display()))?;
            report.blobs_removed += 1;
        }
    }
    for path in store.stale_uploads(grace)? {
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot remove `{}`", path.display()))?;
        report.uploads_removed += 1;
    }
    Ok(report)
}
