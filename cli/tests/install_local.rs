//! `pack install ./ID-VERSION.mbpack`: a local archive is verified like a download
//! (checksum, the `.sig` beside it, the pinned key), its dependencies come from the
//! registry, the lock records its source, and later resolutions keep it. Every hostile
//! archive or signature is refused with the home left byte-for-byte as it was.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{assert_clean_and_verified, in_home, install, refused, succeeded, text};
use modularbase_pack::{ArchiveLimits, Sha256Digest, SigningKey, inspect_archive};
use modularbase_tests::archives::{expected, hostile_archives};
use modularbase_tests::{
    Pack, TestRegistry, TreeSnapshot, hostile_weights, sig_path, signature_json,
    write_local_archive,
};

/// `pack install ARGS…` in `home`, run from `dir`, with no registry unless ARGS name one.
fn run(dir: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["pack", "install"];
    all.extend_from_slice(args);
    in_home(dir, home, &all, "")
}

/// The lock entry of `id`, parsed.
fn locked(home: &Path, id: &str) -> Option<toml::Value> {
    let text = std::fs::read_to_string(home.join("modularbase.lock")).ok()?;
    let lock: toml::Value = toml::from_str(&text).unwrap();
    lock.get("pack")?
        .as_array()?
        .iter()
        .find(|p| p["id"].as_str() == Some(id))
        .cloned()
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

#[test]
fn a_signed_local_archive_installs_with_its_dependency_from_the_registry_and_stays() {
    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::domain("reasoning", "1.1.0"));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let key = SigningKey::generate();
    let archive = Pack::domain("local_code", "1.0.0")
        .dep("reasoning", ">=1.1")
        .local_archive(dir.path(), Some(&key));
    let out = install(dir.path(), &home, &registry, &["./local_code-1.0.0.mbpack"]);
    succeeded(&out);
    let stdout = text(&out.stdout);
    let source = file_url(&archive);
    for line in [
        "Installed local_code 1.0.0 (domain".to_owned(),
        format!("from {source}"),
        "Installed reasoning 1.1.0".to_owned(),
        "Installed tiny_base 1.0.0 (base".to_owned(),
    ] {
        assert!(stdout.contains(&line), "{line} missing in {stdout}");
    }
    let entry = locked(&home, "local_code").unwrap();
    assert_eq!(entry["source"].as_str(), Some(source.as_str()), "{entry}");
    assert!(entry.get("registry").is_none(), "{entry}");
    assert_eq!(
        entry["key"].as_str(),
        Some(key.public_key().to_string().as_str())
    );
    let reasoning = locked(&home, "reasoning").unwrap();
    assert_eq!(reasoning["registry"].as_str(), Some(registry.url.as_str()));
    let cksum = Sha256Digest::of(&std::fs::read(&archive).unwrap());
    assert!(
        home.join("cache/archives")
            .join(format!("{cksum}.mbpack"))
            .is_file()
    );
    let requests = std::fs::read_to_string(home.join("modularbase.toml")).unwrap();
    assert!(requests.contains("local_code = \"=1.0.0\""), "{requests}");
    let trusted = std::fs::read_to_string(home.join("trusted-keys.toml")).unwrap();
    assert!(trusted.contains(&key.public_key().to_string()), "{trusted}");
    let list = text(&in_home(dir.path(), &home, &["pack", "list"], "").stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("local_code") && l.contains("installed") && l.contains(&source)),
        "{list}"
    );
    assert_clean_and_verified(&home);

    // The archive may go: the lock and the cache keep the pack for later resolutions.
    std::fs::remove_file(&archive).unwrap();
    ada.publish_ok(&Pack::domain("other", "1.0.0"));
    succeeded(&install(dir.path(), &home, &registry, &["other"]));
    assert!(locked(&home, "local_code").is_some());
    ada.publish_ok(&Pack::domain("reasoning", "1.2.0"));
    let url = registry.url.as_str();
    let update = in_home(
        dir.path(),
        &home,
        &["pack", "update", "--registry", url],
        "",
    );
    succeeded(&update);
    assert_eq!(
        locked(&home, "reasoning").unwrap()["version"].as_str(),
        Some("1.2.0")
    );
    assert_eq!(locked(&home, "local_code").unwrap(), entry);
    let remove = ["pack", "remove", "other", "--offline", "--registry", url];
    succeeded(&in_home(dir.path(), &home, &remove, ""));
    assert_eq!(locked(&home, "local_code").unwrap(), entry);
    assert!(locked(&home, "other").is_none());
    succeeded(&run(
        dir.path(),
        &home,
        &["--offline", "--registry", url, "other"],
    ));
    assert_eq!(locked(&home, "local_code").unwrap(), entry);
    assert_clean_and_verified(&home);

    let drop = ["pack", "remove", "local_code", "--registry", url];
    succeeded(&in_home(dir.path(), &home, &drop, ""));
    assert!(locked(&home, "local_code").is_none());
    assert!(!home.join("packs/local_code").join("1.0.0").exists());
}

