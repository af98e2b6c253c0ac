//! Index records and API wire types: the JSON field names of DESIGN §3, and round trips.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use modularbase_pack::{
    ErrorEnvelope, IndexConfig, IndexRecord, KeyInfo, KeyList, Manifest, OwnerList, OwnerUser,
    PackDetails, PackKind, PublishBodyError, PublishMetadata, PublishResponse, SearchHit,
    SearchMeta, SearchResponse, Sha256Digest, SigningKey, VersionSummary, decode_publish_header,
    encode_publish_header, parse_index_lines,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn record() -> IndexRecord {
    let manifest =
        Manifest::from_toml_str(&support::valid_manifest(), Path::new("pack.toml")).unwrap();
    let key = SigningKey::from_seed([3; 32]);
    let cksum = Sha256Digest::of(b"archive bytes");
    let sig = key.sign_pack(&manifest.id, &manifest.version, &cksum);
    IndexRecord::new(&manifest, cksum, sig, key.public_key(), 13)
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value, "{json}");
}

#[test]
fn index_record_uses_the_documented_fields() {
    let line = record().to_line();
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    let mut expected = [
        "id",
        "vers",
        "kind",
        "deps",
        "base",
        "base_compat",
        "conflicts",
        "fallback",
        "cksum",
        "sig",
        "key",
        "yanked",
        "size",
    ];
    expected.sort_unstable();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expected);
    assert_eq!(
        json["deps"],
        serde_json::json!([{ "id": "reasoning", "req": ">=1.1" }])
    );
    assert_eq!(
        json["base_compat"],
        serde_json::json!(["1.0", "1.1", "1.2"])
    );
    assert_eq!(
        json["conflicts"],
        serde_json::json!([{ "id": "legacy_python", "req": "*" }])
    );
    assert!(json["key"].as_str().unwrap().starts_with("ed25519:"));
    assert_eq!(json["yanked"], false);
}

#[test]
fn index_files_round_trip_line_by_line() {
    let first = record();
    let mut second = record();
    second.vers = "1.1.0".parse().unwrap();
    second.yanked = true;
    let file = format!("{}\n{}\n", first.to_line(), second.to_line());
    let parsed = parse_index_lines(&first.id, &file).unwrap();
    assert_eq!(parsed, vec![first.clone(), second]);
    let record = &parsed[0];
    record
        .key
        .verify_pack(&record.id, &record.vers, &record.cksum, &record.sig)
        .unwrap();
}

#[test]
fn bad_index_lines_are_reported_with_their_line() {
    let good = record();
    let tampered = good
        .to_line()
        .replace("\"kind\":\"domain\"", "\"kind\":\"worm\"");
    let err =
        parse_index_lines(&good.id, &format!("{}\n{tampered}\n", good.to_line())).unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.to_string().contains("worm"), "{err}");

    let other = parse_index_lines(&"reasoning".parse().unwrap(), &good.to_line()).unwrap_err();
    assert!(
        other
            .to_string()
            .contains("the record is for `python_code`"),
        "{other}"
    );

    let bad_sum = good.to_line().replace(&good.cksum.to_hex(), "abc");
    assert!(parse_index_lines(&good.id, &bad_sum).is_err());
}

#[test]
fn api_types_round_trip() {
    let r = record();
    round_trip(&r);
    round_trip(&IndexConfig {
        dl: "http://127.0.0.1:7878/api/v1/packs/{id}/{vers}/download".into(),
        api: "http://127.0.0.1:7878".into(),
    });
    round_trip(&PublishMetadata {
        id: r.id.clone(),
        vers: r.vers.clone(),
        cksum: r.cksum,
        sig: r.sig,
        key: r.key,
    });
    round_trip(&PublishResponse {
        id: r.id.clone(),
        vers: r.vers.clone(),
        warnings: vec!["no readme".into()],
    });
    round_trip(&ErrorEnvelope::single(
        "version 1.0.0 of `python_code` already exists",
    ));
    round_trip(&SearchResponse {
        packs: vec![SearchHit {
            id: r.id.clone(),
            name: "Python".into(),
            kind: PackKind::Domain,
            domain: Some("code".into()),
            description: None,
            max_version: Some(r.vers.clone()),
            downloads: 7,
            updated_at: "2026-11-26T00:00:00Z".into(),
        }],
        meta: SearchMeta { total: 1 },
    });
    round_trip(&PackDetails {
        id: r.id.clone(),
        name: "Python".into(),
        kind: PackKind::Domain,
        domain: None,
        description: None,
        license: Some("MIT".into()),
        downloads: 3,
        owners: vec!["ada".into()],
        versions: vec![VersionSummary {
            vers: r.vers.clone(),
            yanked: false,
            size: 13,
            cksum: r.cksum,
            downloads: 3,
            published_at: "2026-11-26T00:00:00Z".into(),
            key_fingerprint: r.key.fingerprint(),
        }],
    });
    round_trip(&OwnerList {
        users: vec![OwnerUser {
            login: "ada".into(),
        }],
    });
    round_trip(&KeyList {
        keys: vec![KeyInfo {
            key: r.key,
            fingerprint: r.key.fingerprint(),
            created_at: "2026-11-26T00:00:00Z".into(),
            revoked: false,
        }],
    });
    assert_eq!(
        serde_json::to_string(&ErrorEnvelope::single("x")).unwrap(),
        r#"{"errors":[{"detail":"x"}]}"#
    );
}

#[test]
fn publish_body_header_round_trips_and_refuses_damage() {
    let r = record();
    let metadata = PublishMetadata {
        id: r.id.clone(),
        vers: r.vers.clone(),
        cksum: r.cksum,
        sig: r.sig,
        key: r.key,
    };
    let archive = b"archive bytes";
    let mut body = encode_publish_header(&metadata, archive.len() as u32);
    let json_len = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
    assert_eq!(body.len(), 4 + json_len + 4);
    body.extend_from_slice(archive);

    let mut reader = body.as_slice();
    let (decoded, len) = decode_publish_header(&mut reader).unwrap();
    assert_eq!((decoded, len as usize), (metadata, archive.len()));
    assert_eq!(reader, archive, "the archive bytes follow the header");

    assert!(matches!(
        decode_publish_header(&body[..10]),
        Err(PublishBodyError::Truncated(_))
    ));
    assert!(matches!(
        decode_publish_header(&u32::MAX.to_le_bytes()[..]),
        Err(PublishBodyError::MetadataTooLarge(_))
    ));
    let mut garbled = body.clone();
    garbled[4] = b'[';
    assert!(matches!(
        decode_publish_header(garbled.as_slice()),
        Err(PublishBodyError::InvalidMetadata(_))
    ));
}
