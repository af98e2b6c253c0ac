//! The checks between an archive and the rest of the set: the index record must say what
//! the signed archive's manifest says, and every domain pack must fit the base it runs on.

use anyhow::bail;
use modularbase_pack::{BaseShape, IndexDep, IndexRecord, Manifest, PackId, WeightsShape};

/// Refuses an index record that disagrees with the manifest inside its verified archive:
/// the index is only a cache of what publishers signed.
pub(super) fn check_record_matches(
    record: &IndexRecord,
    manifest: &Manifest,
) -> anyhow::Result<()> {
    let deps = |table: &std::collections::BTreeMap<PackId, semver::VersionReq>| {
        table
            .iter()
            .map(|(id, req)| format!("{id} {req}"))
            .collect::<Vec<_>>()
    };
    let listed = |list: &[IndexDep]| {
        let mut out: Vec<String> = list.iter().map(|d| format!("{} {}", d.id, d.req)).collect();
        out.sort();
        out
    };
    let shown = |v: &dyn std::fmt::Debug| format!("{v:?}");
    let fields = [
        ("kind", shown(&record.kind), shown(&manifest.kind)),
        ("base", shown(&record.base), shown(&manifest.base)),
        (
            "base_compat",
            shown(&record.base_compat),
            shown(&manifest.base_compatibility),
        ),
        (
            "deps",
            shown(&listed(&record.deps)),
            shown(&deps(&manifest.dependencies)),
        ),
        (
            "conflicts",
            shown(&listed(&record.conflicts)),
            shown(&deps(&manifest.conflicts)),
        ),
        (
            "fallback",
            shown(&record.fallback),
            shown(&manifest.fallback),
        ),
    ];
    for (field, index, archive) in fields {
        if index != archive {
            bail!(
                "the index record of {}@{} says {field} {index} but its signed archive's manifest says {archive}; the registry's index does not match what was published, nothing was installed",
                record.id,
                record.vers
            );
        }
    }
    Ok(())
}

/// One pack of the set to be installed, as its weights were checked.
pub(super) struct Checked<'a> {
    pub(super) id: &'a PackId,
    pub(super) version: &'a semver::Version,
    pub(super) base: Option<&'a PackId>,
    pub(super) shape: &'a WeightsShape,
}

/// Every domain pack made for the set's base fits it: hidden width and insertion layer.
/// Runs before the lock changes, so a set that cannot run is never locked.
pub(super) fn check_shapes(set: &[Checked<'_>]) -> anyhow::Result<()> {
    let mut base: Option<(&Checked<'_>, &BaseShape)> = None;
    for pack in set {
        if let WeightsShape::Base(shape) = pack.shape {
            base = Some((pack, shape));
        }
    }
    let Some((base_pack, base_shape)) = base else {
        return Ok(());
    };
    for pack in set {
        if let WeightsShape::Domain(shape) = pack.shape
            && pack.base == Some(base_pack.id)
        {
            shape.check_fits_base(base_shape).map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "{}@{} does not fit the base {}@{} it would run on",
                    pack.id, pack.version, base_pack.id, base_pack.version
                ))
            })?;
        }
    }
    Ok(())
}
