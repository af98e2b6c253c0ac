//! Table-driven adversarial suite: malformed manifests, each refused with its own specific
//! problem, naming the file, the field and (where TOML has one) the line and column.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use modularbase_pack::{Manifest, ManifestError, ManifestProblem as P};
use support::valid_manifest;

/// One malformed manifest and what its refusal must say.
struct Case {
    name: &'static str,
    text: String,
    field: Option<&'static str>,
    line: Option<usize>,
    problem: fn(&P) -> bool,
}

fn edit(from: &str, to: &str) -> String {
    let text = valid_manifest();
    assert!(text.contains(from), "fixture lacks {from:?}");
    text.replacen(from, to, 1)
}

fn base_pack(extra: &str) -> String {
    format!(
        "[pack]\nid = \"tiny_base\"\nversion = \"1.0.0\"\nname = \"Tiny\"\nkind = \"base\"\n{extra}"
    )
}

fn with_model(model: &str) -> String {
    format!("{}\n[model]\n{model}\n", valid_manifest())
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        Case { name: "toml syntax error", text: edit("[dependencies]", "[dependencies"), field: Some("dependencies"), line: Some(14), problem: |p| matches!(p, P::Syntax(_)) },
        Case { name: "no [pack] table", text: "[dependencies]\nreasoning = \"1\"\n".into(), field: Some("pack"), line: None, problem: |p| matches!(p, P::MissingField) },
        Case { name: "missing id", text: edit("id = \"python_code\"\n", ""), field: Some("pack.id"), line: Some(1), problem: |p| matches!(p, P::MissingField) },
        Case { name: "uppercase id", text: edit("\"python_code\"", "\"PythonCode\""), field: Some("pack.id"), line: Some(2), problem: |p| matches!(p, P::InvalidId(_)) },
        Case { name: "id with a dash", text: edit("\"python_code\"", "\"python-code\""), field: Some("pack.id"), line: Some(2), problem: |p| matches!(p, P::InvalidId(_)) },
        Case { name: "id with a path", text: edit("\"python_code\"", "\"../etc\""), field: Some("pack.id"), line: Some(2), problem: |p| matches!(p, P::InvalidId(_)) },
        Case { name: "version not semver", text: edit("\"1.0.0\"", "\"1.0\""), field: Some("pack.version"), line: Some(3), problem: |p| matches!(p, P::InvalidVersion { .. }) },
        Case { name: "version of the wrong type", text: edit("\"1.0.0\"", "1"), field: Some("pack.version"), line: Some(3), problem: |p| matches!(p, P::Syntax(m) if m.contains("string")) },
        Case { name: "unknown kind", text: edit("\"domain\"\n", "\"plugin\"\n"), field: Some("pack.kind"), line: Some(5), problem: |p| matches!(p, P::InvalidKind(k) if k == "plugin") },
        Case { name: "empty name", text: edit("\"Python Code Pack\"", "\"  \""), field: Some("pack.name"), line: Some(4), problem: |p| matches!(p, P::Empty) },
        Case { name: "overlong name", text: edit("\"Python Code Pack\"", &format!("\"{}\"", "x".repeat(200))), field: Some("pack.name"), line: Some(4), problem: |p| matches!(p, P::TooLong { len: 200, max: 128 }) },
        Case { name: "control character in name", text: edit("\"Python Code Pack\"", "\"Py\\u001bthon\""), field: Some("pack.name"), line: Some(4), problem: |p| matches!(p, P::ControlCharacter) },
        Case { name: "domain pack without domain", text: edit("domain = \"code\"\n", ""), field: Some("pack.domain"), line: Some(1), problem: |p| matches!(p, P::RequiredForKind { kind: "domain" }) },
        Case { name: "invalid domain label", text: edit("\"code\"", "\"Code!\""), field: Some("pack.domain"), line: Some(6), problem: |p| matches!(p, P::InvalidDomain(_)) },
        Case { name: "domain pack without base", text: edit("base = \"tiny_base\"\n", ""), field: Some("pack.base"), line: Some(1), problem: |p| matches!(p, P::RequiredForKind { kind: "domain" }) },
        Case { name: "domain pack without base_compatibility", text: edit("base_compatibility = [\"1.0\", \"1.1\", \"1.2\"]\n", ""), field: Some("pack.base_compatibility"), line: Some(1), problem: |p| matches!(p, P::RequiredForKind { .. }) },
        Case { name: "empty base_compatibility", text: edit("[\"1.0\", \"1.1\", \"1.2\"]", "[]"), field: Some("pack.base_compatibility"), line: Some(10), problem: |p| matches!(p, P::Empty) },
        Case { name: "base_compatibility of one number", text: edit("\"1.1\", \"1.2\"", "\"1\""), field: Some("pack.base_compatibility"), line: Some(10), problem: |p| matches!(p, P::InvalidBaseCompat(v) if v == "1") },
        Case { name: "base_compatibility with a patch", text: edit("\"1.2\"", "\"1.2.0\""), field: Some("pack.base_compatibility"), line: Some(10), problem: |p| matches!(p, P::InvalidBaseCompat(_)) },
        Case { name: "base_compatibility with a leading zero", text: edit("\"1.2\"", "\"1.02\""), field: Some("pack.base_compatibility"), line: Some(10), problem: |p| matches!(p, P::InvalidBaseCompat(_)) },
        Case { name: "duplicate base_compatibility", text: edit("\"1.2\"", "\"1.0\""), field: Some("pack.base_compatibility"), line: Some(10), problem: |p| matches!(p, P::Duplicate(v) if v == "1.0") },
        Case { name: "base pack naming a base", text: base_pack("base = \"other\"\n"), field: Some("pack.base"), line: Some(6), problem: |p| matches!(p, P::NotAllowedForKind { kind: "base", .. }) },
        Case { name: "base pack with base_compatibility", text: base_pack("base_compatibility = [\"1.0\"]\n"), field: Some("pack.base_compatibility"), line: Some(6), problem: |p| matches!(p, P::NotAllowedForKind { kind: "base", .. }) },
        Case { name: "base pack with a fallback", text: base_pack("fallback = [\"general_chat\"]\n"), field: Some("pack.fallback"), line: Some(6), problem: |p| matches!(p, P::NotAllowedForKind { kind: "base", .. }) },
        Case { name: "fallback to itself", text: edit("\"general_chat\"]", "\"python_code\"]"), field: Some("pack.fallback"), line: Some(11), problem: |p| matches!(p, P::SelfReference(_)) },
        Case { name: "duplicate fallback", text: edit("\"general_chat\"]", "\"reasoning\"]"), field: Some("pack.fallback"), line: Some(11), problem: |p| matches!(p, P::Duplicate(v) if v == "reasoning") },
        Case { name: "invalid fallback id", text: edit("\"general_chat\"]", "\"General Chat\"]"), field: Some("pack.fallback"), line: Some(11), problem: |p| matches!(p, P::InvalidId(_)) },
        Case { name: "unparsable requirement", text: edit("\">=1.1\"", "\"~>1.1\""), field: Some("dependencies.reasoning"), line: Some(15), problem: |p| matches!(p, P::InvalidRequirement { .. }) },
        Case { name: "requirement of the wrong type", text: edit("\">=1.1\"", "{ version = \">=1.1\" }"), field: Some("dependencies.reasoning"), line: Some(15), problem: |p| matches!(p, P::Syntax(_)) },
        Case { name: "depends on itself", text: edit("reasoning = \">=1.1\"", "python_code = \"1\""), field: Some("dependencies.python_code"), line: Some(15), problem: |p| matches!(p, P::SelfReference(_)) },
        Case { name: "invalid dependency id", text: edit("reasoning = \">=1.1\"", "Reasoning = \"1\""), field: Some("dependencies.Reasoning"), line: Some(15), problem: |p| matches!(p, P::InvalidId(_)) },
        Case { name: "base family as a dependency", text: edit("reasoning = \">=1.1\"", "tiny_base = \"1\""), field: Some("dependencies.tiny_base"), line: Some(15), problem: |p| matches!(p, P::BaseAsDependency(_)) },
        Case { name: "conflicts with its own dependency", text: edit("legacy_python = \"*\"", "reasoning = \"<1.0\""), field: Some("conflicts.reasoning"), line: Some(18), problem: |p| matches!(p, P::DependencyConflict(_)) },
        Case { name: "conflicts with its fallback", text: edit("legacy_python = \"*\"", "general_chat = \"*\""), field: Some("conflicts.general_chat"), line: Some(18), problem: |p| matches!(p, P::DependencyConflict(_)) },
        Case { name: "conflicts with itself", text: edit("legacy_python = \"*\"", "python_code = \"*\""), field: Some("conflicts.python_code"), line: Some(18), problem: |p| matches!(p, P::SelfReference(_)) },
        Case { name: "misspelt field", text: edit("license = ", "licence = "), field: Some("pack.licence"), line: Some(8), problem: |p| matches!(p, P::UnknownField(m) if m.contains("licence")) },
        Case { name: "unknown table", text: format!("{}\n[extras]\nx = 1\n", valid_manifest()), field: Some("extras"), line: Some(20), problem: |p| matches!(p, P::UnknownField(m) if m.contains("extras")) },
        Case { name: "readme outside the pack", text: edit("\"README.md\"", "\"../README.md\""), field: Some("pack.readme"), line: Some(12), problem: |p| matches!(p, P::InvalidReadme { .. }) },
        Case { name: "readme shadowing the weights", text: edit("\"README.md\"", "\"weights.gguf\""), field: Some("pack.readme"), line: Some(12), problem: |p| matches!(p, P::InvalidReadme { .. }) },
        Case { name: "more experts active than exist", text: with_model("experts = 8\ntop_k = 9"), field: Some("model"), line: Some(20), problem: |p| matches!(p, P::InvalidModelShape(m) if m.contains("top_k")) },
        Case { name: "base-only shape in a domain pack", text: with_model("layers = 4"), field: Some("model"), line: Some(20), problem: |p| matches!(p, P::InvalidModelShape(m) if m.contains("layers")) },
        Case { name: "quantized experts of odd width", text: with_model("width = 100\nexpert_format = \"q4_0\""), field: Some("model"), line: Some(20), problem: |p| matches!(p, P::InvalidModelShape(m) if m.contains("multiple of 32")) },
        Case { name: "unknown expert format", text: with_model("expert_format = \"q3_k\""), field: Some("model.expert_format"), line: Some(21), problem: |p| matches!(p, P::Syntax(m) if m.contains("q3_k")) },
    ]
}

