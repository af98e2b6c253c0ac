//! Ed25519 publisher keys, key files and pack signatures (DESIGN §2).
//!
//! A publisher signs the statement `modularbase-pack-v1\n{id}\n{version}\n{cksum}`; the
//! registry and the CLI verify it against the publisher's public key. Public keys travel as
//! `ed25519:BASE64`, signatures as plain base64 of the 64 signature bytes.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer;

use crate::{PackId, Sha256Digest};

/// Prefix of public keys in text form.
const PUBLIC_PREFIX: &str = "ed25519:";
/// Prefix of private key files.
const SECRET_PREFIX: &str = "ed25519-secret:";
/// The signed statement's first line; bump it if the statement ever changes.
const STATEMENT_TAG: &str = "modularbase-pack-v1";

/// The exact text a publisher signs for `id@version` with archive checksum `cksum`.
pub fn signed_statement(id: &PackId, version: &semver::Version, cksum: &Sha256Digest) -> String {
    format!("{STATEMENT_TAG}\n{id}\n{version}\n{cksum}")
}

/// A publisher's private key.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A publisher's public key, `ed25519:BASE64` in text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

/// A detached signature over a pack statement, base64 in text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PackSignature(ed25519_dalek::Signature);

/// A key or signature that failed to parse or to verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Public key text that is not `ed25519:` + base64 of 32 bytes of a valid point.
    #[error(
        "`{0}` is not an Ed25519 public key (expected `ed25519:` followed by base64 of 32 bytes)"
    )]
    MalformedPublicKey(String),
    /// Signature text that is not base64 of 64 bytes.
    #[error("`{0}` is not an Ed25519 signature (expected base64 of 64 bytes)")]
    MalformedSignature(String),
    /// The signature does not match the statement and key.
    #[error("the signature of `{id}@{version}` does not verify against key {fingerprint}")]
    BadSignature {
        /// The pack.
        id: String,
        /// Its version.
        version: String,
        /// The key's fingerprint.
        fingerprint: String,
    },
}

/// A key file that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("cannot {action} key file `{path}`: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Refused to replace an existing key.
    #[error(
        "key file `{0}` already exists; remove it first if you really mean to replace that key"
    )]
    Exists(PathBuf),
    /// The file is not a ModularBase private key.
    #[error(
        "`{0}` is not a ModularBase private key file (expected one line `ed25519-secret:BASE64`)"
    )]
    Malformed(PathBuf),
    /// Others can read the private key.
    #[error(
        "private key `{path}` is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl SigningKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand::rng()))
    }

    /// A key from a 32-byte seed (deterministic; for tests and fixtures).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs the statement for `id@version` with archive checksum `cksum`.
    pub fn sign_pack(
        &self,
        id: &PackId,
        version: &semver::Version,
        cksum: &Sha256Digest,
    ) -> PackSignature {
        PackSignature(self.0.sign(signed_statement(id, version, cksum).as_bytes()))
    }

    /// Signs arbitrary bytes (metadata documents' canonical JSON).
    pub(crate) fn sign_bytes(&self, bytes: &[u8]) -> [u8; 64] {
        self.0.sign(bytes).to_bytes()
    }

    /// Writes the private key to `path` with mode 0600, never replacing an existing file.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyFileError> {
        let io = |source| KeyFileError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // NamedTempFile is created 0600 and persisted without clobbering: the key is never
        // visible half written or with looser permissions.
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let line = format!("{SECRET_PREFIX}{}\n", B64.encode(self.0.to_bytes()));
        tmp.write_all(line.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists(path.to_owned())
            } else {
                io(e.error)
            }
        })?;
        Ok(())
    }

    /// Reads a private key file, refusing one that other users can read.
    pub fn read(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyFileError::TooOpen {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let text = fs::read_to_string(path).map_err(io)?;
        let malformed = || KeyFileError::Malformed(path.to_owned());
        let encoded = text
            .trim_end()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(malformed)?;
        let seed: [u8; 32] = B64
            .decode(encoded)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(malformed)?;
        Ok(Self::from_seed(seed))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public_key().fingerprint())
    }
}