#[test]
fn an_unsigned_archive_is_refused_unless_allowed_and_then_locked_as_unsigned() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    Pack::base("tiny_base", "1.0.0").local_archive(dir.path(), None);
    let out = run(dir.path(), &home, &["./tiny_base-1.0.0.mbpack"]);
    refused(&out, "is not signed");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pack build") && stderr.contains("--allow-unsigned"),
        "{stderr}"
    );
    assert!(!home.join("modularbase.lock").exists());

    // No registry is configured, and none is needed.
    let out = run(
        dir.path(),
        &home,
        &["--allow-unsigned", "./tiny_base-1.0.0.mbpack"],
    );
    succeeded(&out);
    assert!(
        text(&out.stdout).contains("unsigned"),
        "{}",
        text(&out.stdout)
    );
    let entry = locked(&home, "tiny_base").unwrap();
    assert!(entry.get("key").is_none(), "{entry}");
    assert!(entry["source"].as_str().unwrap().starts_with("file:///"));
    let trusted = std::fs::read_to_string(home.join("trusted-keys.toml")).unwrap_or_default();
    assert!(!trusted.contains("tiny_base"), "{trusted}");
    let list = text(&in_home(dir.path(), &home, &["pack", "list"], "").stdout);
    assert!(list.contains("(unsigned)"), "{list}");
    assert_clean_and_verified(&home);
}

#[test]
fn a_key_other_than_the_pinned_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let first = SigningKey::generate();
    Pack::base("tiny_base", "1.0.0").local_archive(dir.path(), Some(&first));
    succeeded(&run(dir.path(), &home, &["./tiny_base-1.0.0.mbpack"]));
    let before = TreeSnapshot::of(&home);
    let other = SigningKey::generate();
    Pack::base("tiny_base", "1.1.0").local_archive(dir.path(), Some(&other));
    let out = run(dir.path(), &home, &["./tiny_base-1.1.0.mbpack"]);
    refused(&out, "but this home trusts key");
    refused(&out, "modularbase key trust tiny_base");
    before.assert_unchanged();
}

#[test]
fn a_version_the_registry_publishes_with_other_bytes_is_refused() {
    let (registry, _ada) = TestRegistry::with_base();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let key = SigningKey::generate();
    Pack::base("tiny_base", "1.0.0")
        .weights(modularbase_tests::synthetic_weights("base", b"other bytes"))
        .local_archive(dir.path(), Some(&key));
    let out = install(dir.path(), &home, &registry, &["./tiny_base-1.0.0.mbpack"]);
    refused(&out, "it is not the published archive");
    assert!(!home.join("modularbase.lock").exists());
}

#[test]
fn a_missing_archive_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = run(dir.path(), &home, &["./python_code-1.0.0.mbpack"]);
    refused(&out, "cannot open the archive `./python_code-1.0.0.mbpack`");
}

/// One refused `pack install ./python_code-1.0.0.mbpack`: the archive, the `.sig` beside it
/// (if any) and the words of its refusal.
struct Refusal {
    name: String,
    archive: Vec<u8>,
    sig: Option<Vec<u8>>,
    message: String,
}

/// A signed archive of `bytes`, as every archive case is: the signature is fine, the
/// contents are not.
fn signed(name: &str, archive: Vec<u8>, key: &SigningKey, message: String) -> Refusal {
    let cksum = Sha256Digest::of(&archive);
    let sig = signature_json("python_code", "1.0.0", &cksum, key).into_bytes();
    Refusal {
        name: name.to_owned(),
        archive,
        sig: Some(sig),
        message,
    }
}

/// Hostile `.sig` files beside a valid archive.
fn hostile_signatures(key: &SigningKey) -> Vec<Refusal> {
    let archive = Pack::domain("python_code", "1.0.0").archive();
    let cksum = Sha256Digest::of(&archive);
    let good = signature_json("python_code", "1.0.0", &cksum, key);
    let stranger = SigningKey::generate();
    let forged = good.replace(
        &key.public_key().to_string(),
        &stranger.public_key().to_string(),
    );
    let case = |name: &str, sig: Vec<u8>, message: &str| Refusal {
        name: name.to_owned(),
        archive: archive.clone(),
        sig: Some(sig),
        message: message.to_owned(),
    };
    vec![
        case(
            "truncated .sig",
            good.as_bytes()[..good.len() / 2].to_vec(),
            "is not a signature file",
        ),
        case(
            "huge .sig",
            format!("{good}{}", " ".repeat(1 << 20)).into_bytes(),
            "is over 4096 bytes",
        ),
        case(
            ".sig that is not JSON",
            b"\x00\xff\xfe not json".to_vec(),
            "is not a signature file",
        ),
        case(
            ".sig with wrong fields",
            br#"{"id":"python_code","version":"1.0.0"}"#.to_vec(),
            "is not a signature file",
        ),
        case(
            ".sig with a malformed key",
            good.replace(&key.public_key().to_string(), "ed25519:AAAA")
                .into_bytes(),
            "is not a signature file",
        ),
        case(
            ".sig for another checksum",
            signature_json("python_code", "1.0.0", &Sha256Digest::of(b"x"), key).into_bytes(),
            "signs checksum",
        ),
        case(
            ".sig for another id",
            signature_json("rust_code", "1.0.0", &cksum, key).into_bytes(),
            "signs rust_code@1.0.0, but the archive holds python_code@1.0.0",
        ),
        case(
            ".sig for another version",
            signature_json("python_code", "1.0.1", &cksum, key).into_bytes(),
            "signs python_code@1.0.1, but the archive holds python_code@1.0.0",
        ),
        case(
            ".sig with a bad signature",
            forged.into_bytes(),
            "does not verify",
        ),
    ]
}

