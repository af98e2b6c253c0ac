//! The metadata a client trusts for one registry, and the checks each newer document must
//! pass before it replaces the trusted one (TUF's client workflow, §5 of the
//! specification): root by root along the rotation chain, then the timestamp, then the
//! snapshot it names, then each index file the snapshot lists. Pure: no I/O, the caller
//! fetches bytes and stores what is trusted.

use std::time::SystemTime;

use super::roles::{
    MetaFile, Role, RoleDocument, Root, SNAPSHOT_FILE, Snapshot, TIMESTAMP_FILE, Timestamp,
    versioned_root_file,
};
use super::{MetadataError, Received};

/// A registry's trusted root, and the timestamp and snapshot verified with it.
#[derive(Debug, Clone)]
pub struct TrustedMetadata {
    root: Received<Root>,
    timestamp: Option<Received<Timestamp>>,
    snapshot: Option<Received<Snapshot>>,
}

impl TrustedMetadata {
    /// Starts from a root the client already trusts (pinned in the home, given by the
    /// user, or first seen): it must carry its own root threshold of signatures.
    pub fn from_root(bytes: &[u8]) -> Result<Self, MetadataError> {
        let root = Received::<Root>::parse(super::ROOT_FILE, bytes)?;
        root.verify(super::ROOT_FILE, &root.signed)?;
        Ok(Self {
            root,
            timestamp: None,
            snapshot: None,
        })
    }

    /// The trusted root.
    pub fn root(&self) -> &Received<Root> {
        &self.root
    }

    /// The trusted timestamp, once one is loaded or updated.
    pub fn timestamp(&self) -> Option<&Received<Timestamp>> {
        self.timestamp.as_ref()
    }

    /// The trusted snapshot, once one is loaded or updated.
    pub fn snapshot(&self) -> Option<&Received<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// Accepts `bytes` as the next root, `N+1.root.json`: signed by the threshold of the
    /// trusted root's root keys and by its own. A rotation of the snapshot or timestamp
    /// keys forgets the trusted snapshot and timestamp (their versions may start again).
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<(), MetadataError> {
        let expected = self.root.signed.version + 1;
        let file = versioned_root_file(expected);
        let next = Received::<Root>::parse(&file, bytes)?;
        next.verify(&file, &self.root.signed)?;
        if next.signed.version != expected {
            return Err(MetadataError::WrongVersion {
                file,
                expected,
                found: next.signed.version,
            });
        }
        next.verify(&file, &next.signed)?;
        let rotated = |role: Role| {
            self.root.signed.roles.get(role.name()) != next.signed.roles.get(role.name())
        };
        if rotated(Role::Timestamp) {
            self.timestamp = None;
            self.snapshot = None;
        } else if rotated(Role::Snapshot) {
            self.snapshot = None;
        }
        self.root = next;
        Ok(())
    }

    /// Refuses a trusted root that has expired (checked once the rotation chain is read).
    pub fn check_root_fresh(&self, now: SystemTime) -> Result<(), MetadataError> {
        self.root.check_fresh(super::ROOT_FILE, now)
    }

    /// Loads a timestamp verified earlier (stored in the home): signatures checked, not its
    /// age; it is the floor newer ones are held to.
    pub fn load_timestamp(&mut self, bytes: &[u8]) -> Result<(), MetadataError> {
        let timestamp = Received::<Timestamp>::parse(TIMESTAMP_FILE, bytes)?;
        timestamp.verify(TIMESTAMP_FILE, &self.root.signed)?;
        self.timestamp = Some(timestamp);
        Ok(())
    }

    /// Loads a snapshot verified earlier (stored in the home): signatures checked, not its
    /// age.
    pub fn load_snapshot(&mut self, bytes: &[u8]) -> Result<(), MetadataError> {
        let snapshot = Received::<Snapshot>::parse(SNAPSHOT_FILE, bytes)?;
        snapshot.verify(SNAPSHOT_FILE, &self.root.signed)?;
        self.snapshot = Some(snapshot);
        Ok(())
    }