impl PublicKey {
    /// A short fingerprint for display: the first 8 bytes of the key's SHA-256 in hex,
    /// grouped in fours (`3f2a:9c1e:5b7d:0a44`).
    pub fn fingerprint(&self) -> String {
        let digest = Sha256Digest::of(self.0.as_bytes()).to_hex();
        digest.as_bytes()[..16]
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The 32 key bytes.
    pub(crate) fn to_bytes(self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key of 32 bytes, `None` when they are not a valid point.
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .ok()
            .map(Self)
    }

    /// Whether `signature` is this key's over `bytes` (strict verification).
    pub(crate) fn verify_bytes(&self, bytes: &[u8], signature: &[u8; 64]) -> bool {
        self.0
            .verify_strict(bytes, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }

    /// Checks `signature` over the statement for `id@version` with checksum `cksum`.
    pub fn verify_pack(
        &self,
        id: &PackId,
        version: &semver::Version,
        cksum: &Sha256Digest,
        signature: &PackSignature,
    ) -> Result<(), SignatureError> {
        self.0
            .verify_strict(
                signed_statement(id, version, cksum).as_bytes(),
                &signature.0,
            )
            .map_err(|_| SignatureError::BadSignature {
                id: id.to_string(),
                version: version.to_string(),
                fingerprint: self.fingerprint(),
            })
    }

    /// Writes `ed25519:BASE64` and a newline to `path` (public keys may be replaced).
    pub fn write(&self, path: &Path) -> Result<(), KeyFileError> {
        fs::write(path, format!("{self}\n")).map_err(|source| KeyFileError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", B64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = SignatureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || SignatureError::MalformedPublicKey(s.escape_debug().to_string());
        let bytes: [u8; 32] = s
            .strip_prefix(PUBLIC_PREFIX)
            .and_then(|b| B64.decode(b.trim()).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(malformed)?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| malformed())
    }
}

impl fmt::Display for PackSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0.to_bytes()))
    }
}

impl fmt::Debug for PackSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PackSignature({self})")
    }
}

impl FromStr for PackSignature {
    type Err = SignatureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes: [u8; 64] = B64
            .decode(s.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SignatureError::MalformedSignature(s.escape_debug().to_string()))?;
        Ok(Self(ed25519_dalek::Signature::from_bytes(&bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> (PackId, semver::Version, Sha256Digest) {
        (
            PackId::new("python_code").unwrap(),
            "1.0.0".parse().unwrap(),
            Sha256Digest::of(b"archive"),
        )
    }

    #[test]
    fn statement_is_the_documented_text() {
        let (id, version, cksum) = pack();
        assert_eq!(
            signed_statement(&id, &version, &cksum),
            format!("modularbase-pack-v1\npython_code\n1.0.0\n{cksum}")
        );
    }

    #[test]
    fn signature_verifies_only_for_the_signed_statement_and_key() {
        let (id, version, cksum) = pack();
        let key = SigningKey::generate();
        let sig = key.sign_pack(&id, &version, &cksum);
        key.public_key()
            .verify_pack(&id, &version, &cksum, &sig)
            .unwrap();

        let other_version: semver::Version = "1.0.1".parse().unwrap();
        let other_cksum = Sha256Digest::of(b"tampered");
        let other_id = PackId::new("reasoning").unwrap();
        let stranger = SigningKey::generate().public_key();
        for result in [
            key.public_key()
                .verify_pack(&id, &other_version, &cksum, &sig),
            key.public_key()
                .verify_pack(&id, &version, &other_cksum, &sig),
            key.public_key()
                .verify_pack(&other_id, &version, &cksum, &sig),
            stranger.verify_pack(&id, &version, &cksum, &sig),
        ] {
            assert!(
                matches!(result, Err(SignatureError::BadSignature { .. })),
                "{result:?}"
            );
        }
    }

    #[test]
    fn text_forms_round_trip_and_refuse_garbage() {
        let (id, version, cksum) = pack();
        let key = SigningKey::from_seed([7; 32]);
        let public = key.public_key();
        let text = public.to_string();
        assert!(text.starts_with("ed25519:"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), public);
        let sig = key.sign_pack(&id, &version, &cksum);
        assert_eq!(sig.to_string().parse::<PackSignature>().unwrap(), sig);

        for bad in ["", "ed25519:", "rsa:AAAA", "ed25519:!!!", "ed25519:AAAA"] {
            assert!(
                matches!(
                    bad.parse::<PublicKey>(),
                    Err(SignatureError::MalformedPublicKey(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            "AAAA".parse::<PackSignature>(),
            Err(SignatureError::MalformedSignature(_))
        ));
        let fp = public.fingerprint();
        assert_eq!(fp.len(), 19, "{fp}");
        assert_eq!(fp.matches(':').count(), 3, "{fp}");
    }

    #[cfg(unix)]
    #[test]
    fn private_key_file_is_0600_never_clobbered_and_checked_on_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("publisher.key");
        let key = SigningKey::generate();
        key.write_new(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            SigningKey::read(&path).unwrap().public_key(),
            key.public_key()
        );

        let before = fs::read(&path).unwrap();
        let err = SigningKey::generate().write_new(&path).unwrap_err();
        assert!(matches!(err, KeyFileError::Exists(_)), "{err}");
        assert_eq!(
            fs::read(&path).unwrap(),
            before,
            "existing key must be untouched"
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SigningKey::read(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");

        let junk = dir.path().join("junk.key");
        fs::write(&junk, "hello").unwrap();
        fs::set_permissions(&junk, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            SigningKey::read(&junk),
            Err(KeyFileError::Malformed(_))
        ));
    }
}
