//! From TOML text to a validated [`Manifest`], keeping positions for every error.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use semver::{Version, VersionReq};
use serde::Deserialize;
use toml::Spanned;

use super::{BaseCompat, Manifest, ManifestError, ManifestProblem, ModelShape, PackKind};
use crate::PackId;

/// Longest `pack.name`.
const MAX_NAME: usize = 128;
/// Longest `pack.description`.
const MAX_DESCRIPTION: usize = 2048;
/// Longest `pack.license`.
const MAX_LICENSE: usize = 128;
/// Longest `pack.domain`.
const MAX_DOMAIN: usize = 64;
/// Longest readme file name: it must fit a plain tar header name field.
const MAX_README: usize = 100;

type Text = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    pack: Option<Spanned<RawPack>>,
    #[serde(default)]
    dependencies: BTreeMap<Text, Text>,
    #[serde(default)]
    conflicts: BTreeMap<Text, Text>,
    model: Option<Spanned<ModelShape>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    id: Option<Text>,
    version: Option<Text>,
    name: Option<Text>,
    kind: Option<Text>,
    domain: Option<Text>,
    description: Option<Text>,
    license: Option<Text>,
    base: Option<Text>,
    base_compatibility: Option<Spanned<Vec<Text>>>,
    fallback: Option<Spanned<Vec<Text>>>,
    readme: Option<Text>,
}

/// Turns spans into line/column and builds errors for one document.
struct Reporter<'a> {
    text: &'a str,
    origin: &'a Path,
}

impl Reporter<'_> {
    fn error(
        &self,
        span: Option<Range<usize>>,
        field: &str,
        problem: ManifestProblem,
    ) -> ManifestError {
        ManifestError {
            path: self.origin.to_owned(),
            location: span.map(|s| self.line_column(s.start)),
            field: (!field.is_empty()).then(|| field.to_owned()),
            problem: Box::new(problem),
        }
    }

    fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn toml_error(&self, err: &toml::de::Error) -> ManifestError {
        let message = err.message().trim().to_owned();
        let problem = if message.starts_with("unknown field") {
            ManifestProblem::UnknownField(message)
        } else {
            ManifestProblem::Syntax(message)
        };
        let field = err
            .span()
            .and_then(|s| self.field_at(s.start))
            .unwrap_or_default();
        self.error(err.span(), &field, problem)
    }

    /// The dotted `table.key` written on the line holding `offset`, found by reading the
    /// text around it (TOML errors carry a position, not a field name).
    fn field_at(&self, offset: usize) -> Option<String> {
        let (line, _) = self.line_column(offset);
        let lines: Vec<&str> = self.text.lines().collect();
        let header = |l: &str| {
            let l = l.trim();
            l.starts_with('[')
                .then(|| l.trim_matches(['[', ']', ' ']).to_owned())
        };
        let here = lines.get(line.checked_sub(1)?)?;
        if let Some(table) = header(here) {
            return Some(table);
        }
        let key = here.split_once('=')?.0.trim().trim_matches('"');
        let valid_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !valid_key {
            return None;
        }
        let table = lines[..line - 1].iter().rev().find_map(|l| header(l));
        Some(table.map_or_else(|| key.to_owned(), |t| format!("{t}.{key}")))
    }
}

