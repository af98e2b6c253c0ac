//! Publishing to a real registry: the happy path, and every refusal with its status and a
//! JSON error that says what to fix, leaving nothing behind.

#![allow(clippy::unwrap_used)]

use modularbase_pack::{Sha256Digest, SigningKey};
use modularbase_tests::{Pack, TestRegistry, Upload, refusal};

#[test]
fn a_published_pack_appears_in_the_index_signed_and_downloadable() {
    let (registry, ada) = TestRegistry::with_base();
    let pack = Pack::domain("reasoning", "1.1.0").fallback(&["general_chat"]);
    let upload = ada.prepare(&pack);
    let response = ada.send(upload.body());
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["id"], "reasoning");
    assert_eq!(body["vers"], "1.1.0");

    let records = registry.index("reasoning");
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(
        (record.cksum, record.size),
        (upload.metadata.cksum, upload.archive.len() as u64)
    );
    assert_eq!(record.base.as_ref().unwrap().as_str(), "tiny_base");
    assert_eq!(record.fallback[0].as_str(), "general_chat");
    record
        .key
        .verify_pack(&record.id, &record.vers, &record.cksum, &record.sig)
        .unwrap();

    let download = registry.get("/api/v1/packs/reasoning/1.1.0/download");
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-length"],
        upload.archive.len().to_string().as_str()
    );
    assert_eq!(
        download.bytes().unwrap().as_ref(),
        upload.archive.as_slice()
    );
}

