//! Table-driven adversarial suite: malicious archives (the shared table of
//! `modularbase_tests::archives`), each refused with its own specific error, with the unpack
//! target left absent and nothing written anywhere else.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use modularbase_pack::{ArchiveError as E, ArchiveLimits, inspect_archive, unpack_archive};
use modularbase_tests::archives::{expected, hostile_archives};
use support::{RawEntry, archive, tree, valid_entries};
use tar::EntryType;

#[test]
fn every_malicious_archive_is_refused_and_nothing_is_written() {
    let sandbox = tempfile::tempdir().unwrap();
    let cases = hostile_archives(sandbox.path());
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
