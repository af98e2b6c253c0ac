//! Every directory and file under a root with the files' bytes, taken before a command and
//! compared after it: a refused command must leave a home byte for byte as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The directories (`None`) and files (their bytes) under a root, by relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSnapshot {
    root: PathBuf,
    entries: BTreeMap<PathBuf, Option<Vec<u8>>>,
}

impl TreeSnapshot {
    /// Reads everything under `root` (which need not exist yet).
    pub fn of(root: &Path) -> Self {
        let mut entries = BTreeMap::new();
        walk(root, root, &mut entries);
        Self {
            root: root.to_owned(),
            entries,
        }
    }

    /// How many directories and files there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is nothing under the root.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every path added, removed or changed since this snapshot was taken, as
    /// `added PATH`, `removed PATH` or `changed PATH`.
    pub fn changes(&self) -> Vec<String> {
        let now = Self::of(&self.root);
        let mut changes = Vec::new();
        for (path, before) in &self.entries {
            match now.entries.get(path) {
                None => changes.push(format!("removed {}", path.display())),
                Some(after) if after != before => {
                    changes.push(format!("changed {}", path.display()));
                }
                Some(_) => {}
            }
        }
        for path in now.entries.keys() {
            if !self.entries.contains_key(path) {
                changes.push(format!("added {}", path.display()));
            }
        }
        changes
    }

    /// Fails the test, naming every path added, removed or changed, unless the root holds
    /// exactly what it held when this snapshot was taken.
    pub fn assert_unchanged(&self) {
        let changes = self.changes();
        assert!(
            changes.is_empty(),
            "`{}` changed:\n{}",
            self.root.display(),
            changes.join("\n")
        );
    }
}

fn walk(root: &Path, dir: &Path, entries: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read {
        let path = entry.unwrap().path();
        let relative = path.strip_prefix(root).unwrap().to_owned();
        let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
        if kind.is_dir() {
            entries.insert(relative, None);
            walk(root, &path, entries);
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            entries.insert(relative, Some(target.into_os_string().into_encoded_bytes()));
        } else {
            entries.insert(relative, Some(std::fs::read(&path).unwrap()));
        }
    }
}
