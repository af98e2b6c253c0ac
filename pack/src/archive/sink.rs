//! Where verified entry bytes go: nowhere (inspection) or a fresh directory (unpacking).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::ArchiveError;

/// Receives each accepted entry's bytes.
pub(super) trait EntrySink {
    /// Consumes exactly the entry's bytes from `reader`, returning how many there were.
    fn accept(&mut self, name: &str, reader: &mut dyn Read) -> Result<u64, ArchiveError>;
}

/// Reads and drops everything (for `inspect_archive` and registry validation).
pub(super) struct Discard;

impl EntrySink for Discard {
    fn accept(&mut self, _name: &str, reader: &mut dyn Read) -> Result<u64, ArchiveError> {
        io::copy(reader, &mut io::sink()).map_err(super::read::stream_error)
    }
}

/// Writes entries as new files in one directory, synced to disk.
pub(super) struct DirectorySink {
    pub(super) dir: PathBuf,
}

impl EntrySink for DirectorySink {
    fn accept(&mut self, name: &str, reader: &mut dyn Read) -> Result<u64, ArchiveError> {
        // `name` is one of the allowed flat file names, never a path taken from the archive.
        let path = self.dir.join(name);
        let write_error = |source| ArchiveError::Io {
            action: "write",
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(write_error)?;
        let copied = copy_distinguishing_errors(reader, &mut file, &path)?;
        file.sync_all().map_err(write_error)?;
        Ok(copied)
    }
}

/// Copies like `io::copy`, but tells read errors (a bad archive) from write errors (disk).
fn copy_distinguishing_errors(
    reader: &mut dyn Read,
    file: &mut File,
    path: &Path,
) -> Result<u64, ArchiveError> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(super::read::stream_error(e)),
        };
        file.write_all(&buffer[..n])
            .map_err(|source| ArchiveError::Io {
                action: "write",
                path: path.to_owned(),
                source,
            })?;
        total += n as u64;
    }
}