pub(super) fn parse(text: &str, origin: &Path) -> Result<Manifest, ManifestError> {
    let r = Reporter { text, origin };
    let raw: RawManifest = toml::from_str(text).map_err(|e| r.toml_error(&e))?;
    let pack_span = raw.pack.as_ref().map(|p| p.span());
    let pack = raw
        .pack
        .map(Spanned::into_inner)
        .ok_or_else(|| r.error(None, "pack", ManifestProblem::MissingField))?;
    let required = |value: Option<Text>, field: &str| -> Result<Text, ManifestError> {
        value.ok_or_else(|| r.error(pack_span.clone(), field, ManifestProblem::MissingField))
    };

    let id_text = required(pack.id, "pack.id")?;
    let id = pack_id(&r, &id_text, "pack.id")?;
    let version_text = required(pack.version, "pack.version")?;
    let version = Version::parse(version_text.get_ref()).map_err(|e| {
        r.error(
            Some(version_text.span()),
            "pack.version",
            ManifestProblem::InvalidVersion {
                value: version_text.get_ref().escape_debug().to_string(),
                reason: e.to_string(),
            },
        )
    })?;
    let name = text_field(&r, required(pack.name, "pack.name")?, "pack.name", MAX_NAME)?;
    let kind_text = required(pack.kind, "pack.kind")?;
    let kind: PackKind = kind_text
        .get_ref()
        .parse()
        .map_err(|p| r.error(Some(kind_text.span()), "pack.kind", p))?;

    let domain = match pack.domain {
        Some(d) => Some(domain_field(&r, d)?),
        None if kind == PackKind::Domain => {
            return Err(r.error(
                pack_span,
                "pack.domain",
                ManifestProblem::RequiredForKind { kind: "domain" },
            ));
        }
        None => None,
    };
    let description = pack
        .description
        .map(|d| text_field(&r, d, "pack.description", MAX_DESCRIPTION))
        .transpose()?;
    let license = pack
        .license
        .map(|l| text_field(&r, l, "pack.license", MAX_LICENSE))
        .transpose()?;
    let readme = pack.readme.map(|f| readme_field(&r, f)).transpose()?;

    let (base, base_compatibility) = base_fields(
        &r,
        kind,
        pack.base,
        pack.base_compatibility,
        pack_span.clone(),
    )?;
    let fallback = fallback_field(&r, kind, &id, pack.fallback)?;
    let dependencies = requirement_table(&r, &id, raw.dependencies, "dependencies")?;
    let conflicts = requirement_table(&r, &id, raw.conflicts, "conflicts")?;
    if let Some((base, (span, _))) = base.as_ref().and_then(|b| dependencies.get_key_value(b)) {
        {
            return Err(r.error(
                Some(span.clone()),
                &format!("dependencies.{base}"),
                ManifestProblem::BaseAsDependency(base.to_string()),
            ));
        }
    }
    for (conflict, (span, _)) in &conflicts {
        if dependencies.contains_key(conflict) || fallback.contains(conflict) {
            return Err(r.error(
                Some(span.clone()),
                &format!("conflicts.{conflict}"),
                ManifestProblem::DependencyConflict(conflict.to_string()),
            ));
        }
    }
    let model = match raw.model {
        Some(shape) => {
            let span = shape.span();
            let shape = shape.into_inner();
            shape
                .check(kind)
                .map_err(|m| r.error(Some(span), "model", ManifestProblem::InvalidModelShape(m)))?;
            (!shape.is_empty()).then_some(shape)
        }
        None => None,
    };

    let strip = |t: BTreeMap<PackId, (Range<usize>, VersionReq)>| {
        t.into_iter().map(|(k, (_, v))| (k, v)).collect()
    };
    Ok(Manifest {
        id,
        version,
        name,
        kind,
        domain,
        description,
        license,
        base,
        base_compatibility,
        fallback,
        readme,
        dependencies: strip(dependencies),
        conflicts: strip(conflicts),
        model,
    })
}

fn pack_id(r: &Reporter<'_>, text: &Text, field: &str) -> Result<PackId, ManifestError> {
    PackId::new(text.get_ref())
        .map_err(|e| r.error(Some(text.span()), field, ManifestProblem::InvalidId(e)))
}

fn text_field(
    r: &Reporter<'_>,
    text: Text,
    field: &str,
    max: usize,
) -> Result<String, ManifestError> {
    let span = Some(text.span());
    let value = text.into_inner();
    let len = value.chars().count();
    let problem = if value.trim().is_empty() {
        Some(ManifestProblem::Empty)
    } else if len > max {
        Some(ManifestProblem::TooLong { len, max })
    } else if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        Some(ManifestProblem::ControlCharacter)
    } else {
        None
    };
    match problem {
        Some(p) => Err(r.error(span, field, p)),
        None => Ok(value),
    }
}

fn domain_field(r: &Reporter<'_>, text: Text) -> Result<String, ManifestError> {
    let value = text.get_ref();
    let valid = !value.is_empty()
        && value.len() <= MAX_DOMAIN
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(text.into_inner())
    } else {
        Err(r.error(
            Some(text.span()),
            "pack.domain",
            ManifestProblem::InvalidDomain(value.escape_debug().to_string()),
        ))
    }
}

fn readme_field(r: &Reporter<'_>, text: Text) -> Result<String, ManifestError> {
    let value = text.get_ref();
    let reason = if value.is_empty() {
        Some("it is empty")
    } else if value.len() > MAX_README {
        Some("the name is longer than 100 bytes")
    } else if value.contains(['/', '\\']) || value == "." || value == ".." {
        Some("it must be a file name in the pack directory, without `/`")
    } else if value.starts_with('.') {
        Some("hidden files are not packed")
    } else if value.chars().any(char::is_control) {
        Some("it contains control characters")
    } else if value == crate::MANIFEST_FILE || value == crate::WEIGHTS_FILE {
        Some("that name is reserved for the manifest and the weights")
    } else {
        None
    };
    match reason {
        None => Ok(text.into_inner()),
        Some(reason) => Err(r.error(
            Some(text.span()),
            "pack.readme",
            ManifestProblem::InvalidReadme {
                value: value.escape_debug().to_string(),
                reason,
            },
        )),
    }
}