#[test]
fn every_malformed_manifest_is_refused_with_its_own_error() {
    let cases = cases();
    assert!(cases.len() >= 20);
    let path = Path::new("packs/python_code/pack.toml");
    for case in cases {
        let err: ManifestError = match Manifest::from_toml_str(&case.text, path) {
            Ok(m) => panic!("{}: accepted {m:?}", case.name),
            Err(e) => e,
        };
        let shown = err.to_string();
        assert!(
            (case.problem)(&err.problem),
            "{}: wrong problem: {shown}",
            case.name
        );
        assert_eq!(err.field.as_deref(), case.field, "{}: {shown}", case.name);
        assert_eq!(
            err.location.map(|(line, _)| line),
            case.line,
            "{}: {shown}",
            case.name
        );
        assert!(
            shown.starts_with("invalid manifest `packs/python_code/pack.toml`"),
            "{}: {shown}",
            case.name
        );
        if let Some(field) = case.field {
            assert!(
                shown.contains(&format!("`{field}`")),
                "{}: field not named: {shown}",
                case.name
            );
        }
    }
}

#[test]
fn non_utf8_manifest_is_refused() {
    let mut bytes = valid_manifest().into_bytes();
    bytes[30] = 0xff;
    let err = Manifest::from_toml_bytes(&bytes, Path::new("pack.toml")).unwrap_err();
    assert_eq!(*err.problem, P::NotUtf8);
    assert_eq!(
        err.to_string(),
        "invalid manifest `pack.toml`: the file is not valid UTF-8 text"
    );
}

#[test]
fn missing_file_names_the_path() {
    let err = Manifest::load(Path::new("/nonexistent/pack.toml")).unwrap_err();
    assert!(matches!(*err.problem, P::Unreadable(_)), "{err}");
    assert!(err.to_string().contains("/nonexistent/pack.toml"), "{err}");
}

#[test]
fn error_text_points_at_the_spot() {
    let text = edit("\"1.0.0\"", "\"one\"");
    let err = Manifest::from_toml_str(&text, Path::new("pack.toml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid manifest `pack.toml` at line 3, column 11: `pack.version`: `one` is not a semver version such as `1.0.0`: unexpected character 'o' while parsing major version number"
    );
}