#[test]
fn every_hostile_local_archive_is_refused_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let key = SigningKey::generate();
    Pack::base("tiny_base", "1.0.0").local_archive(&dir.path().join("base"), Some(&key));
    succeeded(&run(dir.path(), &home, &["./base/tiny_base-1.0.0.mbpack"]));
    let before = TreeSnapshot::of(&home);

    let mut cases = Vec::new();
    let sandbox = dir.path().join("sandbox");
    let mut accepted = Vec::new();
    for case in hostile_archives(&sandbox) {
        // Through the CLI every archive is read under the default limits: the refusal is
        // the one the pack crate gives under them.
        match inspect_archive(
            case.bytes.as_slice(),
            &ArchiveLimits::default(),
            Some(&expected()),
        ) {
            Ok(_) => accepted.push(case.name),
            Err(e) => cases.push(signed(case.name, case.bytes, &key, e.to_string())),
        }
    }
    assert!(
        accepted.len() <= 1,
        "valid under default limits: {accepted:?}"
    );
    for weights in hostile_weights() {
        let archive = Pack::domain("python_code", "1.0.0")
            .weights(weights.bytes)
            .unchecked_archive();
        cases.push(signed(weights.name, archive, &key, weights.message));
    }
    cases.extend(hostile_signatures(&key));
    assert!(cases.len() >= 40, "only {} cases", cases.len());

    for (n, case) in cases.iter().enumerate() {
        let at = dir.path().join(format!("case{n}"));
        let path = write_local_archive(&at, "python_code", "1.0.0", &case.archive, None);
        if let Some(sig) = &case.sig {
            std::fs::write(sig_path(&path), sig).unwrap();
        }
        let arg = format!("./case{n}/python_code-1.0.0.mbpack");
        let out = run(dir.path(), &home, &[arg.as_str()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", case.name);
        assert!(
            stderr.contains(&case.message),
            "{}: expected {:?} in:\n{stderr}",
            case.name,
            case.message
        );
        assert!(
            stderr.contains("nothing was installed"),
            "{}: {stderr}",
            case.name
        );
        let changes = before.changes();
        assert!(
            changes.is_empty(),
            "{}: the home changed: {changes:?}",
            case.name
        );
    }

    // Neither is a path that is not a file, nor an archive over the registry's limit.
    std::fs::create_dir(dir.path().join("python_code-1.0.0.mbpack")).unwrap();
    let out = run(dir.path(), &home, &["./python_code-1.0.0.mbpack"]);
    refused(&out, "is not a file");
    let big = dir.path().join("big/python_code-1.0.0.mbpack");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(modularbase_registry::DEFAULT_MAX_PUBLISH_BYTES + 1)
        .unwrap();
    let out = run(dir.path(), &home, &["./big/python_code-1.0.0.mbpack"]);
    refused(&out, "a registry accepts; refused");
    before.assert_unchanged();
}

#[test]
fn archives_mix_with_registry_requests_and_need_a_registry_only_for_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let key = SigningKey::generate();
    Pack::domain("local_code", "1.0.0").local_archive(dir.path(), Some(&key));
    let out = run(dir.path(), &home, &["./local_code-1.0.0.mbpack"]);
    refused(
        &out,
        "`tiny_base` is needed but there is no registry to fetch it from",
    );
    refused(&out, "no registry given");

    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::domain("reasoning", "1.1.0"));
    Pack::domain("local_code", "1.1.0").local_archive(dir.path(), Some(&key));
    let both = ["./local_code-1.0.0.mbpack", "local_code-1.1.0.mbpack"];
    let out = install(dir.path(), &home, &registry, &both);
    refused(&out, "two archives of `local_code` were given");

    let out = install(
        dir.path(),
        &home,
        &registry,
        &["reasoning", "local_code-1.1.0.mbpack"],
    );
    succeeded(&out);
    assert_eq!(
        locked(&home, "local_code").unwrap()["version"].as_str(),
        Some("1.1.0")
    );
    assert!(locked(&home, "reasoning").unwrap().get("source").is_none());
    assert_clean_and_verified(&home);
}