fn base_fields(
    r: &Reporter<'_>,
    kind: PackKind,
    base: Option<Text>,
    compat: Option<Spanned<Vec<Text>>>,
    pack_span: Option<Range<usize>>,
) -> Result<(Option<PackId>, Vec<BaseCompat>), ManifestError> {
    if kind == PackKind::Base {
        let hint = "; a base pack is the base family itself";
        if let Some(b) = base {
            return Err(r.error(
                Some(b.span()),
                "pack.base",
                ManifestProblem::NotAllowedForKind { kind: "base", hint },
            ));
        }
        if let Some(c) = compat {
            return Err(r.error(
                Some(c.span()),
                "pack.base_compatibility",
                ManifestProblem::NotAllowedForKind { kind: "base", hint },
            ));
        }
        return Ok((None, Vec::new()));
    }
    let kind_name = kind.as_str();
    let base = base.ok_or_else(|| {
        r.error(
            pack_span.clone(),
            "pack.base",
            ManifestProblem::RequiredForKind { kind: kind_name },
        )
    })?;
    let base = pack_id(r, &base, "pack.base")?;
    let compat = compat.ok_or_else(|| {
        r.error(
            pack_span,
            "pack.base_compatibility",
            ManifestProblem::RequiredForKind { kind: kind_name },
        )
    })?;
    if compat.get_ref().is_empty() {
        return Err(r.error(
            Some(compat.span()),
            "pack.base_compatibility",
            ManifestProblem::Empty,
        ));
    }
    let mut seen = BTreeSet::new();
    let mut entries = Vec::new();
    for entry in compat.into_inner() {
        let parsed: BaseCompat = entry
            .get_ref()
            .parse()
            .map_err(|p| r.error(Some(entry.span()), "pack.base_compatibility", p))?;
        if !seen.insert(parsed) {
            return Err(r.error(
                Some(entry.span()),
                "pack.base_compatibility",
                ManifestProblem::Duplicate(parsed.to_string()),
            ));
        }
        entries.push(parsed);
    }
    Ok((Some(base), entries))
}

fn fallback_field(
    r: &Reporter<'_>,
    kind: PackKind,
    id: &PackId,
    fallback: Option<Spanned<Vec<Text>>>,
) -> Result<Vec<PackId>, ManifestError> {
    let Some(list) = fallback else {
        return Ok(Vec::new());
    };
    if kind == PackKind::Base {
        let hint = "; the base is always loaded and has nothing to fall back to";
        return Err(r.error(
            Some(list.span()),
            "pack.fallback",
            ManifestProblem::NotAllowedForKind { kind: "base", hint },
        ));
    }
    let mut ids: Vec<PackId> = Vec::new();
    for entry in list.into_inner() {
        let fallback_id = pack_id(r, &entry, "pack.fallback")?;
        let problem = if fallback_id == *id {
            Some(ManifestProblem::SelfReference(fallback_id.to_string()))
        } else if ids.contains(&fallback_id) {
            Some(ManifestProblem::Duplicate(fallback_id.to_string()))
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(r.error(Some(entry.span()), "pack.fallback", p));
        }
        ids.push(fallback_id);
    }
    Ok(ids)
}

fn requirement_table(
    r: &Reporter<'_>,
    id: &PackId,
    table: BTreeMap<Text, Text>,
    section: &str,
) -> Result<BTreeMap<PackId, (Range<usize>, VersionReq)>, ManifestError> {
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let field = format!("{section}.{}", key.get_ref().escape_debug());
        let dep = pack_id(r, &key, &field)?;
        if dep == *id {
            return Err(r.error(
                Some(key.span()),
                &field,
                ManifestProblem::SelfReference(dep.to_string()),
            ));
        }
        let req = VersionReq::parse(value.get_ref()).map_err(|e| {
            r.error(
                Some(value.span()),
                &field,
                ManifestProblem::InvalidRequirement {
                    value: value.get_ref().escape_debug().to_string(),
                    reason: e.to_string(),
                },
            )
        })?;
        out.insert(dep, (key.span(), req));
    }
    Ok(out)
}
