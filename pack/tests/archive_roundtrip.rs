//! Archives built from pack directories unpack to the same bytes, deterministically.

#![allow(clippy::unwrap_used)]

mod support;

use std::fs;

use modularbase_pack::{
    ArchiveLimits, PackRef, Sha256Digest, archive_file_name, build_archive, inspect_archive,
    unpack_archive,
};
use proptest::prelude::*;
use support::{RawEntry, archive, tree, valid_entries, write_pack_dir};

fn expected() -> PackRef {
    PackRef {
        id: "python_code".parse().unwrap(),
        version: "1.0.0".parse().unwrap(),
    }
}

#[test]
fn a_built_archive_unpacks_to_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let pack = write_pack_dir(&dir.path().join("src"));
    let mut bytes = Vec::new();
    let built = build_archive(&pack, &mut bytes).unwrap();
    let names: Vec<_> = built.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["pack.toml", "README.md", "weights.gguf"]);

    let target = dir.path().join("installed");
    let unpacked = unpack_archive(
        bytes.as_slice(),
        &target,
        &ArchiveLimits::default(),
        &expected(),
    )
    .unwrap();
    assert_eq!(unpacked, built);
    assert_eq!(unpacked.manifest.id.as_str(), "python_code");
    for name in names {
        assert_eq!(
            fs::read(target.join(name)).unwrap(),
            fs::read(pack.join(name)).unwrap(),
            "{name}"
        );
    }
    assert_eq!(tree(&target), ["README.md", "pack.toml", "weights.gguf"]);
    assert_eq!(
        tree(dir.path())
            .iter()
            .filter(|p| p.contains(".mbpack-unpack"))
            .count(),
        0
    );
}

#[test]
fn the_hand_made_valid_archive_is_accepted() {
    // The adversarial suite's archives differ from this one only in their hostile part.
    let contents = inspect_archive(
        archive(&valid_entries()).as_slice(),
        &ArchiveLimits::default(),
        Some(&expected()),
    )
    .unwrap();
    assert_eq!(contents.files.len(), 3);
}

#[test]
fn building_twice_gives_identical_bytes_whatever_the_file_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let pack = write_pack_dir(&dir.path().join("a"));
    let mut first = Vec::new();
    build_archive(&pack, &mut first).unwrap();

    let copy = write_pack_dir(&dir.path().join("b"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(copy.join("weights.gguf"), fs::Permissions::from_mode(0o600)).unwrap();
    }
    let later = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2_000_000_000);
    fs::File::options()
        .write(true)
        .open(copy.join("README.md"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let mut second = Vec::new();
    build_archive(&copy, &mut second).unwrap();
    assert_eq!(Sha256Digest::of(&first), Sha256Digest::of(&second));
}

#[test]
fn a_pack_without_readme_is_packed_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let pack = write_pack_dir(&dir.path().join("src"));
    let manifest = fs::read_to_string(pack.join("pack.toml"))
        .unwrap()
        .replace("readme = \"README.md\"\n", "");
    fs::write(pack.join("pack.toml"), manifest).unwrap();
    let mut bytes = Vec::new();
    let built = build_archive(&pack, &mut bytes).unwrap();
    assert_eq!(built.files.len(), 2);
    let read = inspect_archive(bytes.as_slice(), &ArchiveLimits::default(), None).unwrap();
    assert_eq!(read.files, built.files);
}

#[test]
fn build_refuses_what_readers_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let pack = write_pack_dir(&dir.path().join("src"));
    fs::remove_file(pack.join("README.md")).unwrap();
    let err = build_archive(&pack, Vec::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the manifest names readme `README.md` but the archive does not contain it"
    );

    fs::write(pack.join("README.md"), "card").unwrap();
    fs::write(pack.join("weights.gguf"), "not gguf").unwrap();
    let err = build_archive(&pack, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("not a GGUF file"), "{err}");

    fs::remove_file(pack.join("weights.gguf")).unwrap();
    let err = build_archive(&pack, Vec::new()).unwrap_err();
    assert_eq!(err.to_string(), "the archive has no `weights.gguf`");

    fs::write(pack.join("pack.toml"), "[pack]\nid = 3\n").unwrap();
    let err = build_archive(&pack, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("pack.toml` at line 2"), "{err}");
}

#[test]
fn archive_names_follow_id_dash_version() {
    let version = "1.0.0-rc.1".parse().unwrap();
    assert_eq!(
        archive_file_name(&"python_code".parse().unwrap(), &version),
        "python_code-1.0.0-rc.1.mbpack"
    );
}

#[test]
fn a_readme_entry_may_not_be_a_second_manifest_name() {
    // `pack.toml` twice is a duplicate even though the second one is a valid name.
    let bytes = archive(&[
        RawEntry::manifest(),
        RawEntry::manifest(),
        RawEntry::weights(),
    ]);
    let err = inspect_archive(bytes.as_slice(), &ArchiveLimits::default(), None).unwrap_err();
    assert_eq!(err.to_string(), "entry `pack.toml` appears more than once");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn arbitrary_contents_round_trip_byte_for_byte(
        fill in proptest::collection::vec(any::<u8>(), 0..4_000),
        readme in "[ -~\n]{0,2000}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let pack = write_pack_dir(&dir.path().join("src"));
        let weights = support::weights(&fill);
        fs::write(pack.join("weights.gguf"), &weights).unwrap();
        fs::write(pack.join("README.md"), &readme).unwrap();
        let mut first = Vec::new();
        build_archive(&pack, &mut first).unwrap();
        let mut second = Vec::new();
        build_archive(&pack, &mut second).unwrap();
        prop_assert_eq!(&first, &second);

        let target = dir.path().join("out");
        let contents = unpack_archive(first.as_slice(), &target, &ArchiveLimits::default(), &expected()).unwrap();
        prop_assert_eq!(contents.unpacked_bytes(), (weights.len() + readme.len() + fs::metadata(pack.join("pack.toml")).unwrap().len() as usize) as u64);
        prop_assert_eq!(fs::read(target.join("weights.gguf")).unwrap(), weights);
        prop_assert_eq!(fs::read_to_string(target.join("README.md")).unwrap(), readme);
    }
}