#[test]
fn refused_without_a_token() {
    let (registry, ada) = TestRegistry::with_base();
    let body = ada.prepare(&Pack::domain("reasoning", "1.0.0")).body();
    let response = registry
        .client()
        .put(format!("{}/api/v1/packs/new", registry.url))
        .body(body)
        .send()
        .unwrap();
    let (status, detail) = refusal(response);
    assert_eq!(status, 401);
    assert!(detail.contains("needs an API token"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_with_an_invalid_token() {
    let (registry, ada) = TestRegistry::with_base();
    let forged = format!("{}x", ada.token);
    let (status, detail) = refusal(
        ada.with_token(&forged)
            .publish(&Pack::domain("reasoning", "1.0.0")),
    );
    assert_eq!(status, 401);
    assert!(detail.contains("invalid or revoked"), "{detail}");
    let (status, _) = refusal(
        ada.with_token("not-a-token")
            .publish(&Pack::domain("reasoning", "1.0.0")),
    );
    assert_eq!(status, 401);
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_with_a_revoked_token() {
    let (registry, ada) = TestRegistry::with_base();
    let out = registry.admin(&["token", "revoke", &ada.token]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, detail) = refusal(ada.publish(&Pack::domain("reasoning", "1.0.0")));
    assert_eq!(status, 401);
    assert!(detail.contains("invalid or revoked"), "{detail}");
}

#[test]
fn refused_when_the_token_lacks_publish_new() {
    let (registry, ada) = TestRegistry::with_base();
    let yank_only = ada.with_token(&registry.token("ada", &["yank"]));
    let (status, detail) = refusal(yank_only.publish(&Pack::domain("reasoning", "1.0.0")));
    assert_eq!(status, 403);
    assert!(detail.contains("lacks the `publish-new` scope"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_when_the_token_lacks_publish_update() {
    let (registry, ada) = TestRegistry::with_base();
    let new_only = ada.with_token(&registry.token("ada", &["publish-new"]));
    let (status, detail) = refusal(new_only.publish(&Pack::base("tiny_base", "1.1.0")));
    assert_eq!(status, 403);
    assert!(
        detail.contains("lacks the `publish-update` scope"),
        "{detail}"
    );
    assert_eq!(registry.index("tiny_base").len(), 1);
}

#[test]
fn refused_when_someone_else_owns_the_pack() {
    let (registry, _ada) = TestRegistry::with_base();
    let bob = registry.user("bob");
    let (status, detail) = refusal(bob.publish(&Pack::base("tiny_base", "1.1.0")));
    assert_eq!(status, 403);
    assert!(detail.contains("`bob` is not an owner"), "{detail}");
    assert_eq!(registry.index("tiny_base").len(), 1);
}

#[test]
fn refused_when_the_key_is_not_registered() {
    let (registry, ada) = TestRegistry::with_base();
    let stranger = ada.with_key(SigningKey::generate());
    let (status, detail) = refusal(stranger.publish(&Pack::domain("reasoning", "1.0.0")));
    assert_eq!(status, 403);
    assert!(detail.contains("is not registered to `ada`"), "{detail}");
    assert!(detail.contains("modularbase key register"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_when_the_key_was_revoked() {
    let (registry, ada) = TestRegistry::with_base();
    let fingerprint = ada.key.public_key().fingerprint();
    let response = ada
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{fingerprint}"),
        )
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, detail) = refusal(ada.publish(&Pack::domain("reasoning", "1.0.0")));
    assert_eq!(status, 403);
    assert!(detail.contains("or was revoked"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_when_the_signature_does_not_verify() {
    let (registry, ada) = TestRegistry::with_base();
    let mut upload: Upload = ada.prepare(&Pack::domain("reasoning", "1.0.0"));
    upload.metadata.sig = ada.key.sign_pack(
        &upload.metadata.id,
        &upload.metadata.vers,
        &Sha256Digest::of(b"something else"),
    );
    let (status, detail) = refusal(ada.send(upload.body()));
    assert_eq!(status, 400);
    assert!(detail.contains("does not verify against key"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_when_the_checksum_does_not_match_the_bytes() {
    let (registry, ada) = TestRegistry::with_base();
    let honest = ada.prepare(&Pack::domain("reasoning", "1.0.0"));
    // Signed metadata for one archive, bytes of another (a corrupted or swapped upload).
    let other = ada.prepare(&Pack::domain("reasoning", "1.0.0").description("different bytes"));
    let swapped = Upload {
        metadata: honest.metadata,
        archive: other.archive,
    };
    let (status, detail) = refusal(ada.send(swapped.body()));
    assert_eq!(status, 400);
    assert!(detail.starts_with("checksum mismatch"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_when_the_archive_holds_another_version() {
    let (registry, ada) = TestRegistry::with_base();
    let mut upload = ada.prepare(&Pack::domain("reasoning", "1.0.0"));
    upload.metadata.vers = "2.0.0".parse().unwrap();
    upload.metadata.sig = ada.key.sign_pack(
        &upload.metadata.id,
        &upload.metadata.vers,
        &upload.metadata.cksum,
    );
    let (status, detail) = refusal(ada.send(upload.body()));
    assert_eq!(status, 400);
    assert!(detail.contains("the archive is refused: the archive's manifest says version `1.0.0` but `2.0.0` was expected"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_when_the_archive_is_hostile() {
    let (registry, ada) = TestRegistry::with_base();
    let mut upload = ada.prepare(&Pack::domain("reasoning", "1.0.0"));
    upload.archive.extend_from_slice(b"smuggled");
    upload.metadata.cksum = Sha256Digest::of(&upload.archive);
    upload.metadata.sig = ada.key.sign_pack(
        &upload.metadata.id,
        &upload.metadata.vers,
        &upload.metadata.cksum,
    );
    let (status, detail) = refusal(ada.send(upload.body()));
    assert_eq!(status, 400);
    assert!(
        detail.contains("unexpected data after the end of the compressed stream"),
        "{detail}"
    );
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_when_the_version_exists_even_if_yanked() {
    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0"));
    let (status, detail) =
        refusal(ada.publish(&Pack::domain("reasoning", "1.0.0").description("new bytes")));
    assert_eq!(status, 409);
    assert!(
        detail.contains("`reasoning@1.0.0` already exists; versions are immutable"),
        "{detail}"
    );

    let yank = ada
        .request(
            reqwest::Method::DELETE,
            "/api/v1/packs/reasoning/1.0.0/yank",
        )
        .send()
        .unwrap();
    assert_eq!(yank.status(), 200);
    let (status, _) =
        refusal(ada.publish(&Pack::domain("reasoning", "1.0.0").description("new bytes")));
    assert_eq!(status, 409, "yanking must not free a version");
    let records = registry.index("reasoning");
    assert_eq!(records.len(), 1);
    assert!(records[0].yanked);
}

#[test]
fn refused_when_a_dependency_is_missing_or_out_of_range() {
    let (registry, ada) = TestRegistry::with_base();
    let (status, detail) =
        refusal(ada.publish(&Pack::domain("python_code", "1.0.0").dep("reasoning", ">=1.1")));
    assert_eq!(status, 400);
    assert!(
        detail.contains(
            "dependency `reasoning >=1.1` of `python_code` has no published version in range"
        ),
        "{detail}"
    );
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0"));
    let (status, _) =
        refusal(ada.publish(&Pack::domain("python_code", "1.0.0").dep("reasoning", ">=1.1")));
    assert_eq!(status, 400);
    ada.publish_ok(&Pack::domain("reasoning", "1.1.0"));
    ada.publish_ok(&Pack::domain("python_code", "1.0.0").dep("reasoning", ">=1.1"));
    assert!(registry.index("python_code").len() == 1);
}

#[test]
fn refused_when_the_base_is_missing_or_incompatible() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let (status, detail) = refusal(ada.publish(&Pack::domain("reasoning", "1.0.0")));
    assert_eq!(status, 400);
    assert!(
        detail.contains("base `tiny_base` has no published version in 1.0"),
        "{detail}"
    );
    ada.publish_ok(&Pack::base("tiny_base", "2.0.0"));
    let (status, _) = refusal(ada.publish(&Pack::domain("reasoning", "1.0.0")));
    assert_eq!(status, 400);
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0").base_compat("tiny_base", &["1.0", "2.0"]));
}

#[test]
fn refused_when_the_body_exceeds_the_limit() {
    let registry = TestRegistry::start_with(&["--max-publish-bytes", "4096"]);
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    let big = Pack::domain("reasoning", "1.0.0").weights(modularbase_tests::synthetic_weights(
        "domain",
        &rand_bytes(20_000),
    ));
    let (status, detail) = refusal(ada.publish(&big));
    assert_eq!(status, 413);
    assert!(detail.contains("limit of 4096 bytes"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_when_the_body_is_malformed() {
    let (registry, ada) = TestRegistry::with_base();
    let (status, detail) = refusal(ada.send(vec![1, 0]));
    assert_eq!(status, 400);
    assert!(detail.contains("ends before its metadata"), "{detail}");
    let mut body = ada.prepare(&Pack::domain("reasoning", "1.0.0")).body();
    body.truncate(body.len() - 10);
    let (status, detail) = refusal(ada.send(body));
    assert_eq!(status, 400);
    assert!(
        detail.contains("archive bytes but its header announces"),
        "{detail}"
    );
    let (status, detail) =
        refusal(ada.send([&8u32.to_le_bytes()[..], b"not json", &0u32.to_le_bytes()].concat()));
    assert_eq!(status, 400);
    assert!(detail.contains("metadata is invalid"), "{detail}");
    assert!(registry.index("reasoning").is_empty());
}

#[test]
fn refused_with_build_metadata_in_the_version() {
    let (_registry, ada) = TestRegistry::with_base();
    let (status, detail) = refusal(ada.publish(&Pack::domain("reasoning", "1.0.0+build.7")));
    assert_eq!(status, 400);
    assert!(detail.contains("build metadata"), "{detail}");
}

fn rand_bytes(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
