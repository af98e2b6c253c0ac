//! Reading archives: one streaming pass that checks every rule before any byte is trusted.

use std::collections::BTreeSet;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::sink::{DirectorySink, Discard, EntrySink};
use super::{
    ArchiveContents, ArchiveError, ArchiveFile, ArchiveLimits, MANIFEST_FILE, PackRef, WEIGHTS_FILE,
};
use crate::Manifest;
use crate::gguf::{GgufError, GgufHeader};
use crate::weights::WeightsShape;

/// Zero bytes tolerated after the tar end marker (tar pads to 10 KiB records).
const MAX_END_PADDING: u64 = 64 << 10;
/// Tar header overhead allowed per entry when bounding the decompressed stream.
const HEADER_ALLOWANCE: u64 = 4 << 10;

/// Reads and checks a whole archive without writing anything.
///
/// `expected`, when given, must match the manifest's id and version.
pub fn inspect_archive<R: Read>(
    reader: R,
    limits: &ArchiveLimits,
    expected: Option<&PackRef>,
) -> Result<ArchiveContents, ArchiveError> {
    read_archive(reader, limits, expected, &mut Discard)
}

/// Unpacks an archive into `target`, which must not exist yet.
///
/// Files are written into a temporary directory beside `target` and renamed into place
/// only after every check passed: on any error `target` is absent and nothing is left
/// behind.
pub fn unpack_archive<R: Read>(
    reader: R,
    target: &Path,
    limits: &ArchiveLimits,
    expected: &PackRef,
) -> Result<ArchiveContents, ArchiveError> {
    if target.symlink_metadata().is_ok() {
        return Err(ArchiveError::TargetExists(target.to_owned()));
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io_error = |action, path: &Path| {
        let path = path.to_owned();
        move |source| ArchiveError::Io {
            action,
            path,
            source,
        }
    };
    let staging = tempfile::Builder::new()
        .prefix(".mbpack-unpack-")
        .tempdir_in(parent)
        .map_err(io_error("create a staging directory in", parent))?;
    let mut sink = DirectorySink {
        dir: staging.path().to_owned(),
    };
    let contents = read_archive(reader, limits, Some(expected), &mut sink)?;
    publish_directory(staging, target).map_err(io_error("move the unpacked pack to", target))?;
    Ok(contents)
}

/// Makes the staged directory world-readable and renames it to `target`, syncing both
/// directories so the new entry survives a crash once this returns.
fn publish_directory(staging: tempfile::TempDir, target: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))?;
    }
    sync_directory(staging.path())?;
    std::fs::rename(staging.path(), target)?;
    // The directory now lives at `target`; make sure the guard does not delete it.
    let _ = staging.keep();
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_directory(parent)?;
    }
    Ok(())
}

/// Flushes a directory's entries to disk (a no-op where directories cannot be opened).
fn sync_directory(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Maps a read error inside the archive stream to the refusal it means.
pub(super) fn stream_error(err: io::Error) -> ArchiveError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(e) = cause {
        if let Some(limit) = e.downcast_ref::<StreamLimitExceeded>() {
            return ArchiveError::UnpackedSizeLimit {
                name: "(stream)".to_owned(),
                limit: limit.0,
            };
        }
        cause = e.source();
    }
    let text = err.to_string();
    if err.kind() == io::ErrorKind::UnexpectedEof
        || text.contains("incomplete")
        || text.contains("unexpected end")
    {
        ArchiveError::Truncated(text)
    } else {
        ArchiveError::Corrupt(text)
    }
}

