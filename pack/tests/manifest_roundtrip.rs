//! Any valid manifest survives `to_toml_string` → `from_toml_str` unchanged.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use modularbase_pack::{BaseCompat, ExpertFormat, Manifest, ModelShape, PackId, PackKind};
use proptest::prelude::*;
use semver::{Version, VersionReq};

fn pack_id() -> impl Strategy<Value = PackId> {
    "[a-z][a-z0-9_]{1,20}".prop_map(|s| PackId::new(&s).unwrap())
}

fn version() -> impl Strategy<Value = Version> {
    (
        0u64..30,
        0u64..30,
        0u64..30,
        prop::option::of("(alpha|beta|rc)\\.[1-9]"),
    )
        .prop_map(|(a, b, c, pre)| {
            let text = match pre {
                Some(p) => format!("{a}.{b}.{c}-{p}"),
                None => format!("{a}.{b}.{c}"),
            };
            text.parse().unwrap()
        })
}

fn requirement() -> impl Strategy<Value = VersionReq> {
    prop_oneof![
        Just("*".to_owned()),
        (0u64..5, 0u64..9).prop_map(|(a, b)| format!(">={a}.{b}")),
        (0u64..5, 0u64..9).prop_map(|(a, b)| format!("^{a}.{b}")),
        (0u64..5, 0u64..9, 0u64..9).prop_map(|(a, b, c)| format!("~{a}.{b}.{c}")),
        (0u64..5, 1u64..9).prop_map(|(a, b)| format!(">={a}.0, <{a}.{b}")),
        (0u64..5, 0u64..9, 0u64..9).prop_map(|(a, b, c)| format!("={a}.{b}.{c}")),
    ]
    .prop_map(|r| r.parse().unwrap())
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 .,'\"\\\\()-]{0,60}"
}

prop_compose! {
    fn manifest()(
        id in pack_id(),
        version in version(),
        name in text(),
        kind in prop_oneof![Just(PackKind::Base), Just(PackKind::Router), Just(PackKind::Domain)],
        domain in prop::option::of("[a-z][a-z0-9_-]{0,15}"),
        description in prop::option::of(text()),
        license in prop::option::of(prop_oneof![Just("MIT".to_owned()), Just("Apache-2.0 OR MIT".to_owned())]),
        base in pack_id(),
        compat in prop::collection::btree_set((0u64..4, 0u64..12), 1..4),
        candidates in prop::collection::btree_map(pack_id(), requirement(), 0..6),
        split in 0usize..6,
        fallback_len in 0usize..3,
        readme in prop::option::of("[A-Za-z][A-Za-z0-9_-]{0,10}\\.md"),
        shape in prop::option::of((1u32..8, 1u32..8, prop_oneof![Just(ExpertFormat::Q8_0), Just(ExpertFormat::Q4_0), Just(ExpertFormat::F16)])),
    ) -> Manifest {
        let mut others: Vec<(PackId, VersionReq)> = candidates.into_iter().filter(|(k, _)| *k != id && *k != base).collect();
        let conflicts: BTreeMap<_, _> = others.split_off(split.min(others.len())).into_iter().collect();
        let dependencies: BTreeMap<_, _> = others.into_iter().collect();
        let is_base = kind == PackKind::Base;
        let fallback: Vec<PackId> = if is_base { Vec::new() } else {
            dependencies.keys().take(fallback_len).cloned().collect()
        };
        let model = shape.map(|(k, e, format)| if is_base {
            ModelShape { hidden: Some(64 * k), heads: Some(k), layers: Some(e), ..ModelShape::default() }
        } else {
            ModelShape { hidden: Some(64), width: Some(32 * k), experts: Some(k.max(e)), top_k: Some(k.min(e)), insertion_layer: Some(0), expert_format: Some(format), ..ModelShape::default() }
        });
        Manifest {
            domain: if kind == PackKind::Domain { Some(domain.unwrap_or_else(|| "code".into())) } else { domain },
            base: (!is_base).then_some(base),
            base_compatibility: if is_base { Vec::new() } else {
                compat.into_iter().map(|(major, minor)| BaseCompat { major, minor }).collect()
            },
            id, version, name, kind, description, license, fallback, readme, dependencies, conflicts, model,
        }
    }
}

proptest! {
    #[test]
    fn manifests_round_trip_through_toml(manifest in manifest()) {
        let text = manifest.to_toml_string();
        let parsed = Manifest::from_toml_str(&text, Path::new("pack.toml"))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parsed, manifest);
    }
}
