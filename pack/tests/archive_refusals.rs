//! Table-driven adversarial suite: malicious archives, each refused with its own specific
//! error, with the unpack target left absent and nothing written anywhere else.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use modularbase_pack::{
    ArchiveError as E, ArchiveLimits, PackRef, inspect_archive, unpack_archive,
};
use support::{RawEntry, archive, compress, raw_tar, tree, valid_entries, valid_manifest};
use tar::EntryType;

fn expected() -> PackRef {
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
    vec![pax, RawEntry::file("weights.gguf", support::weights(&[]))]
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    limits: ArchiveLimits,
    refusal: fn(&E) -> bool,
}

fn with(mut entries: Vec<RawEntry>, extra: Vec<RawEntry>) -> Vec<RawEntry> {
    entries.extend(extra);
    entries
}

fn cases(sandbox: &Path) -> Vec<Case> {
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
        Case { name: "path traversal", bytes: archive(&with(valid_entries(), vec![RawEntry::file("../escape", "x")])), limits, refusal: |e| matches!(e, E::PathTraversal(n) if n == "../escape") },
        Case { name: "traversal inside a name", bytes: archive(&with(valid_entries(), vec![RawEntry::file("a/../../escape", "x")])), limits, refusal: |e| matches!(e, E::PathTraversal(_)) },
        Case { name: "absolute path", bytes: archive(&with(valid_entries(), vec![RawEntry::file(absolute.to_str().unwrap(), "x")])), limits, refusal: |e| matches!(e, E::AbsolutePath(_)) },
        Case { name: "GNU long name hiding a traversal", bytes: archive(&with(vec![RawEntry::manifest()], long_name(&format!("{}/../../escape", "d".repeat(120)), b"x"))), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "GNU long-name extension") },
        Case { name: "PAX header hiding an absolute path", bytes: archive(&with(vec![RawEntry::manifest()], pax_path(absolute.to_str().unwrap()))), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "PAX extended header") },
        Case { name: "huge PAX header (memory exhaustion)", bytes: archive(&with(vec![RawEntry::manifest()], vec![RawEntry { kind: EntryType::XHeader, ..RawEntry::file("PaxHeader", vec![b'9'; 1 << 20]) }])), limits, refusal: |e| matches!(e, E::NotRegularFile { .. }) },
        Case { name: "symlink", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Symlink, "/etc/passwd")]), limits, refusal: |e| matches!(e, E::Symlink { target, .. } if target == "/etc/passwd") },
        Case { name: "hard link", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Link, "pack.toml")]), limits, refusal: |e| matches!(e, E::Hardlink { target, .. } if target == "pack.toml") },
        Case { name: "character device", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Char, "")]), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "character device") },
        Case { name: "block device", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Block, "")]), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "block device") },
        Case { name: "fifo", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Fifo, "")]), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "FIFO") },
        Case { name: "directory entry", bytes: archive(&[RawEntry::manifest(), RawEntry::special("weights.gguf", EntryType::Directory, "")]), limits, refusal: |e| matches!(e, E::NotRegularFile { kind, .. } if kind == "directory") },
        Case { name: "duplicate entry", bytes: archive(&with(valid_entries(), vec![RawEntry::weights()])), limits, refusal: |e| matches!(e, E::DuplicateEntry(n) if n == "weights.gguf") },
        Case { name: "oversized manifest", bytes: archive(&[RawEntry::file("pack.toml", format!("{}\n{}", valid_manifest(), "#".repeat(100_000)))]), limits, refusal: |e| matches!(e, E::EntryTooLarge { name, limit: 65536, .. } if name == "pack.toml") },
        Case { name: "decompression bomb", bytes: archive(&[RawEntry::manifest(), RawEntry::readme(), RawEntry::file("weights.gguf", [b"GGUF".as_slice(), &vec![0u8; 32 << 20]].concat())]), limits: small, refusal: |e| matches!(e, E::UnpackedSizeLimit { limit, .. } if *limit == 4 << 20) },
        Case { name: "header claiming a terabyte", bytes: archive(&[RawEntry::manifest(), RawEntry::weights().declared(1 << 40)]), limits, refusal: |e| matches!(e, E::UnpackedSizeLimit { .. }) },
        Case { name: "too many entries", bytes: valid.clone(), limits: ArchiveLimits { max_entries: 2, ..limits }, refusal: |e| matches!(e, E::TooManyEntries(2)) },
        Case { name: "truncated stream", bytes: valid[..valid.len() / 2].to_vec(), limits, refusal: |e| matches!(e, E::Truncated(_)) },
        Case { name: "entry cut short", bytes: archive(&[RawEntry::manifest(), RawEntry::readme(), RawEntry::weights().declared(5000)]), limits, refusal: |e| matches!(e, E::Truncated(_)) },
        Case { name: "garbage after the zstd frame", bytes: trailing_frame, limits, refusal: |e| matches!(e, E::TrailingData(w) if w.contains("compressed")) },
        Case { name: "garbage after the tar end marker", bytes: compress(&tar_with_junk), limits, refusal: |e| matches!(e, E::TrailingData(w) if w.contains("tar")) },
        Case { name: "not zstd at all", bytes: raw_tar(&valid_entries()), limits, refusal: |e| matches!(e, E::Corrupt(_)) },
        Case { name: "wrong id", bytes: archive(&[manifest_with("id = \"python_code\"", "id = \"rust_code\""), RawEntry::readme(), RawEntry::weights()]), limits, refusal: |e| matches!(e, E::IdMismatch { found, .. } if found == "rust_code") },
        Case { name: "wrong version", bytes: archive(&[manifest_with("\"1.0.0\"", "\"1.0.1\""), RawEntry::readme(), RawEntry::weights()]), limits, refusal: |e| matches!(e, E::VersionMismatch { found, .. } if found == "1.0.1") },
        Case { name: "invalid manifest inside", bytes: archive(&[manifest_with("kind = \"domain\"", "kind = \"virus\""), RawEntry::weights()]), limits, refusal: |e| matches!(e, E::Manifest(m) if m.to_string().contains("virus")) },
        Case { name: "unexpected file", bytes: archive(&with(valid_entries(), vec![RawEntry::file("install.sh", "rm -rf ~")])), limits, refusal: |e| matches!(e, E::UnexpectedFile(n) if n == "install.sh") },
        Case { name: "non-UTF-8 name", bytes: archive(&with(valid_entries(), vec![RawEntry::raw_name(b"weights\xff.gguf", "x")])), limits, refusal: |e| matches!(e, E::NonUtf8Name(_)) },
        Case { name: "missing manifest", bytes: archive(&[RawEntry::weights(), RawEntry::readme()]), limits, refusal: |e| matches!(e, E::MissingManifest) },
        Case { name: "empty archive", bytes: archive(&[]), limits, refusal: |e| matches!(e, E::MissingManifest) },
        Case { name: "missing weights", bytes: archive(&[RawEntry::manifest(), RawEntry::readme()]), limits, refusal: |e| matches!(e, E::MissingWeights) },
        Case { name: "missing readme", bytes: archive(&[RawEntry::manifest(), RawEntry::weights()]), limits, refusal: |e| matches!(e, E::MissingReadme(r) if r == "README.md") },
        Case { name: "weights that are not GGUF", bytes: archive(&[RawEntry::manifest(), RawEntry::readme(), RawEntry::file("weights.gguf", "#!/bin/sh\n")]), limits, refusal: |e| matches!(e, E::NotGguf) },
    ];
    cases
}