/// A reader that refuses to yield more than `limit` bytes: the last line of defence
/// against decompression bombs, whatever the tar headers claim.
struct Bounded<R> {
    inner: R,
    remaining: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Err(io::Error::other(StreamLimitExceeded(self.limit)));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The decompressed stream grew past its bound.
#[derive(Debug, thiserror::Error)]
#[error("the decompressed archive stream exceeds {0} bytes")]
struct StreamLimitExceeded(u64);

/// The one pass that every reader shares.
fn read_archive<R: Read>(
    reader: R,
    limits: &ArchiveLimits,
    expected: Option<&PackRef>,
    sink: &mut dyn EntrySink,
) -> Result<ArchiveContents, ArchiveError> {
    let decoder = zstd::Decoder::new(reader)
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?
        .single_frame();
    let stream_limit = limits
        .max_unpacked_bytes
        .saturating_add((limits.max_entries as u64 + 2) * HEADER_ALLOWANCE)
        .saturating_add(MAX_END_PADDING);
    let bounded = Bounded {
        inner: decoder,
        remaining: stream_limit,
        limit: stream_limit,
    };
    let mut archive = tar::Archive::new(bounded);
    let mut state = ReadState::new(limits, expected);
    // Raw mode: GNU long-name and PAX extension entries come to us (and are refused)
    // instead of being buffered whole in memory by the tar crate.
    for entry in archive.entries().map_err(stream_error)?.raw(true) {
        let mut entry = entry.map_err(stream_error)?;
        state.accept(&mut entry, sink)?;
    }
    let contents = state.finish()?;
    check_end(archive.into_inner())?;
    Ok(contents)
}

/// After the tar end marker only zero padding may follow, and nothing after the zstd frame.
fn check_end<R: Read>(
    mut bounded: Bounded<zstd::Decoder<'static, BufReader<R>>>,
) -> Result<(), ArchiveError> {
    let mut padding = Vec::new();
    (&mut bounded)
        .take(MAX_END_PADDING + 1)
        .read_to_end(&mut padding)
        .map_err(stream_error)?;
    if padding.len() as u64 > MAX_END_PADDING || padding.iter().any(|&b| b != 0) {
        return Err(ArchiveError::TrailingData(
            "after the end of the tar archive",
        ));
    }
    let mut rest = bounded.inner.finish();
    let mut probe = [0u8; 1];
    match rest.read(&mut probe) {
        Ok(0) => Ok(()),
        Ok(_) => Err(ArchiveError::TrailingData(
            "after the end of the compressed stream",
        )),
        Err(e) => Err(stream_error(e)),
    }
}

/// What has been seen so far, and the rules for the next entry.
struct ReadState<'a> {
    limits: &'a ArchiveLimits,
    expected: Option<&'a PackRef>,
    manifest: Option<Manifest>,
    names: BTreeSet<String>,
    files: Vec<ArchiveFile>,
    readme: Option<String>,
    weights: Option<WeightsShape>,
    entries: usize,
    unpacked: u64,
}

impl<'a> ReadState<'a> {
    fn new(limits: &'a ArchiveLimits, expected: Option<&'a PackRef>) -> Self {
        Self {
            limits,
            expected,
            manifest: None,
            names: BTreeSet::new(),
            files: Vec::new(),
            readme: None,
            weights: None,
            entries: 0,
            unpacked: 0,
        }
    }

    fn accept<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        sink: &mut dyn EntrySink,
    ) -> Result<(), ArchiveError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries(self.limits.max_entries));
        }
        let name = entry_name(entry)?;
        check_entry_type(entry, &name)?;
        let size = entry.header().size().map_err(stream_error)?;
        self.check_name_and_size(&name, size)?;

        if self.manifest.is_none() {
            let manifest = self.read_manifest(entry, size)?;
            let mut bytes = manifest.1.as_slice();
            sink.accept(&name, &mut bytes)?;
            self.manifest = Some(manifest.0);
        } else {
            let mut head = Vec::new();
            if name != WEIGHTS_FILE {
                // The readme (the only other file) is small and bounded: keep its text.
                entry.read_to_end(&mut head).map_err(stream_error)?;
                self.readme = Some(String::from_utf8_lossy(&head).into_owned());
            } else {
                let (header, consumed) = self.read_weights_header(entry, size)?;
                head = consumed;
                let manifest = self
                    .manifest
                    .as_ref()
                    .ok_or(ArchiveError::MissingManifest)?;
                let shape = WeightsShape::check_pack(manifest, &header)
                    .map_err(|e| ArchiveError::weights_shape(manifest, e))?;
                self.weights = Some(shape);
            }
            let written = sink.accept(&name, &mut head.as_slice().chain(&mut *entry))?;
            if written != size {
                return Err(ArchiveError::Truncated(format!(
                    "entry `{name}` holds {written} of its {size} bytes"
                )));
            }
        }
        self.unpacked += size;
        self.files.push(ArchiveFile { name, size });
        Ok(())
    }

    fn check_name_and_size(&mut self, name: &str, size: u64) -> Result<(), ArchiveError> {
        let readme = self.manifest.as_ref().and_then(|m| m.readme.as_deref());
        let limit = match (name, &self.manifest) {
            (MANIFEST_FILE, _) => self.limits.max_manifest_bytes,
            (_, None) => return Err(ArchiveError::MissingManifest),
            (WEIGHTS_FILE, Some(_)) => self.limits.max_unpacked_bytes,
            (other, Some(_)) if Some(other) == readme => self.limits.max_readme_bytes,
            (other, Some(_)) => return Err(ArchiveError::UnexpectedFile(other.to_owned())),
        };
        if !self.names.insert(name.to_owned()) {
            return Err(ArchiveError::DuplicateEntry(name.to_owned()));
        }
        if size > limit && name != WEIGHTS_FILE {
            return Err(ArchiveError::EntryTooLarge {
                name: name.to_owned(),
                size,
                limit,
            });
        }
        if self.unpacked.saturating_add(size) > self.limits.max_unpacked_bytes {
            return Err(ArchiveError::UnpackedSizeLimit {
                name: name.to_owned(),
                limit: self.limits.max_unpacked_bytes,
            });
        }
        Ok(())
    }

    /// Reads and checks the header of `weights.gguf` as it streams past, returning it and
    /// the bytes it consumed (which still belong to the entry).
    fn read_weights_header<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        size: u64,
    ) -> Result<(GgufHeader, Vec<u8>), ArchiveError> {
        let mut recorded = Recording {
            inner: entry,
            bytes: Vec::new(),
        };
        let header =
            GgufHeader::read(&mut recorded, size, &self.limits.weights).map_err(|e| match e {
                GgufError::Read(io) => stream_error(io),
                other => ArchiveError::from(other),
            })?;
        Ok((header, recorded.bytes))
    }

    fn read_manifest<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        size: u64,
    ) -> Result<(Manifest, Vec<u8>), ArchiveError> {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry.read_to_end(&mut bytes).map_err(stream_error)?;
        if bytes.len() as u64 != size {
            return Err(ArchiveError::Truncated(format!(
                "entry `{MANIFEST_FILE}` is cut short"
            )));
        }
        let manifest = Manifest::from_toml_bytes(
            &bytes,
            &PathBuf::from(format!("(archive)/{MANIFEST_FILE}")),
        )?;
        if let Some(expected) = self.expected {
            if manifest.id != expected.id {
                return Err(ArchiveError::IdMismatch {
                    expected: expected.id.to_string(),
                    found: manifest.id.to_string(),
                });
            }
            if manifest.version != expected.version {
                return Err(ArchiveError::VersionMismatch {
                    expected: expected.version.to_string(),
                    found: manifest.version.to_string(),
                });
            }
        }
        Ok((manifest, bytes))
    }

    fn finish(self) -> Result<ArchiveContents, ArchiveError> {
        let manifest = self.manifest.ok_or(ArchiveError::MissingManifest)?;
        let Some(weights) = self.weights else {
            return Err(ArchiveError::MissingWeights);
        };
        if let Some(readme) = manifest
            .readme
            .as_deref()
            .filter(|r| !self.names.contains(*r))
        {
            return Err(ArchiveError::MissingReadme(readme.to_owned()));
        }
        Ok(ArchiveContents {
            manifest,
            files: self.files,
            readme: self.readme,
            weights,
        })
    }
}

