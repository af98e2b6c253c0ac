//! PubGrub's view of the registry: packs are packages, versions come from the sparse index,
//! dependencies are a version's `deps`, its base family (`base_compat`) and its conflicts.
//!
//! A conflict `A conflicts with B req` is a dependency of A on B with the complement of
//! `req`, a complement that contains a sentinel version [`ABSENT`] meaning "B not
//! installed". Real requirements never contain the sentinel, so B is chosen absent only
//! when nothing needs it; the solver then reports a clash like any other.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

use modularbase_pack::{IndexRecord, PackId};
use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics, Ranges,
};
use semver::Version;

use super::ranges::{compat_to_ranges, req_to_ranges};

/// A node of the resolution: the user's request, a pack, or the home's base family.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// What was asked for.
    Root,
    /// A pack.
    Pack(PackId),
    /// The one base family a home's packs run on: every base depends on it being its own
    /// id, every router and domain pack on it being its `base`, so two families clash.
    BaseFamily,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("your request"),
            Self::Pack(id) => write!(f, "{id}"),
            Self::BaseFamily => f.write_str("the home's base family"),
        }
    }
}

/// The [`Node::BaseFamily`] version that stands for `family`: `0.0.0-ID` with `_` written
/// `-` (pack ids have no `-`, so it reads back unchanged).
pub(crate) fn family_version(family: &PackId) -> Version {
    let pre = semver::Prerelease::new(&family.as_str().replace('_', "-"))
        .unwrap_or(semver::Prerelease::EMPTY);
    Version {
        pre,
        ..Version::new(0, 0, 0)
    }
}

/// The family a [`family_version`] stands for.
pub(crate) fn family_of(version: &Version) -> String {
    version.pre.as_str().replace('-', "_")
}

/// The sentinel version "not installed" (below every real version).
pub(crate) fn absent() -> Version {
    Version::parse("0.0.0-0").unwrap_or_else(|_| Version::new(0, 0, 0))
}

/// Every real version: the sentinel excluded.
fn real() -> Ranges<Version> {
    Ranges::strictly_higher_than(absent())
}

/// Where index records come from (the registry over HTTP, or memory in tests).
pub trait IndexSource {
    /// Every record of `id`, yanked or not; empty when the pack does not exist.
    fn records(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>>;

    /// Readies the records of `ids`, which the resolver is about to ask for, all at once
    /// where the source can (the default does nothing). A failure is not reported here but
    /// by `records` for the pack it concerns.
    fn prefetch(&self, _ids: &[PackId]) {}

    /// The keys of `id`'s current owners as the registry signs them, when it signs its
    /// index; `None` for a source without such metadata (keys are pinned on first use).
    fn owner_keys(&self, _id: &PackId) -> anyhow::Result<Option<Vec<modularbase_pack::PublicKey>>> {
        Ok(None)
    }
}

/// A failure to read the index during resolution.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SourceError(String);

/// The dependency provider over an [`IndexSource`].
pub(crate) struct Provider<'a, S> {
    source: &'a S,
    requests: Vec<(PackId, Ranges<Version>)>,
    allow_prerelease: HashSet<PackId>,
    locked: BTreeMap<PackId, Version>,
    candidates: RefCell<HashMap<PackId, Rc<Vec<IndexRecord>>>>,
}

impl<'a, S: IndexSource> Provider<'a, S> {
    pub(crate) fn new(
        source: &'a S,
        requests: Vec<(PackId, Ranges<Version>)>,
        allow_prerelease: HashSet<PackId>,
        locked: BTreeMap<PackId, Version>,
    ) -> Self {
        Self {
            source,
            requests,
            allow_prerelease,
            locked,
            candidates: RefCell::default(),
        }
    }

    /// Installable versions of `id`, oldest first: yanked ones skipped (unless locked),
    /// pre-releases only when asked for.
    pub(crate) fn candidates(&self, id: &PackId) -> Result<Rc<Vec<IndexRecord>>, SourceError> {
        if let Some(found) = self.candidates.borrow().get(id) {
            return Ok(found.clone());
        }
        let mut records = self
            .source
            .records(id)
            .map_err(|e| SourceError(format!("{e:#}")))?;
        let pre = self.allow_prerelease.contains(id);
        let locked = self.locked.get(id);
        records
            .retain(|r| Some(&r.vers) == locked || (!r.yanked && (pre || r.vers.pre.is_empty())));
        records.sort_by(|a, b| a.vers.cmp(&b.vers));
        let records = Rc::new(records);
        self.candidates
            .borrow_mut()
            .insert(id.clone(), records.clone());
        Ok(records)
    }

