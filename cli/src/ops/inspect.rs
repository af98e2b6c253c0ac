//! Reading an archive's contents without installing it.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context;
use modularbase_pack::{
    ArchiveContents, ArchiveLimits, HashingReader, Sha256Digest, inspect_archive,
};

/// Checks the archive at `path` the way an install would (structure, names, limits,
/// manifest) and returns its contents, SHA-256 and size.
pub fn inspect_pack(path: &Path) -> anyhow::Result<(ArchiveContents, Sha256Digest, u64)> {
    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut reader = HashingReader::new(BufReader::new(file));
    let contents = inspect_archive(&mut reader, &ArchiveLimits::default(), None)
        .with_context(|| format!("`{}` is not a valid pack archive", path.display()))?;
    // The archive reader stops at the end of the zstd frame, which is the end of the file
    // (trailing bytes are refused), so the digest covers the whole file.
    let (cksum, size) = reader.finish();
    Ok((contents, cksum, size))
}
