//! Hand-made archives that hold anything a hostile publisher might write, and the table of
//! malicious ones, each with the refusal it must get: shared by the pack crate's archive
//! tests and `pack install ./FILE` (every local archive is refused with nothing written).

use std::path::Path;

use modularbase_pack::weights::sample_weights;
use modularbase_pack::{
    ArchiveError as E, ArchiveLimits, DomainShape, ExpertFormat, PackRef, WeightsShape,
};
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

/// One entry of a hand-made tar stream.
pub struct RawEntry {
    /// The name, written verbatim (at most 100 bytes).
    pub name: Vec<u8>,
    /// The entry type.
    pub kind: EntryType,
    /// The link name, written verbatim.
    pub link: Vec<u8>,
    /// The contents.
    pub data: Vec<u8>,
    /// Size written in the header, when it must differ from `data.len()`.
    pub declared_size: Option<u64>,
}

impl RawEntry {
    /// A regular file.
    pub fn file(name: &str, data: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            kind: EntryType::Regular,
            link: Vec::new(),
            data: data.into(),
            declared_size: None,
        }
    }

    /// A regular file with a name that need not be UTF-8.
    pub fn raw_name(name: &[u8], data: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.to_vec(),
            ..Self::file("x", data)
        }
    }

    /// A link, device, FIFO or directory entry.
    pub fn special(name: &str, kind: EntryType, link: &str) -> Self {
        Self {
            kind,
            link: link.as_bytes().to_vec(),
            ..Self::file(name, Vec::new())
        }
    }

    /// The same entry with another size in its header.
    pub fn declared(mut self, size: u64) -> Self {
        self.declared_size = Some(size);
        self
    }

    /// The manifest entry of the valid pack.
    pub fn manifest() -> Self {
        Self::file("pack.toml", valid_manifest())
    }

    /// The weights entry of the valid pack.
    pub fn weights() -> Self {
        Self::file("weights.gguf", weights(&[]))
    }

    /// The readme entry of the valid pack.
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

/// The pack every case claims to be: `python_code@1.0.0`.
pub fn expected() -> PackRef {
    PackRef {
        id: "python_code".parse().unwrap(),
        version: "1.0.0".parse().unwrap(),
    }
}

/// A GNU long-name extension entry (`././@LongLink`) carrying `name`, then a file.
fn long_name(name: &str, data: &[u8]) -> Vec<RawEntry> {
    let mut long = RawEntry::file("././@LongLink", [name.as_bytes(), b"\0"].concat());
    long.kind = EntryType::GNULongName;
    vec![long, RawEntry::file("placeholder", data.to_vec())]
}

/// A PAX extended header that overrides the next entry's path.
fn pax_path(path: &str) -> Vec<RawEntry> {
    let record = format!(" path={path}\n");
    let len = record.len() + (record.len() + 3).to_string().len();
    let mut pax = RawEntry::file("PaxHeader", format!("{len}{record}"));
    pax.kind = EntryType::XHeader;
    vec![pax, RawEntry::file("weights.gguf", weights(&[]))]
}

/// One malicious archive and how it must be refused.
pub struct HostileArchive {
    /// What it tries.
    pub name: &'static str,
    /// The archive.
    pub bytes: Vec<u8>,
    /// The limits it is read under (most cases: the defaults).
    pub limits: ArchiveLimits,
    /// Whether an error is the refusal this case must get.
    pub refusal: fn(&E) -> bool,
}

/// `entries` followed by `extra`.
fn with(mut entries: Vec<RawEntry>, extra: Vec<RawEntry>) -> Vec<RawEntry> {
    entries.extend(extra);
    entries
}