    /// Accepts a newly fetched `timestamp.json`: signed by the timestamp keys, its version
    /// and its snapshot's version not older than trusted ones, and not expired. The same
    /// version as the trusted one keeps the trusted one. Returns whether it changed.
    pub fn update_timestamp(
        &mut self,
        bytes: &[u8],
        now: SystemTime,
    ) -> Result<bool, MetadataError> {
        let new = Received::<Timestamp>::parse(TIMESTAMP_FILE, bytes)?;
        new.verify(TIMESTAMP_FILE, &self.root.signed)?;
        let offered = snapshot_entry(&new)?.version;
        if let Some(old) = &self.timestamp {
            if new.signed.version < old.signed.version {
                return Err(MetadataError::Rollback {
                    file: TIMESTAMP_FILE.to_owned(),
                    trusted: old.signed.version,
                    offered: new.signed.version,
                });
            }
            if new.signed.version == old.signed.version {
                old.check_fresh(TIMESTAMP_FILE, now)?;
                return Ok(false);
            }
            let trusted = snapshot_entry(old)?.version;
            if offered < trusted {
                return Err(MetadataError::Rollback {
                    file: SNAPSHOT_FILE.to_owned(),
                    trusted,
                    offered,
                });
            }
        }
        if let Some(snapshot) = &self.snapshot
            && offered < snapshot.signed.version
        {
            return Err(MetadataError::Rollback {
                file: SNAPSHOT_FILE.to_owned(),
                trusted: snapshot.signed.version,
                offered,
            });
        }
        new.check_fresh(TIMESTAMP_FILE, now)?;
        self.timestamp = Some(new);
        Ok(true)
    }

    /// Whether the trusted snapshot is the one the trusted timestamp names (so it need not
    /// be fetched again).
    pub fn snapshot_is_current(&self) -> bool {
        match (&self.timestamp, &self.snapshot) {
            (Some(timestamp), Some(snapshot)) => snapshot_entry(timestamp).is_ok_and(|meta| {
                meta.matches(&snapshot.bytes) && meta.version == snapshot.signed.version
            }),
            _ => false,
        }
    }

    /// Accepts a newly fetched `snapshot.json`: exactly the length and SHA-256 the trusted
    /// timestamp lists, at its version, signed by the snapshot keys, listing every index
    /// file the trusted snapshot did at no older version, and not expired.
    pub fn update_snapshot(&mut self, bytes: &[u8], now: SystemTime) -> Result<(), MetadataError> {
        let timestamp = self
            .timestamp
            .as_ref()
            .ok_or(MetadataError::NotLoaded(Role::Timestamp))?;
        timestamp.check_fresh(TIMESTAMP_FILE, now)?;
        let meta = snapshot_entry(timestamp)?;
        if !meta.matches(bytes) {
            return Err(MetadataError::Mismatch {
                file: SNAPSHOT_FILE.to_owned(),
                found_length: bytes.len() as u64,
                expected_length: meta.length,
            });
        }
        let new = Received::<Snapshot>::parse(SNAPSHOT_FILE, bytes)?;
        new.verify(SNAPSHOT_FILE, &self.root.signed)?;
        if new.signed.version != meta.version {
            return Err(MetadataError::WrongVersion {
                file: SNAPSHOT_FILE.to_owned(),
                expected: meta.version,
                found: new.signed.version,
            });
        }
        if let Some(old) = &self.snapshot {
            for (name, before) in &old.signed.meta {
                let Some(after) = new.signed.meta.get(name) else {
                    return Err(MetadataError::Dropped { file: name.clone() });
                };
                if after.version < before.version {
                    return Err(MetadataError::Rollback {
                        file: name.clone(),
                        trusted: before.version,
                        offered: after.version,
                    });
                }
            }
        }
        new.check_fresh(SNAPSHOT_FILE, now)?;
        self.snapshot = Some(new);
        Ok(())
    }

    /// What the trusted snapshot lists for the index file `name`; `None` when it lists no
    /// such file (the registry has no such pack).
    pub fn index_entry(&self, name: &str) -> Result<Option<&MetaFile>, MetadataError> {
        let snapshot = self
            .snapshot
            .as_ref()
            .ok_or(MetadataError::NotLoaded(Role::Snapshot))?;
        Ok(snapshot.signed.meta.get(name))
    }

    /// Checks that `bytes` are the index file `name` the trusted snapshot lists.
    pub fn verify_index_file(&self, name: &str, bytes: &[u8]) -> Result<(), MetadataError> {
        let entry = self
            .index_entry(name)?
            .ok_or_else(|| MetadataError::Mismatch {
                file: name.to_owned(),
                found_length: bytes.len() as u64,
                expected_length: 0,
            })?;
        if !entry.matches(bytes) {
            return Err(MetadataError::Mismatch {
                file: name.to_owned(),
                found_length: bytes.len() as u64,
                expected_length: entry.length,
            });
        }
        Ok(())
    }
}

fn snapshot_entry(timestamp: &Received<Timestamp>) -> Result<&MetaFile, MetadataError> {
    timestamp
        .signed
        .snapshot()
        .ok_or_else(|| MetadataError::Malformed {
            file: TIMESTAMP_FILE.to_owned(),
            message: format!("it lists no `{SNAPSHOT_FILE}`"),
        })
}

/// The version of a received document, whatever its role.
impl<T: RoleDocument> Received<T> {
    /// The document's version.
    pub fn version(&self) -> u64 {
        self.signed.version()
    }
}
