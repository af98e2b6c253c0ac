//! SHA-256 digests of archives, computed while streaming.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Read buffer for hashing files: large enough that syscalls do not dominate.
const CHUNK: usize = 1 << 20;

/// A SHA-256 digest, written as 64 lowercase hex digits (the index's `cksum`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct Sha256Digest(pub [u8; 32]);

/// A checksum string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a SHA-256 checksum (expected 64 lowercase hex digits)")]
pub struct DigestError(pub String);

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Lowercase hex, as stored in the index and the lock.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl FromStr for Sha256Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || DigestError(s.escape_debug().to_string());
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| invalid())?;
        Ok(Self(out))
    }
}

/// Hashes everything read from `reader`; returns the digest and the byte count.
pub fn sha256_reader<R: Read>(mut reader: R) -> io::Result<(Sha256Digest, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((Sha256Digest(hasher.finalize().into()), total))
}

/// Hashes the file at `path`.
pub fn sha256_file(path: &Path) -> io::Result<(Sha256Digest, u64)> {
    sha256_reader(File::open(path)?)
}

/// The digest of an unpacked pack directory: every regular file below `dir` (names that
/// `skip` refuses left out), in sorted path order, as its `/`-separated relative path, a NUL,
/// its SHA-256 and a NUL. Anything but files and directories (a symlink) is an error.
pub fn tree_digest(dir: &Path, skip: &dyn Fn(&Path) -> bool) -> io::Result<Sha256Digest> {
    Sha256Digest::of_tree(dir, skip).map(|(digest, _)| digest)
}

impl Sha256Digest {
    /// [`tree_digest`] of `dir` with the files it covers, in the same sorted order, each as
    /// its `/`-separated relative path, its size and its SHA-256: every file is read once
    /// for both.
    #[allow(clippy::type_complexity)]
    pub fn of_tree(
        dir: &Path,
        skip: &dyn Fn(&Path) -> bool,
    ) -> io::Result<(Sha256Digest, Vec<(String, u64, Sha256Digest)>)> {
        let mut hasher = Sha256::new();
        let mut files = Vec::new();
        for (relative, _) in tree_listing(dir, skip)? {
            let (digest, size) = sha256_file(&dir.join(&relative))?;
            hasher.update(relative.as_bytes());
            hasher.update([0]);
            hasher.update(digest.0);
            hasher.update([0]);
            files.push((relative, size, digest));
        }
        Ok((Sha256Digest(hasher.finalize().into()), files))
    }
}

/// The regular files below `dir` that [`tree_digest`] covers, as sorted `/`-separated
/// relative paths with their sizes.
pub fn tree_listing(dir: &Path, skip: &dyn Fn(&Path) -> bool) -> io::Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    collect_files(dir, Path::new(""), skip, &mut files)?;
    files.sort();
    Ok(files)
}

fn collect_files(
    root: &Path,
    relative: &Path,
    skip: &dyn Fn(&Path) -> bool,
    out: &mut Vec<(String, u64)>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        if skip(&path) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(root, &path, skip, out)?;
        } else if kind.is_file() {
            let text = path.to_str().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "a file name is not UTF-8")
            })?;
            let size = entry.metadata()?.len();
            out.push((text.replace(std::path::MAIN_SEPARATOR, "/"), size));
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{}` is neither a file nor a directory", path.display()),
            ));
        }
    }
    Ok(())
}

/// A reader that hashes what passes through it, for verifying while copying.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The digest and byte count of everything read so far.
    pub fn finish(self) -> (Sha256Digest, u64) {
        (Sha256Digest(self.hasher.finalize().into()), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes what passes through it, for digesting while building.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, the digest and the byte count of everything written.
    pub fn finish(self) -> (W, Sha256Digest, u64) {
        (
            self.inner,
            Sha256Digest(self.hasher.finalize().into()),
            self.count,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_test_vector() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (streamed, n) = sha256_reader(&b"abc"[..]).unwrap();
        assert_eq!((streamed, n), (d, 3));
    }

    #[test]
    fn streaming_wrappers_agree_with_one_shot() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut reader = HashingReader::new(&data[..]);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(
            reader.finish(),
            (Sha256Digest::of(&data), data.len() as u64)
        );
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(&data).unwrap();
        let (inner, digest, n) = writer.finish();
        assert_eq!((digest, n), (Sha256Digest::of(&data), data.len() as u64));
        assert_eq!(inner, data);
    }

    #[test]
    fn parses_only_canonical_hex() {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hex.parse::<Sha256Digest>().unwrap().to_hex(), hex);
        for bad in [
            "",
            "abc",
            &hex.to_uppercase(),
            &format!("{hex}00"),
            &hex.replace('a', "g"),
        ] {
            assert!(bad.parse::<Sha256Digest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tree_digest_changes_with_any_byte_or_name_and_honours_skip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pack.toml"), "a").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/w"), "b").unwrap();
        let none = |_: &Path| false;
        let first = tree_digest(dir.path(), &none).unwrap();
        assert_eq!(tree_digest(dir.path(), &none).unwrap(), first);
        std::fs::write(dir.path().join(".marker"), "x").unwrap();
        let skip = |p: &Path| p == Path::new(".marker");
        assert_eq!(tree_digest(dir.path(), &skip).unwrap(), first);
        assert_ne!(tree_digest(dir.path(), &none).unwrap(), first);
        std::fs::write(dir.path().join("sub/w"), "c").unwrap();
        assert_ne!(tree_digest(dir.path(), &skip).unwrap(), first);
        std::fs::write(dir.path().join("sub/w"), "b").unwrap();
        std::fs::rename(dir.path().join("sub/w"), dir.path().join("sub/v")).unwrap();
        assert_ne!(tree_digest(dir.path(), &skip).unwrap(), first);
    }

    #[test]
    fn a_tree_digest_is_unchanged_and_lists_each_file_with_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pack.toml"), "a").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/w"), "bc").unwrap();
        let none = |_: &Path| false;
        // The digest of this tree as every earlier version computed it (locks record it).
        let mut hasher = Sha256::new();
        for (path, bytes) in [("pack.toml", &b"a"[..]), ("sub/w", &b"bc"[..])] {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(Sha256Digest::of(bytes).0);
            hasher.update([0]);
        }
        let expected = Sha256Digest(hasher.finalize().into());
        let (digest, files) = Sha256Digest::of_tree(dir.path(), &none).unwrap();
        assert_eq!(
            (digest, tree_digest(dir.path(), &none).unwrap()),
            (expected, expected)
        );
        assert_eq!(
            files,
            vec![
                ("pack.toml".to_owned(), 1, Sha256Digest::of(b"a")),
                ("sub/w".to_owned(), 2, Sha256Digest::of(b"bc")),
            ]
        );
    }
}