/// The entry's path as checked UTF-8, refusing absolute and climbing paths.
fn entry_name<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String, ArchiveError> {
    let raw = entry.path_bytes();
    let name = std::str::from_utf8(&raw)
        .map_err(|_| {
            ArchiveError::NonUtf8Name(String::from_utf8_lossy(&raw).escape_debug().to_string())
        })?
        .to_owned();
    if name.starts_with('/') || name.starts_with('\\') || name.get(1..3) == Some(":\\") {
        return Err(ArchiveError::AbsolutePath(name.escape_debug().to_string()));
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Err(ArchiveError::PathTraversal(name.escape_debug().to_string()));
    }
    Ok(name)
}

/// Regular files only: links, devices, FIFOs and directories are each refused by name.
fn check_entry_type<R: Read>(entry: &tar::Entry<'_, R>, name: &str) -> Result<(), ArchiveError> {
    let link_target = || {
        entry
            .link_name_bytes()
            .map(|b| String::from_utf8_lossy(&b).escape_debug().to_string())
            .unwrap_or_default()
    };
    let kind = match entry.header().entry_type() {
        EntryType::Regular | EntryType::Continuous => return Ok(()),
        EntryType::Symlink => {
            return Err(ArchiveError::Symlink {
                name: name.to_owned(),
                target: link_target(),
            });
        }
        EntryType::Link => {
            return Err(ArchiveError::Hardlink {
                name: name.to_owned(),
                target: link_target(),
            });
        }
        EntryType::Char => "character device".to_owned(),
        EntryType::Block => "block device".to_owned(),
        EntryType::Fifo => "FIFO".to_owned(),
        EntryType::Directory => "directory".to_owned(),
        EntryType::GNUSparse => "sparse file".to_owned(),
        EntryType::GNULongName | EntryType::GNULongLink => "GNU long-name extension".to_owned(),
        EntryType::XHeader | EntryType::XGlobalHeader => "PAX extended header".to_owned(),
        other => format!("tar entry of type {:?}", other.as_byte() as char),
    };
    Err(ArchiveError::NotRegularFile {
        name: name.to_owned(),
        kind,
    })
}

/// A reader that keeps a copy of what it yields (the header bytes of `weights.gguf`, which
/// must still reach the sink after they have been checked).
struct Recording<'r, R> {
    inner: &'r mut R,
    bytes: Vec<u8>,
}

impl<R: Read> Read for Recording<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}
