//! One refresh: the snapshot computed again from the database (every pack's index file and
//! its owners' active keys), compared with the stored one, and what changed or is past
//! half its lifetime signed again and stored, the snapshot and the timestamp together.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use modularbase_pack::tuf::{
    MetaFile, ROOT_FILE, Received, Root, SNAPSHOT_FILE, Snapshot, TIMESTAMP_FILE, Timestamp,
    document_bytes, expires_at, sign_document,
};

use super::Metadata;
use super::keys::{OnlineKeys, load_online_keys, promote_online_keys};
use crate::db::MetadataWrite;

/// A signed document's version and the bytes served.
type Document = (u64, Vec<u8>);

/// What a refresh stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refreshed {
    /// The version of a newly signed snapshot.
    pub(crate) snapshot: Option<u64>,
    /// The version of a newly signed timestamp.
    pub(crate) timestamp: Option<u64>,
}

/// A root to commit with the refresh (a rotation or the first root), already signed.
#[derive(Debug)]
pub(crate) struct NewRoot {
    /// Its document.
    pub(crate) root: Root,
    /// Its bytes, as served.
    pub(crate) bytes: Vec<u8>,
}

impl Metadata {
    /// Re-signs what needs it (see the module documentation); a no-op when nothing changed
    /// and nothing is past half its lifetime.
    pub(crate) async fn refresh(&self) -> anyhow::Result<Refreshed> {
        self.refresh_with(None).await
    }

    /// A refresh under `new_root` (committed with it in one transaction), or under the
    /// newest stored root.
    pub(crate) async fn refresh_with(
        &self,
        new_root: Option<NewRoot>,
    ) -> anyhow::Result<Refreshed> {
        let _guard = self.lock.lock().await;
        let root = match &new_root {
            Some(new) => new.root.clone(),
            None => {
                let Some((_, bytes)) = self.db.newest_root().await? else {
                    anyhow::bail!(
                        "the registry has no root yet\n\
                         help: run `modularbase registry keys init --data DATA`"
                    );
                };
                Received::<Root>::parse(ROOT_FILE, &bytes)
                    .context("the stored root does not parse")?
                    .signed
            }
        };
        let keys = load_online_keys(&self.data_dir, &root)?;
        let files = self.index_files().await?;
        let snapshot = self.stored::<Snapshot>(SNAPSHOT_FILE, "snapshot").await?;
        let timestamp = self
            .stored::<Timestamp>(TIMESTAMP_FILE, "timestamp")
            .await?;
        let now = SystemTime::now();
        let (snapshot_write, snapshot_bytes) =
            self.next_snapshot(&root, &keys, files, snapshot.as_ref(), now)?;
        let timestamp_write = self.next_timestamp(
            &root,
            &keys,
            &snapshot_bytes,
            snapshot_write.is_some(),
            timestamp.as_ref(),
            now,
        )?;
        let refreshed = Refreshed {
            snapshot: snapshot_write.as_ref().map(|(v, _)| *v),
            timestamp: timestamp_write.as_ref().map(|(v, _)| *v),
        };
        let write = MetadataWrite {
            root: new_root.map(|new| (new.root.version, new.bytes)),
            snapshot: snapshot_write,
            timestamp: timestamp_write,
        };
        if write.root.is_some() || write.snapshot.is_some() || write.timestamp.is_some() {
            self.db.store_metadata(&write).await?;
            tracing::debug!(
                "signed metadata: root {}, snapshot {:?}, timestamp {:?}",
                root.version,
                refreshed.snapshot,
                refreshed.timestamp
            );
        }
        promote_online_keys(&self.data_dir, &root)?;
        Ok(refreshed)
    }

