//! Whether the key that signed a pack may sign it, for packs from a registry and from local
//! archives alike. A registry that signs its index lists the keys of each pack's current
//! owners: the signer must be one of them ([`check_owner_keys`]). Otherwise the rule is
//! trust on first use: the key pinned in `trusted-keys.toml` for the pack, if any, must be
//! the signer ([`check_signer`]).

use anyhow::bail;
use modularbase_pack::{PackId, PublicKey};
use semver::Version;

use crate::home::TrustedKeys;
use crate::printer::Printer;

/// Refuses `key` as the signer of `id@version` when the home pins another key for `id`; a
/// pack seen for the first time is accepted (its key is pinned when the install commits).
pub(super) fn check_signer(
    trusted: &TrustedKeys,
    id: &PackId,
    version: &Version,
    key: &PublicKey,
) -> anyhow::Result<()> {
    if let Some(pinned) = trusted.keys.get(id).filter(|k| *k != key) {
        bail!(
            "{id}@{version} is signed by key {} but this home trusts key {} for `{id}`; if the publisher really changed keys, run `modularbase key trust {id}`",
            key.fingerprint(),
            pinned.fingerprint(),
        );
    }
    Ok(())
}

/// Refuses `key` (the signer of `id@version`, when it is being installed) unless it is one
/// of `owners` (the keys the registry's signed snapshot lists for the pack's current
/// owners), and reports, once, how that set changed since this home last installed the
/// pack; records the new set.
pub(super) fn check_owner_keys(
    trusted: &mut TrustedKeys,
    id: &PackId,
    version: &Version,
    key: Option<&PublicKey>,
    owners: &[PublicKey],
    printer: &Printer,
) -> anyhow::Result<()> {
    let listed = |keys: &[PublicKey]| {
        if keys.is_empty() {
            "none".to_owned()
        } else {
            keys.iter()
                .map(PublicKey::fingerprint)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    if let Some(key) = key.filter(|k| !owners.contains(k)) {
        bail!(
            "{id}@{version} is signed by key {}, which is not among the keys of `{id}`'s current owners at the registry ({}): that key was revoked or its owner removed. Nothing was installed; ask the owners of `{id}` for a version signed with a current key",
            key.fingerprint(),
            listed(owners)
        );
    }
    let mut now: Vec<PublicKey> = owners.to_vec();
    now.sort_by_key(PublicKey::to_string);
    now.dedup();
    if let Some(before) = trusted.owners.get(id).filter(|before| **before != now) {
        let added: Vec<PublicKey> = now
            .iter()
            .filter(|k| !before.contains(k))
            .copied()
            .collect();
        let removed: Vec<PublicKey> = before
            .iter()
            .filter(|k| !now.contains(k))
            .copied()
            .collect();
        let mut change = Vec::new();
        if !added.is_empty() {
            change.push(format!("added {}", listed(&added)));
        }
        if !removed.is_empty() {
            change.push(format!("removed {}", listed(&removed)));
        }
        printer.note(format!(
            "the keys of `{id}`'s owners changed at the registry: {}",
            change.join("; ")
        ));
    }
    trusted.owners.insert(id.clone(), now);
    Ok(())
}
