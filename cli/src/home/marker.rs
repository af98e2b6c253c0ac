//! The marker written last into a pack directory, `.installed`: the digest of its files
//! ([`modularbase_pack::tree_digest`]) on the first line, then one `SIZE SHA256 PATH` line
//! per file (markers written before per-file digests have `SIZE PATH` lines, still read).
//! A directory is trusted only when its marker names the digest the lock records and every
//! file it lists is there at its size; a half-written or half-removed directory never is.
//! The per-file digests let `pack verify` name the file that changed.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use modularbase_pack::Sha256Digest;

/// The marker's file name.
const INSTALLED_MARKER: &str = ".installed";

/// Whether `path` (relative to a pack directory) is the marker, which no digest covers.
pub(super) fn skip_marker(path: &Path) -> bool {
    path == Path::new(INSTALLED_MARKER)
}

/// Writes the marker of `dir` and syncs it; returns the digest of the files. Each file is
/// read once: its digest feeds both the tree digest and its line.
pub(super) fn write_marker(dir: &Path) -> anyhow::Result<Sha256Digest> {
    let (files, listing) = Sha256Digest::of_tree(dir, &skip_marker)
        .with_context(|| format!("cannot read the unpacked files in `{}`", dir.display()))?;
    let mut text = format!("{files}\n");
    for (path, size, digest) in listing {
        text.push_str(&format!("{size} {digest} {path}\n"));
    }
    let marker = dir.join(INSTALLED_MARKER);
    std::fs::File::create(&marker)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .with_context(|| format!("cannot write `{}`", marker.display()))?;
    Ok(files)
}

/// The largest marker read: a digest and a line per file of a pack (a handful).
const MAX_MARKER_BYTES: u64 = 64 << 10;

/// The marker's text; `None` when it is missing, unreadable or oversized (not ours).
fn read_marker(dir: &Path) -> Option<String> {
    super::read_bounded(&dir.join(INSTALLED_MARKER), MAX_MARKER_BYTES)
        .ok()
        .flatten()
}

/// One file a marker lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MarkedFile {
    /// `/`-separated, relative to the pack directory.
    pub(super) path: String,
    /// Its size at install.
    pub(super) size: u64,
    /// Its SHA-256 at install; `None` in markers written before per-file digests.
    pub(super) digest: Option<Sha256Digest>,
}

/// A marker's contents: the digest it names and the files it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Marker {
    /// The first line: the tree digest at install (as text; it may not parse).
    pub(super) digest: String,
    /// The files, in the marker's order; `None` when a line is not ours.
    pub(super) files: Option<Vec<MarkedFile>>,
}

/// Parses `SIZE SHA256 PATH`, or the older `SIZE PATH`. A path may hold spaces; a second
/// field that is a SHA-256 is taken as the digest.
fn parse_line(line: &str) -> Option<MarkedFile> {
    let (size, rest) = line.split_once(' ')?;
    let size = size.parse().ok()?;
    let (digest, path) = match rest.split_once(' ') {
        Some((digest, path)) => match digest.parse::<Sha256Digest>() {
            Ok(digest) => (Some(digest), path),
            Err(_) => (None, rest),
        },
        None => (None, rest),
    };
    Some(MarkedFile {
        path: path.to_owned(),
        size,
        digest,
    })
}

/// The marker of `dir`, when it is there and readable.
pub(super) fn read(dir: &Path) -> Option<Marker> {
    let text = read_marker(dir)?;
    let mut lines = text.lines();
    let digest = lines.next()?.to_owned();
    let files = lines.map(parse_line).collect();
    Some(Marker { digest, files })
}

/// The digest `dir`'s marker names, when the marker is there.
pub(super) fn marked_digest(dir: &Path) -> Option<String> {
    let text = read_marker(dir)?;
    text.lines().next().map(str::to_owned)
}

/// Whether `dir` holds whole files of digest `files`: its marker names it and every file
/// the marker lists is there at its size (sizes only: no file is read).
pub(super) fn is_whole(dir: &Path, files: &Sha256Digest) -> bool {
    let Some(marker) = read(dir) else {
        return false;
    };
    if marker.digest != files.to_string() {
        return false;
    }
    marker.files.is_some_and(|listed| {
        listed.iter().all(|file| {
            std::fs::metadata(dir.join(&file.path))
                .is_ok_and(|m| m.is_file() && m.len() == file.size)
        })
    })
}

/// [`is_whole`], and every file re-read gives digest `files`: a file changed in place at
/// its size is caught too.
pub(super) fn is_verified(dir: &Path, files: &Sha256Digest) -> bool {
    is_whole(dir, files)
        && modularbase_pack::tree_digest(dir, &skip_marker).is_ok_and(|now| now == *files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_both_line_formats() {
        let digest = Sha256Digest::of(b"x");
        assert_eq!(
            parse_line(&format!("12 {digest} weights.gguf")),
            Some(MarkedFile {
                path: "weights.gguf".to_owned(),
                size: 12,
                digest: Some(digest),
            })
        );
        assert_eq!(
            parse_line("3 sub/a name"),
            Some(MarkedFile {
                path: "sub/a name".to_owned(),
                size: 3,
                digest: None,
            })
        );
        assert_eq!(parse_line("x pack.toml"), None);
    }

    #[test]
    fn an_old_marker_is_still_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pack.toml"), "abc").unwrap();
        let files = write_marker(dir.path()).unwrap();
        assert!(is_whole(dir.path(), &files));
        std::fs::write(
            dir.path().join(INSTALLED_MARKER),
            format!("{files}\n3 pack.toml\n"),
        )
        .unwrap();
        assert!(is_whole(dir.path(), &files));
        std::fs::write(dir.path().join("pack.toml"), "abcd").unwrap();
        assert!(!is_whole(dir.path(), &files));
    }
}