    /// Every index file's entry as the snapshot would list it, at version 0 (versions are
    /// set against the stored snapshot).
    async fn index_files(&self) -> anyhow::Result<BTreeMap<String, MetaFile>> {
        let mut owner_keys = self.db.all_owner_keys().await?;
        let mut files = BTreeMap::new();
        for (name, rows) in self.db.all_index_rows().await? {
            if rows.is_empty() {
                continue;
            }
            let body = crate::index_file::index_file(&rows)
                .with_context(|| format!("a stored record of `{name}` is not JSON"))?;
            let mut entry = MetaFile::of(body.as_bytes(), 0);
            entry.owner_keys = owner_keys.remove(&name).unwrap_or_default();
            files.insert(name, entry);
        }
        Ok(files)
    }

    async fn stored<T: modularbase_pack::tuf::RoleDocument>(
        &self,
        file: &str,
        role: &str,
    ) -> anyhow::Result<Option<Received<T>>> {
        let Some(bytes) = self.db.current_metadata(role).await? else {
            return Ok(None);
        };
        Ok(Some(Received::<T>::parse(file, &bytes).with_context(
            || format!("the stored `{file}` does not parse"),
        )?))
    }

    /// The snapshot to store (`None`: keep the stored one) and the bytes of the one current
    /// after this refresh.
    fn next_snapshot(
        &self,
        root: &Root,
        keys: &OnlineKeys,
        mut files: BTreeMap<String, MetaFile>,
        stored: Option<&Received<Snapshot>>,
        now: SystemTime,
    ) -> anyhow::Result<(Option<Document>, Vec<u8>)> {
        for (name, entry) in &mut files {
            let before = stored.and_then(|s| s.signed.meta.get(name));
            entry.version = match before {
                Some(b) if b.same_content(entry) && b.owner_keys == entry.owner_keys => b.version,
                Some(b) => b.version + 1,
                None => 1,
            };
        }
        if let Some(stored) = stored {
            let keep = stored.signed.meta == files
                && stored.verify(SNAPSHOT_FILE, root).is_ok()
                && !renew(
                    SNAPSHOT_FILE,
                    &stored.signed.expires,
                    self.lifetimes.snapshot,
                    now,
                )?;
            if keep {
                return Ok((None, stored.bytes.clone()));
            }
        }
        let version = stored.map_or(1, |s| s.signed.version + 1);
        let document = Snapshot::new(version, now + self.lifetimes.snapshot, files);
        let bytes = document_bytes(&sign_document(document, &[&keys.snapshot]));
        Ok((Some((version, bytes.clone())), bytes))
    }

    /// The timestamp to store, `None` to keep the stored one.
    fn next_timestamp(
        &self,
        root: &Root,
        keys: &OnlineKeys,
        snapshot_bytes: &[u8],
        snapshot_changed: bool,
        stored: Option<&Received<Timestamp>>,
        now: SystemTime,
    ) -> anyhow::Result<Option<Document>> {
        let snapshot_version = Received::<Snapshot>::parse(SNAPSHOT_FILE, snapshot_bytes)?
            .signed
            .version;
        if let Some(stored) = stored {
            let names_snapshot = stored
                .signed
                .snapshot()
                .is_some_and(|m| m.version == snapshot_version && m.matches(snapshot_bytes));
            let keep = !snapshot_changed
                && names_snapshot
                && stored.verify(TIMESTAMP_FILE, root).is_ok()
                && !renew(
                    TIMESTAMP_FILE,
                    &stored.signed.expires,
                    self.lifetimes.timestamp,
                    now,
                )?;
            if keep {
                return Ok(None);
            }
        }
        let version = stored.map_or(1, |t| t.signed.version + 1);
        let document = Timestamp::new(
            version,
            now + self.lifetimes.timestamp,
            MetaFile::of(snapshot_bytes, snapshot_version),
        );
        Ok(Some((
            version,
            document_bytes(&sign_document(document, &[&keys.timestamp])),
        )))
    }
}

/// Whether a document expiring at `expires` has less than half of `lifetime` left.
fn renew(file: &str, expires: &str, lifetime: Duration, now: SystemTime) -> anyhow::Result<bool> {
    let left = expires_at(file, expires)?
        .duration_since(now)
        .unwrap_or_default();
    Ok(left < lifetime / 2)
}