    /// Lets the source fetch together every pack in `nodes` not looked up yet: the
    /// dependencies just learnt, which the solver will ask about next.
    fn prefetch<'n>(&self, nodes: impl Iterator<Item = &'n Node>) {
        let ids: Vec<PackId> = {
            let known = self.candidates.borrow();
            nodes
                .filter_map(|node| match node {
                    Node::Pack(id) if !known.contains_key(id) => Some(id.clone()),
                    _ => None,
                })
                .collect()
        };
        if !ids.is_empty() {
            self.source.prefetch(&ids);
        }
    }
}

impl<S: IndexSource> DependencyProvider for Provider<'_, S> {
    type P = Node;
    type V = Version;
    type VS = Ranges<Version>;
    type M = String;
    type Priority = (u32, Reverse<usize>);
    type Err = SourceError;

    fn prioritize(
        &self,
        package: &Node,
        range: &Ranges<Version>,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        let count = match package {
            Node::Root | Node::BaseFamily => 0,
            Node::Pack(id) => self
                .candidates(id)
                .map_or(0, |c| c.iter().filter(|r| range.contains(&r.vers)).count()),
        };
        // Most-conflicted first, then the most constrained (fewest candidates).
        (stats.conflict_count(), Reverse(count))
    }

    fn choose_version(
        &self,
        package: &Node,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, SourceError> {
        let id = match package {
            Node::Root => return Ok(Some(Version::new(0, 0, 0))),
            Node::BaseFamily => return Ok(range.as_singleton().cloned()),
            Node::Pack(id) => id,
        };
        if range.contains(&absent()) {
            return Ok(Some(absent()));
        }
        // The locked version while it still fits (installs do not upgrade what they need not),
        // else the newest that fits.
        let candidates = self.candidates(id)?;
        if let Some(locked) = self.locked.get(id).filter(|v| range.contains(*v))
            && candidates.iter().any(|r| r.vers == *locked)
        {
            return Ok(Some(locked.clone()));
        }
        Ok(candidates
            .iter()
            .rev()
            .find(|r| range.contains(&r.vers))
            .map(|r| r.vers.clone()))
    }

    fn get_dependencies(
        &self,
        package: &Node,
        version: &Version,
    ) -> Result<Dependencies<Node, Ranges<Version>, String>, SourceError> {
        let id = match package {
            Node::Pack(id) => id,
            Node::BaseFamily => return Ok(Dependencies::Available(Default::default())),
            Node::Root => {
                let requests: DependencyConstraints<Node, Ranges<Version>> = self
                    .requests
                    .iter()
                    .map(|(id, r)| (Node::Pack(id.clone()), r.intersection(&real())))
                    .collect();
                self.prefetch(requests.iter().map(|(node, _)| node));
                return Ok(Dependencies::Available(requests));
            }
        };
        if *version == absent() {
            return Ok(Dependencies::Available(Default::default()));
        }
        let candidates = self.candidates(id)?;
        let Some(record) = candidates.iter().find(|r| r.vers == *version) else {
            return Ok(Dependencies::Unavailable(format!(
                "{id} {version} is not in the index"
            )));
        };
        let mut constraints: BTreeMap<Node, Ranges<Version>> = BTreeMap::new();
        for dep in &record.deps {
            constraints.insert(
                Node::Pack(dep.id.clone()),
                req_to_ranges(&dep.req).intersection(&real()),
            );
        }
        if let Some(base) = &record.base {
            constraints.insert(
                Node::Pack(base.clone()),
                compat_to_ranges(&record.base_compat),
            );
        }
        let family = match record.kind {
            modularbase_pack::PackKind::Base => Some(&record.id),
            _ => record.base.as_ref(),
        };
        if let Some(family) = family {
            constraints.insert(Node::BaseFamily, Ranges::singleton(family_version(family)));
        }
        for conflict in &record.conflicts {
            let allowed = req_to_ranges(&conflict.req)
                .complement()
                .union(&Ranges::singleton(absent()));
            let node = Node::Pack(conflict.id.clone());
            let merged = constraints
                .get(&node)
                .map_or(allowed.clone(), |existing| existing.intersection(&allowed));
            constraints.insert(node, merged);
        }
        self.prefetch(constraints.keys());
        Ok(Dependencies::Available(constraints.into_iter().collect()))
    }
}
