//! The index an install resolves against: the registry's, with the local packs laid over
//! it. A local pack is offered at its one version only, whatever the registry publishes for
//! its id; every other pack comes from the registry, and when there is none the resolution
//! fails only if it needs one.

use std::collections::BTreeMap;

use modularbase_pack::{IndexRecord, PackId, PublicKey};

use super::local::LocalPack;
use crate::resolve::IndexSource;

/// A registry index (when one is configured) under the local packs.
pub(super) struct Overlay<'a, S> {
    /// The registry's index; `None` when there is no registry.
    pub(super) registry: Option<&'a S>,
    /// Why there is no registry, said when a pack needs one.
    pub(super) missing: &'a str,
    /// The local packs, by id.
    pub(super) locals: &'a BTreeMap<PackId, LocalPack>,
}

impl<S: IndexSource> IndexSource for Overlay<'_, S> {
    fn records(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>> {
        if let Some(local) = self.locals.get(id) {
            return Ok(vec![local.record.clone()]);
        }
        match self.registry {
            Some(index) => index.records(id),
            None => anyhow::bail!(
                "`{id}` is needed but there is no registry to fetch it from: {}",
                self.missing
            ),
        }
    }

    /// The registry's owner keys of `id`, for local archives too: a local archive of a
    /// pack the registry publishes must be signed by one of its owners.
    fn owner_keys(&self, id: &PackId) -> anyhow::Result<Option<Vec<PublicKey>>> {
        match self.registry {
            Some(index) => index.owner_keys(id),
            None => Ok(None),
        }
    }

    fn prefetch(&self, ids: &[PackId]) {
        if let Some(index) = self.registry {
            let remote: Vec<PackId> = ids
                .iter()
                .filter(|id| !self.locals.contains_key(*id))
                .cloned()
                .collect();
            index.prefetch(&remote);
        }
    }
}
