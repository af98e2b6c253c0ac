//! Helpers shared by the pack crate's integration tests: valid manifests, pack directories,
//! and hand-made tar streams that can hold anything a hostile publisher might write.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use modularbase_pack::weights::sample_weights;
use modularbase_pack::{DomainShape, ExpertFormat, WeightsShape};
use tar::{EntryType, Header};

/// A valid domain manifest, the DESIGN §2 example; line numbers are relied on by tests.
pub fn valid_manifest() -> String {
    r#"[pack]
id = "python_code"
version = "1.0.0"
name = "Python Code Pack"
kind = "domain"
domain = "code"
description = "Python completion and explanation"
license = "Apache-2.0"
base = "tiny_base"
base_compatibility = ["1.0", "1.1", "1.2"]
fallback = ["reasoning", "general_chat"]
readme = "README.md"

[dependencies]
reasoning = ">=1.1"

[conflicts]
legacy_python = "*"
"#
    .to_owned()
}

/// The shape of the valid manifest's weights: a small F16 pack for a base of width 32.
pub fn domain_shape() -> DomainShape {
    DomainShape {
        hidden: 32,
        width: 8,
        experts: 1,
        top_k: 1,
        expert_ffn: 8,
        insertion_layer: 0,
        expert_format: ExpertFormat::F16,
    }
}

/// Valid weights for the valid manifest (about 2.5 KB), tensor data `fill` repeated.
pub fn weights(fill: &[u8]) -> Vec<u8> {
    sample_weights(&WeightsShape::Domain(domain_shape()), fill)
}

/// Writes a complete pack directory for the valid manifest into `dir`.
pub fn write_pack_dir(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("pack.toml"), valid_manifest()).unwrap();
    std::fs::write(dir.join("weights.gguf"), weights(b"weights")).unwrap();
    std::fs::write(dir.join("README.md"), "# Python Code Pack\n").unwrap();
    dir.to_owned()
}

/// One entry of a hand-made tar stream.
pub struct RawEntry {
    pub name: Vec<u8>,
    pub kind: EntryType,
    pub link: Vec<u8>,
    pub data: Vec<u8>,
    /// Size written in the header, when it must differ from `data.len()`.
    pub declared_size: Option<u64>,
}

impl RawEntry {
    pub fn file(name: &str, data: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            kind: EntryType::Regular,
            link: Vec::new(),
            data: data.into(),
            declared_size: None,
        }
    }

    pub fn raw_name(name: &[u8], data: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.to_vec(),
            ..Self::file("x", data)
        }
    }

    pub fn special(name: &str, kind: EntryType, link: &str) -> Self {
        Self {
            kind,
            link: link.as_bytes().to_vec(),
            ..Self::file(name, Vec::new())
        }
    }

    pub fn declared(mut self, size: u64) -> Self {
        self.declared_size = Some(size);
        self
    }

    /// The manifest entry of the valid pack.
    pub fn manifest() -> Self {
        Self::file("pack.toml", valid_manifest())
    }

    pub fn weights() -> Self {
        Self::file("weights.gguf", weights(&[]))
    }

    pub fn readme() -> Self {
        Self::file("README.md", "# card\n")
    }
}

/// The three entries of a valid pack, in canonical order.
pub fn valid_entries() -> Vec<RawEntry> {
    vec![
        RawEntry::manifest(),
        RawEntry::readme(),
        RawEntry::weights(),
    ]
}

/// A tar stream (with end marker) of `entries`, writing names and link names verbatim.
pub fn raw_tar(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let mut header = Header::new_gnu();
        header.set_size(entry.declared_size.unwrap_or(entry.data.len() as u64));
        header.set_entry_type(entry.kind);
        header.set_mode(0o644);
        header.set_mtime(0);
        let bytes = header.as_mut_bytes();
        assert!(
            entry.name.len() <= 100 && entry.link.len() <= 100,
            "use a long-name entry"
        );
        bytes[..entry.name.len()].copy_from_slice(&entry.name);
        bytes[157..157 + entry.link.len()].copy_from_slice(&entry.link);
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&entry.data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// zstd-compresses `tar` as one frame.
pub fn compress(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).unwrap()
}

/// A complete hostile archive from entries.
pub fn archive(entries: &[RawEntry]) -> Vec<u8> {
    compress(&raw_tar(entries))
}

/// Every path under `root`, relative, sorted (to prove nothing was written).
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}
