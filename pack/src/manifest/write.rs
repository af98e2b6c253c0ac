//! A [`Manifest`] back to TOML, in the canonical layout `pack init` writes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Manifest, ModelShape};

#[derive(Serialize)]
struct Document<'a> {
    pack: PackTable<'a>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    dependencies: BTreeMap<&'a str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    conflicts: BTreeMap<&'a str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a ModelShape>,
}

#[derive(Serialize)]
struct PackTable<'a> {
    id: &'a str,
    version: String,
    name: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    base_compatibility: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fallback: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readme: Option<&'a str>,
}

fn requirements(table: &BTreeMap<crate::PackId, semver::VersionReq>) -> BTreeMap<&str, String> {
    table
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_string()))
        .collect()
}

pub(super) fn to_toml_string(m: &Manifest) -> String {
    let doc = Document {
        pack: PackTable {
            id: m.id.as_str(),
            version: m.version.to_string(),
            name: &m.name,
            kind: m.kind.as_str(),
            domain: m.domain.as_deref(),
            description: m.description.as_deref(),
            license: m.license.as_deref(),
            base: m.base.as_ref().map(|b| b.as_str()),
            base_compatibility: m
                .base_compatibility
                .iter()
                .map(ToString::to_string)
                .collect(),
            fallback: m.fallback.iter().map(|f| f.as_str()).collect(),
            readme: m.readme.as_deref(),
        },
        dependencies: requirements(&m.dependencies),
        conflicts: requirements(&m.conflicts),
        model: m.model.as_ref(),
    };
    // Every field is a string, integer, array of strings or table of those, which TOML
    // always represents, so serialisation cannot fail.
    toml::to_string(&doc).unwrap_or_else(|e| unreachable!("manifest serialisation failed: {e}"))
}
