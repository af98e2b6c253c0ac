//! Building the canonical, byte-for-byte reproducible archive of a pack directory.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use super::{
    ArchiveContents, ArchiveError, ArchiveFile, ArchiveLimits, MANIFEST_FILE, WEIGHTS_FILE,
};
use crate::Manifest;
use crate::gguf::{GgufError, GgufHeader};
use crate::weights::WeightsShape;

/// zstd level: the default of the `zstd` tool, a good speed/size balance for weights.
const ZSTD_LEVEL: i32 = 3;

/// Builds the archive of the pack in `pack_dir` into `out`.
///
/// The manifest is validated first. Entries are `pack.toml`, then the other files sorted by
/// name, each with mode 0644, uid/gid 0, empty owner names and mtime 0, compressed as one
/// zstd frame with a content checksum: the same directory always gives the same bytes.
/// Files are checked against [`ArchiveLimits::default`] so that every archive built here
/// is one that readers accept.
pub fn build_archive<W: Write>(pack_dir: &Path, out: W) -> Result<ArchiveContents, ArchiveError> {
    let manifest_path = pack_dir.join(MANIFEST_FILE);
    let manifest = Manifest::load(&manifest_path)?;
    let limits = ArchiveLimits::default();

    let mut names = vec![WEIGHTS_FILE.to_owned()];
    names.extend(manifest.readme.clone());
    names.sort();
    names.insert(0, MANIFEST_FILE.to_owned());

    let mut files = Vec::with_capacity(names.len());
    for name in &names {
        let path = pack_dir.join(name);
        let size = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => meta.len(),
            Ok(_) | Err(_) if name == WEIGHTS_FILE => return Err(ArchiveError::MissingWeights),
            Ok(_) | Err(_) => return Err(ArchiveError::MissingReadme(name.clone())),
        };
        let limit = match name.as_str() {
            MANIFEST_FILE => limits.max_manifest_bytes,
            WEIGHTS_FILE => limits.max_unpacked_bytes,
            _ => limits.max_readme_bytes,
        };
        if size > limit {
            return Err(ArchiveError::EntryTooLarge {
                name: name.clone(),
                size,
                limit,
            });
        }
        files.push(ArchiveFile {
            name: name.clone(),
            size,
        });
    }
    let weights = check_weights_file(&pack_dir.join(WEIGHTS_FILE), &manifest, &limits)?;

    let write_error = |source| ArchiveError::Io {
        action: "write the archive of",
        path: pack_dir.to_owned(),
        source,
    };
    let mut encoder = zstd::Encoder::new(out, ZSTD_LEVEL).map_err(write_error)?;
    encoder.include_checksum(true).map_err(write_error)?;
    let mut builder = tar::Builder::new(encoder);
    for file in &files {
        let path = pack_dir.join(&file.name);
        let read_error = |source| ArchiveError::Io {
            action: "read",
            path: path.clone(),
            source,
        };
        let source = File::open(&path).map_err(read_error)?;
        let header = canonical_header(&file.name, file.size).map_err(write_error)?;
        // `take` pins the entry to the size in its header even if the file grows meanwhile.
        let mut body = BufReader::with_capacity(1 << 20, source).take(file.size);
        builder.append(&header, &mut body).map_err(write_error)?;
        if body.limit() != 0 {
            return Err(read_error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being packed",
            )));
        }
    }
    builder
        .into_inner()
        .and_then(|encoder| encoder.finish())
        .map_err(write_error)?;
    let readme = match &manifest.readme {
        Some(name) => {
            let path = pack_dir.join(name);
            let bytes = std::fs::read(&path).map_err(|source| ArchiveError::Io {
                action: "read",
                path,
                source,
            })?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        None => None,
    };
    Ok(ArchiveContents {
        manifest,
        files,
        readme,
        weights,
    })
}

/// A GNU tar header with every varying field fixed.
fn canonical_header(name: &str, size: u64) -> io::Result<tar::Header> {
    let mut header = tar::Header::new_gnu();
    header.set_path(name)?;
    header.set_size(size);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_username("")?;
    header.set_groupname("")?;
    header.set_cksum();
    Ok(header)
}

/// The weights file's header and its meaning for the pack's kind, checked as every
/// reader of the archive will check them.
fn check_weights_file(
    path: &Path,
    manifest: &Manifest,
    limits: &ArchiveLimits,
) -> Result<WeightsShape, ArchiveError> {
    let header = GgufHeader::open(path, &limits.weights).map_err(|e| match e {
        GgufError::Read(source) => ArchiveError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        },
        other => ArchiveError::from(other),
    })?;
    WeightsShape::check_pack(manifest, &header)
        .map_err(|e| ArchiveError::weights_shape(manifest, e))
}
