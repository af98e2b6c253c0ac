//! Dependency resolution with PubGrub over the registry's sparse index.
//!
//! Every pack is a package; its versions are the index records (yanked versions skipped,
//! pre-releases only for packs requested with `--pre`). A version depends on its `deps`
//! (cargo requirement syntax), on its base family with the union of `[M.m.0, M.(m+1).0)`
//! for each `base_compatibility` entry, and "conflicts" with packs it must never be
//! installed beside (see [`provider`] for how conflicts are encoded). The newest version
//! that fits is chosen, most constrained packs first. Whenever a version's dependencies are
//! learnt, the packs it names that are not known yet go to [`IndexSource::prefetch`]
//! together, so that the registry's index files for a whole level of the graph are fetched
//! concurrently rather than one by one as the solver asks. When no set of versions fits, the
//! derivation tree is reported in sentences by [`report`]: which pack needs what, and why
//! that cannot be had.

mod provider;
mod ranges;
mod report;

use std::collections::{BTreeMap, HashSet};

use modularbase_pack::{IndexRecord, PackId};
use pubgrub::{DefaultStringReporter, PubGrubError, Reporter};
use semver::VersionReq;

pub use provider::{IndexSource, Node};

/// What to install: the newest records that satisfy everything, by pack id.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The chosen version of every pack needed.
    pub packs: BTreeMap<PackId, IndexRecord>,
}

/// Resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No set of versions satisfies the request: the explanation.
    #[error("no set of packs satisfies the request:\n{0}")]
    NoSolution(String),
    /// The index could not be read.
    #[error("cannot read the index: {0}")]
    Index(String),
}

/// Resolves `requests` (pack id and requirement; `*` for any) against `source`, keeping
/// `locked` versions where they still fit (and even when yanked since). Pre-releases are
/// candidates only for packs whose requirement names one.
pub fn resolve<S: IndexSource>(
    source: &S,
    requests: &[(PackId, VersionReq)],
    locked: &BTreeMap<PackId, semver::Version>,
) -> Result<Resolution, ResolveError> {
    let ranges = requests
        .iter()
        .map(|(id, req)| (id.clone(), ranges::req_to_ranges(req)))
        .collect();
    let prerelease: HashSet<PackId> = requests
        .iter()
        .filter(|(_, req)| req.comparators.iter().any(|c| !c.pre.is_empty()))
        .map(|(id, _)| id.clone())
        .collect();
    let provider = provider::Provider::new(source, ranges, prerelease, locked.clone());
    match pubgrub::resolve(&provider, Node::Root, semver::Version::new(0, 0, 0)) {
        Ok(selected) => {
            let mut packs = BTreeMap::new();
            for (node, version) in selected {
                let Node::Pack(id) = node else { continue };
                if version == provider::absent() {
                    continue;
                }
                let candidates = provider
                    .candidates(&id)
                    .map_err(|e| ResolveError::Index(e.to_string()))?;
                if let Some(record) = candidates.iter().find(|r| r.vers == version) {
                    packs.insert(id, record.clone());
                }
            }
            Ok(Resolution { packs })
        }
        Err(PubGrubError::NoSolution(tree)) => {
            let mut why = DefaultStringReporter::report_with_formatter(&tree, &report::Explain);
            if why.contains("base family") {
                why.push_str(
                    "\nA home holds packs for one base family only: remove the packs of the other base first (`modularbase pack remove`), or install them in another MODULARBASE_HOME.",
                );
            }
            Err(ResolveError::NoSolution(why))
        }
        Err(
            PubGrubError::ErrorRetrievingDependencies { source, .. }
            | PubGrubError::ErrorChoosingVersion { source, .. },
        ) => Err(ResolveError::Index(source.to_string())),
        Err(other) => Err(ResolveError::Index(other.to_string())),
    }
}

#[cfg(test)]
mod tests;
