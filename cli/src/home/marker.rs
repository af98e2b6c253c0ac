//! The marker written last into a pack directory, `.installed`: the digest of its files
//! ([`modularbase_pack::tree_digest`]) on the first line, then one `SIZE PATH` line per
//! file. A directory is trusted only when its marker names the digest the lock records
//! and every file it lists is there at its size; a half-written or half-removed directory
//! never is.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use modularbase_pack::{Sha256Digest, tree_digest, tree_listing};

/// The marker's file name.
const INSTALLED_MARKER: &str = ".installed";

fn skip_marker(path: &Path) -> bool {
    path == Path::new(INSTALLED_MARKER)
}

/// Writes the marker of `dir` and syncs it; returns the digest of the files.
pub(super) fn write_marker(dir: &Path) -> anyhow::Result<Sha256Digest> {
    let unreadable = || format!("cannot read the unpacked files in `{}`", dir.display());
    let files = tree_digest(dir, &skip_marker).with_context(unreadable)?;
    let mut text = format!("{files}\n");
    for (path, size) in tree_listing(dir, &skip_marker).with_context(unreadable)? {
        text.push_str(&format!("{size} {path}\n"));
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

/// The digest `dir`'s marker names, when the marker is there.
pub(super) fn marked_digest(dir: &Path) -> Option<String> {
    let text = read_marker(dir)?;
    text.lines().next().map(str::to_owned)
}

/// Whether `dir` holds whole files of digest `files`: its marker names it and every file
/// the marker lists is there at its size.
pub(super) fn is_whole(dir: &Path, files: &Sha256Digest) -> bool {
    let Some(text) = read_marker(dir) else {
        return false;
    };
    let mut lines = text.lines();
    if lines.next() != Some(files.to_string().as_str()) {
        return false;
    }
    lines.all(|line| {
        line.split_once(' ').is_some_and(|(size, path)| {
            std::fs::metadata(dir.join(path))
                .is_ok_and(|m| m.is_file() && size.parse() == Ok(m.len()))
        })
    })
}
