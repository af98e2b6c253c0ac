//! Detached signatures beside archives: `ID-VERSION.mbpack.sig` holds the publish metadata
//! (id, version, checksum, signature, key) as JSON, so `inspect` can check an archive and
//! `publish` can send exactly what was signed.

use std::path::{Path, PathBuf};

use anyhow::Context;
use modularbase_pack::{ArchiveContents, PublishMetadata, Sha256Digest, SigningKey};

use super::BuiltArchive;
use crate::home::Home;

/// Where the signature of `archive` lives.
pub fn signature_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Reads the signing key `name` from the home's `keys/`; `None` when there is no such key.
pub fn signing_key(home: &Home, name: &str) -> anyhow::Result<Option<SigningKey>> {
    let path = home.private_key_path(name);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(SigningKey::read(&path)?))
}

/// Signs a built archive and writes its `.sig` file.
pub fn sign_archive(built: &BuiltArchive, key: &SigningKey) -> anyhow::Result<PublishMetadata> {
    let m = &built.contents.manifest;
    let metadata = PublishMetadata {
        id: m.id.clone(),
        vers: m.version.clone(),
        cksum: built.cksum,
        sig: key.sign_pack(&m.id, &m.version, &built.cksum),
        key: key.public_key(),
    };
    let path = signature_path(&built.path);
    let text = serde_json::to_string_pretty(&metadata).context("cannot serialise the signature")?;
    std::fs::write(&path, format!("{text}\n"))
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(metadata)
}

/// What `inspect` can say about an archive's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// No `.sig` beside the archive.
    Missing,
    /// The signature matches the archive and verifies; the key's fingerprint.
    Valid(String),
    /// The `.sig` does not match or does not verify: why.
    Invalid(String),
}

/// Checks the `.sig` beside `archive` against its contents and checksum.
pub fn check_signature(
    archive: &Path,
    contents: &ArchiveContents,
    cksum: &Sha256Digest,
) -> SignatureStatus {
    let path = signature_path(archive);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return SignatureStatus::Missing;
    };
    let metadata: PublishMetadata = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            return SignatureStatus::Invalid(format!(
                "`{}` is not a signature file: {e}",
                path.display()
            ));
        }
    };
    let m = &contents.manifest;
    if metadata.id != m.id || metadata.vers != m.version {
        return SignatureStatus::Invalid(format!(
            "it signs {}@{}, the archive holds {}@{}",
            metadata.id, metadata.vers, m.id, m.version
        ));
    }
    if metadata.cksum != *cksum {
        return SignatureStatus::Invalid(format!(
            "it signs checksum {}, the archive's is {cksum}",
            metadata.cksum
        ));
    }
    match metadata
        .key
        .verify_pack(&m.id, &m.version, cksum, &metadata.sig)
    {
        Ok(()) => SignatureStatus::Valid(metadata.key.fingerprint()),
        Err(e) => SignatureStatus::Invalid(e.to_string()),
    }
}