/// Every case; `sandbox` is where an absolute path in an archive would point.
pub fn hostile_archives(sandbox: &Path) -> Vec<HostileArchive> {
    let limits = ArchiveLimits::default();
    let absolute = sandbox.join("absolute-escape");
    let valid = archive(&valid_entries());
    let mut trailing_frame = valid.clone();
    trailing_frame.extend_from_slice(b"garbage after the frame");
    let mut tar_with_junk = raw_tar(&valid_entries());
    tar_with_junk.extend_from_slice(b"junk after the end marker");
    let manifest_with =
        |from: &str, to: &str| RawEntry::file("pack.toml", valid_manifest().replace(from, to));
    let small = ArchiveLimits {
        max_unpacked_bytes: 4 << 20,
        ..limits
    };

    #[rustfmt::skip]
    let cases = vec![
        HostileArchive { name: "path traversal", bytes: archive(&with(valid_entries(), vec![RawEntry::file("../escape", "x")])), limits, refusal: |e| matches!(e, E::PathTraversal(n) if n == "../escape") },
        HostileArchive { name: "traversal inside a name", bytes: archive(&with(valid_entries(), vec![RawEntry::file("a/../../escape", "x")])), limits, refusal: |e| matches!(e, E::PathTraversal(_)) },
        HostileArchive { name: "absolute path", bytes: archive(&with(valid_entries(), vec![RawEntry::file(absolute.to_str().unwrap(), "x")])), limits, refusal: |e| matches!(e, E::AbsolutePath(_)) },
        HostileArchive { name: "GNU long name hiding a traversal", bytes: archive(&with(vec![RawEntry::manifest()], long_name(&format!("{}/../../escape", "d".repeat(120)), b"x"))), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "GNU long-name extension") },
        HostileArchive { name: "PAX header hiding an absolute path", bytes: archive(&with(vec![RawEntry::manifest()], pax_path(absolute.to_str().unwrap()))), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "PAX extended header") },
        HostileArchive { name: "huge PAX header (memory exhaustion)", bytes: archive(&with(vec![RawEntry::manifest()], vec![RawEntry { kind: EntryType::XHeader, ..RawEntry::file("PaxHeader", vec![b'9'; 1 << 20]) }])), limits, refusal: |e| matches!(e, E::NotRegularFile { .. }) },
        HostileArchive { name: "symlink", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Symlink, "/etc/passwd")]), limits, refusal: |e| matches!(e, E::Symlink { target, .. } if target == "/etc/passwd") },
        HostileArchive { name: "hard link", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Link, "pack.toml")]), limits, refusal: |e| matches!(e, E::Hardlink { target, .. } if target == "pack.toml") },
        HostileArchive { name: "character device", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Char, "")]), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "character device") },
        HostileArchive { name: "block device", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Block, "")]), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "block device") },
        HostileArchive { name: "fifo", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Fifo, "")]), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "FIFO") },
        HostileArchive { name: "directory entry", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Directory, "")]), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "directory") },
        HostileArchive { name: "duplicate entry", bytes: archive(&with(valid_entries(), vec![RawEntry::weights()])), limits, refusal: |e| matches!(e, E::DuplicateEntry(n) if n == "weights.gguf") },
        HostileArchive { name: "oversized manifest", bytes: archive(&[RawEntry::file("pack.toml", format!("{}\n{}", valid_manifest(), "#".repeat(100_000)))]), limits, refusal: |e| matches!(e, E::EntryTooLarge { name, limit: 65536, .. } if name == "pack.toml") },
        HostileArchive { name: "decompression bomb", bytes: archive(&[RawEntry::manifest(), RawEntry::readme(), RawEntry::file("weights.gguf", [b"GGUF".as_slice(), &vec![0u8; 32 << 20]].concat())]), limits: small, refusal: |e| matches!(e, E::UnpackedSizeLimit { limit, .. } if *limit == 4 << 20) },
        HostileArchive { name: "header claiming a terabyte", bytes: archive(&[RawEntry::manifest(), RawEntry::weights().declared(1 << 40)]), limits, refusal: |e| matches!(e, E::UnpackedSizeLimit { .. }) },
        HostileArchive { name: "too many entries", bytes: valid.clone(), limits: ArchiveLimits { max_entries: 2, ..limits }, refusal: |e| matches!(e, E::TooManyEntries(2)) },
        HostileArchive { name: "truncated stream", bytes: valid[..valid.len() / 2].to_vec(), limits, refusal: |e| matches!(e, E::Truncated(_)) },
        HostileArchive { name: "entry cut short", bytes: archive(&[RawEntry::manifest(), RawEntry::readme(), RawEntry::weights().declared(5000)]), limits, refusal: |e| matches!(e, E::Truncated(_)) },
        HostileArchive { name: "garbage after the zstd frame", bytes: trailing_frame, limits, refusal: |e| matches!(e, E::TrailingData(w) if w.contains("compressed")) },
        HostileArchive { name: "garbage after the tar end marker", bytes: compress(&tar_with_junk), limits, refusal: |e| matches!(e, E::TrailingData(w) if w.contains("tar")) },
        HostileArchive { name: "not zstd at all", bytes: raw_tar(&valid_entries()), limits, refusal: |e| matches!(e, E::Corrupt(_)) },
        HostileArchive { name: "wrong id", bytes: archive(&[manifest_with("id = \"python_code\"", "id = \"rust_code\""), RawEntry::readme(), RawEntry::weights()]), limits, refusal: |e| matches!(e, E::IdMismatch { found, .. } if found == "rust_code") },
        HostileArchive { name: "wrong version", bytes: archive(&[manifest_with("\"1.0.0\"", "\"1.0.1\""), RawEntry::readme(), RawEntry::weights()]), limits, refusal: |e| matches!(e, E::VersionMismatch { found, .. } if found == "1.0.1") },
        HostileArchive { name: "invalid manifest inside", bytes: archive(&[manifest_with("kind = \"domain\"", "kind = \"virus\""), RawEntry::weights()]), limits, refusal: |e| matches!(e, E::Manifest(m) if m.to_string().contains("virus")) },
        HostileArchive { name: "unexpected file", bytes: archive(&with(valid_entries(), vec![RawEntry::file("install.sh", "rm -rf ~")])), limits, refusal: |e| matches!(e, E::UnexpectedFile(n) if n == "install.sh") },
        HostileArchive { name: "non-UTF-8 name", bytes: archive(&with(valid_entries(), vec![RawEntry::raw_name(b"weights\xff.gguf", "x")])), limits, refusal: |e| matches!(e, E::NonUtf8Name(_)) },
        HostileArchive { name: "missing manifest", bytes: archive(&[RawEntry::weights(), RawEntry::readme()]), limits, refusal: |e| matches!(e, E::MissingManifest) },
        HostileArchive { name: "empty archive", bytes: archive(&[]), limits, refusal: |e| matches!(e, E::MissingManifest) },
        HostileArchive { name: "missing weights", bytes: archive(&[RawEntry::manifest(), RawEntry::readme()]), limits, refusal: |e| matches!(e, E::MissingWeights) },
        HostileArchive { name: "missing readme", bytes: archive(&[RawEntry::manifest(), RawEntry::weights()]), limits, refusal: |e| matches!(e, E::MissingReadme(r) if r == "README.md") },
        HostileArchive { name: "weights that are not GGUF", bytes: archive(&[RawEntry::manifest(), RawEntry::readme(), RawEntry::file("weights.gguf", "#!/bin/sh\n")]), limits, refusal: |e| matches!(e, E::NotGguf) },
    ];
    cases
}
