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
    let staged = stage_expert_format(pack_dir)
        .with_context(|| format!("cannot build the pack in `{}`", pack_dir.display()))?;
    let source = staged.as_ref().map_or(pack_dir, |dir| dir.path());
    let mut writer = HashingWriter::new(BufWriter::new(tmp.as_file()));
    let contents = build_archive(source, &mut writer)
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

/// When the manifest's `[model] expert_format` differs from how the pack's weights store
/// their experts, a staging copy of the pack with the experts requantized (the source
/// directory is left as it is); `None` when the weights already match or it names none.
fn stage_expert_format(pack_dir: &Path) -> anyhow::Result<Option<tempfile::TempDir>> {
    let manifest =
        modularbase_pack::Manifest::load(&pack_dir.join(modularbase_pack::MANIFEST_FILE))?;
    let Some(wanted) = manifest.model.as_ref().and_then(|m| m.expert_format) else {
        return Ok(None);
    };
    if manifest.kind != modularbase_pack::PackKind::Domain {
        return Ok(None);
    }
    let weights_path = pack_dir.join(modularbase_pack::WEIGHTS_FILE);
    let weights = modularbase_runtime::PackWeights::read(&weights_path)
        .with_context(|| format!("cannot read the pack weights in `{}`", pack_dir.display()))?;
    if weights.config.expert_format == wanted {
        return Ok(None);
    }
    let staging = tempfile::tempdir().context("cannot create a staging directory")?;
    let files = [modularbase_pack::MANIFEST_FILE]
        .into_iter()
        .chain(manifest.readme.as_deref());
    for name in files {
        fs::copy(pack_dir.join(name), staging.path().join(name))
            .with_context(|| format!("cannot stage `{name}` of `{}`", pack_dir.display()))?;
    }
    weights
        .with_expert_format(wanted)
        .with_context(|| {
            format!(
                "cannot store the experts of `{}` as {wanted:?}",
                pack_dir.display()
            )
        })?
        .write(
            &staging.path().join(modularbase_pack::WEIGHTS_FILE),
            manifest.id.as_str(),
        )?;
    Ok(Some(staging))
}
