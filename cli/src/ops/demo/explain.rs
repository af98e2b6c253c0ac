//! Why the resolver chose each version, in words: who asked for the pack (the user, another
//! pack's dependency, or the packs aligned with a base), and which of its published
//! versions each demand ruled out.

use modularbase_pack::{BaseCompat, IndexRecord, PackId, PackKind};
use semver::{Version, VersionReq};

use crate::resolve::{IndexSource, Resolution};

/// What one demand admits.
enum Admits<'a> {
    /// A requirement (the user's or a dependency's).
    Req(&'a VersionReq),
    /// A base compatibility list.
    Compat(&'a [BaseCompat]),
}

impl Admits<'_> {
    fn admits(&self, version: &Version) -> bool {
        match self {
            Self::Req(req) => req.matches(version),
            Self::Compat(compat) => compat.iter().any(|c| c.admits(version)),
        }
    }
}

/// One demand on a pack: who makes it, in words, and what it admits.
struct Demand<'a> {
    who: String,
    admits: Admits<'a>,
}

/// One line per chosen pack (what was asked for first, bases last): the demands on it,
/// each with the published versions it rules out.
pub(crate) fn explain(
    resolution: &Resolution,
    requests: &[(PackId, VersionReq)],
    index: &impl IndexSource,
) -> anyhow::Result<Vec<String>> {
    let mut chosen: Vec<&IndexRecord> = resolution.packs.values().collect();
    chosen.sort_by_key(|r| {
        (
            r.kind == PackKind::Base,
            !requests.iter().any(|(id, _)| *id == r.id),
            r.id.clone(),
        )
    });
    let mut lines = Vec::with_capacity(chosen.len());
    for record in &chosen {
        let published: Vec<Version> = index
            .records(&record.id)?
            .into_iter()
            .filter(|r| !r.yanked)
            .map(|r| r.vers)
            .collect();
        let reasons: Vec<String> = demands(record, requests, &chosen)
            .iter()
            .map(|demand| {
                let ruled_out: Vec<String> = published
                    .iter()
                    .filter(|v| !demand.admits.admits(v))
                    .map(ToString::to_string)
                    .collect();
                if ruled_out.is_empty() {
                    demand.who.clone()
                } else {
                    format!("{} (rules out {})", demand.who, ruled_out.join(", "))
                }
            })
            .collect();
        lines.push(format!(
            "{:<20} ← {}",
            format!("{} {}", record.id, record.vers),
            reasons.join("; ")
        ));
    }
    Ok(lines)
}

/// Everything asking for `record`'s pack: the user's requests, the dependencies of the
/// other chosen packs, and (for a base) the packs aligned with it.
fn demands<'a>(
    record: &IndexRecord,
    requests: &'a [(PackId, VersionReq)],
    chosen: &[&'a IndexRecord],
) -> Vec<Demand<'a>> {
    let id = &record.id;
    let asked = requests
        .iter()
        .filter(|(wanted, _)| wanted == id)
        .map(|(_, req)| Demand {
            who: format!("you asked for {id} {req}"),
            admits: Admits::Req(req),
        });
    let needed = chosen.iter().flat_map(|other| {
        other
            .deps
            .iter()
            .filter(|dep| dep.id == *id)
            .map(|dep| Demand {
                who: format!("{} {} needs {id} {}", other.id, other.vers, dep.req),
                admits: Admits::Req(&dep.req),
            })
    });
    let aligned = chosen
        .iter()
        .filter(|other| other.base.as_ref() == Some(id))
        .map(|other| {
            let compat: Vec<String> = other.base_compat.iter().map(ToString::to_string).collect();
            Demand {
                who: format!(
                    "{} {} runs on {id} {}",
                    other.id,
                    other.vers,
                    compat.join(", ")
                ),
                admits: Admits::Compat(&other.base_compat),
            }
        });
    asked.chain(needed).chain(aligned).collect()
}
