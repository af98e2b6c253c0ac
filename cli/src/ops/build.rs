//! Building a pack directory into `target/ID-VERSION.mbpack`, atomically.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use modularbase_pack::{
    ArchiveContents, HashingWriter, Sha256Digest, archive_file_name, build_archive,
};

/// A freshly built archive.
#[derive(Debug)]
pub struct BuiltArchive {
    /// Where it was written.
    pub path: PathBuf,
    /// What it holds.
    pub contents: ArchiveContents,
    /// Its SHA-256.
    pub cksum: Sha256Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// Builds the pack in `pack_dir` into `pack_dir/target/ID-VERSION.mbpack`.
///
/// The archive is written to a temporary file and renamed into place, so the target path
/// only ever holds a complete archive.
pub fn build_pack(pack_dir: &Path) -> anyhow::Result<BuiltArchive> {
    let target = pack_dir.join("target");
    fs::create_dir_all(&target).with_context(|| format!("cannot create `{}`", target.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".build-")
        .suffix(".mbpack")
        .tempfile_in(&target)
        .with_context(|| format!("cannot create a temporary file in `{}`", target.display()))?;
    let mut writer = HashingWriter::new(BufWriter::new(tmp.as_file()));
    let contents = build_archive(pack_dir, &mut writer)
        .with_context(|| format!("cannot build the pack in `{}`", pack_dir.display()))?;
    let (mut buffered, cksum, size) = writer.finish();
    buffered.flush().context("cannot write the archive")?;
    drop(buffered);
    tmp.as_file()
        .sync_all()
        .context("cannot write the archive")?;
    let path = target.join(archive_file_name(
        &contents.manifest.id,
        &contents.manifest.version,
    ));
    tmp.persist(&path)
        .with_context(|| format!("cannot move the archive to `{}`", path.display()))?;
    Ok(BuiltArchive {
        path,
        contents,
        cksum,
        size,
    })
}