#[test]
fn every_malicious_archive_is_refused_and_nothing_is_written() {
    let sandbox = tempfile::tempdir().unwrap();
    let cases = cases(sandbox.path());
    assert!(cases.len() >= 15);
    let out = sandbox.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for case in cases {
        let target = out.join("python_code");
        let result = unpack_archive(case.bytes.as_slice(), &target, &case.limits, &expected());
        let err = match result {
            Ok(contents) => panic!("{}: accepted {contents:?}", case.name),
            Err(e) => e,
        };
        assert!(
            (case.refusal)(&err),
            "{}: wrong refusal: {err} ({err:?})",
            case.name
        );
        assert!(!target.exists(), "{}: target left behind", case.name);
        assert_eq!(
            tree(sandbox.path()),
            ["out"],
            "{}: something was written",
            case.name
        );

        let inspected = inspect_archive(case.bytes.as_slice(), &case.limits, Some(&expected()));
        let again = inspected.expect_err(case.name);
        assert_eq!(
            again.to_string(),
            err.to_string(),
            "{}: inspect and unpack disagree",
            case.name
        );
    }
    assert!(!Path::new("../escape").exists());
}

#[test]
fn refusal_messages_name_the_entry_and_the_rule() {
    let bytes = archive(&[
        RawEntry::manifest(),
        RawEntry::special("weights.gguf", EntryType::Symlink, "/etc/passwd"),
    ]);
    let err = inspect_archive(bytes.as_slice(), &ArchiveLimits::default(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "entry `weights.gguf` is a symbolic link to `/etc/passwd`; pack archives hold regular files only"
    );
}

#[test]
fn an_existing_target_is_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("python_code");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "mine").unwrap();
    let err = unpack_archive(
        archive(&valid_entries()).as_slice(),
        &target,
        &ArchiveLimits::default(),
        &expected(),
    )
    .unwrap_err();
    assert!(matches!(err, E::TargetExists(_)), "{err}");
    assert_eq!(
        std::fs::read_to_string(target.join("keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(tree(dir.path()), ["python_code", "python_code/keep.txt"]);
}
