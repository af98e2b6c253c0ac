//! Archives on disk as `pack build` leaves them: `ID-VERSION.mbpack` with its `.sig`
//! beside it, for `pack install ./FILE`.

use std::path::{Path, PathBuf};

use modularbase_pack::{PublishMetadata, Sha256Digest, SigningKey};

use crate::Pack;

/// The `.sig` text `pack build` writes for `id@version` with archive checksum `cksum`,
/// signed by `key`.
pub fn signature_json(id: &str, version: &str, cksum: &Sha256Digest, key: &SigningKey) -> String {
    let (id, vers) = (id.parse().unwrap(), version.parse().unwrap());
    let metadata = PublishMetadata {
        sig: key.sign_pack(&id, &vers, cksum),
        id,
        vers,
        cksum: *cksum,
        key: key.public_key(),
    };
    format!("{}\n", serde_json::to_string_pretty(&metadata).unwrap())
}

/// Writes `bytes` as `dir/ID-VERSION.mbpack`, with a `.sig` by `key` beside it when one is
/// given; returns the archive's path.
pub fn write_local_archive(
    dir: &Path,
    id: &str,
    version: &str,
    bytes: &[u8],
    key: Option<&SigningKey>,
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{id}-{version}.mbpack"));
    std::fs::write(&path, bytes).unwrap();
    let sig = sig_path(&path);
    let _ = std::fs::remove_file(&sig);
    if let Some(key) = key {
        let cksum = Sha256Digest::of(bytes);
        std::fs::write(&sig, signature_json(id, version, &cksum, key)).unwrap();
    }
    path
}

/// Where the `.sig` of `archive` lives.
pub fn sig_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

impl Pack {
    /// Builds the pack into `dir/ID-VERSION.mbpack`, signed by `key` when one is given;
    /// returns the archive's path.
    pub fn local_archive(&self, dir: &Path, key: Option<&SigningKey>) -> PathBuf {
        write_local_archive(dir, &self.id, &self.version, &self.archive(), key)
    }
}
