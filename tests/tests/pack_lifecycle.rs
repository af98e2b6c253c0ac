//! Author → build with the CLI → unpack with the library: the format holds end to end.

#![allow(clippy::unwrap_used)]

use modularbase_pack::{ArchiveLimits, PackRef, Sha256Digest, sha256_file, unpack_archive};
use modularbase_tests::{PackDir, modularbase, synthetic_weights};

#[test]
fn a_pack_built_by_the_cli_unpacks_to_the_authored_files() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 97) as u8).collect();
    let weights = synthetic_weights("domain", &data);
    let dir = PackDir::domain(root.path(), "medical", "0.3.0")
        .weights(weights.clone())
        .write()
        .unwrap();

    let out = modularbase(&dir, &home, &["pack", "build"]).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = dir.join("target/medical-0.3.0.mbpack");
    let (cksum, _) = sha256_file(&archive).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&cksum.to_hex()));

    let installed = root.path().join("packs/medical/0.3.0");
    std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
    let expected = PackRef {
        id: "medical".parse().unwrap(),
        version: "0.3.0".parse().unwrap(),
    };
    let file = std::fs::File::open(&archive).unwrap();
    let contents = unpack_archive(file, &installed, &ArchiveLimits::default(), &expected).unwrap();
    assert_eq!(contents.manifest.domain.as_deref(), Some("test"));
    assert_eq!(
        Sha256Digest::of(&std::fs::read(installed.join("weights.gguf")).unwrap()),
        Sha256Digest::of(&weights)
    );
    assert!(!home.exists(), "building must not touch the home");
}
