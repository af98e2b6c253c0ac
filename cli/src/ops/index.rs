//! The registry's sparse index, fetched lazily per pack and cached in the home
//! (`cache/index/ID`). A registry that signs its index ([`super::metadata`]) lists every
//! index file's length and SHA-256 in its snapshot: a cached file with that hash is used
//! without asking, and a fetched one must have it. A registry without metadata is
//! revalidated with its ETag (`ID.etag`, `If-None-Match`). When the resolver names several
//! packs at once, their index files are fetched concurrently, at most [`MAX_IN_FLIGHT`] at
//! a time, so that its next lookups are answered from memory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use modularbase_pack::tuf::{MetaFile, TrustedMetadata};
use modularbase_pack::{IndexRecord, PackId, PublicKey, parse_index_lines};

use super::metadata::MetadataStore;
use crate::client::{IndexAnswer, RegistryClient};
use crate::home::{Home, read_bounded_bytes};
use crate::resolve::IndexSource;

/// Index requests in flight at once while prefetching.
const MAX_IN_FLIGHT: usize = 8;

/// Index files from one registry, each fetched at most once per run.
pub struct HttpIndex {
    client: RegistryClient,
    cache: PathBuf,
    offline: bool,
    fetched: Mutex<Fetched>,
    metadata: MetadataStore,
    trust: Mutex<Trust>,
}

/// What this run knows of the registry's signed metadata.
enum Trust {
    /// Not read yet (it is read on the first lookup).
    Unread,
    /// The registry signs nothing and never did: index files are taken as served.
    Unsigned,
    /// Verified this run.
    Verified(Box<TrustedMetadata>),
    /// Refused, with the whole cause, reported for every lookup.
    Failed(String),
}

/// What this run has fetched so far.
#[derive(Default)]
struct Fetched {
    /// Every record of each pack fetched.
    records: HashMap<PackId, Vec<IndexRecord>>,
    /// Fetches that failed (prefetched or not), with their whole cause, reported for their
    /// pack every time it is asked for.
    failed: HashMap<PackId, String>,
}

impl HttpIndex {
    /// The index of `client`'s registry, cached under the home; `offline` reads the cache
    /// alone.
    pub fn new(home: &Home, client: RegistryClient, offline: bool) -> anyhow::Result<Self> {
        Self::with_root(home, client, offline, None)
    }

    /// [`HttpIndex::new`] trusting the root in `root_file` (`--root FILE`) instead of the
    /// one pinned in the home.
    pub fn with_root(
        home: &Home,
        client: RegistryClient,
        offline: bool,
        root_file: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        let cache = home.index_cache(&client.url);
        home.ensure_dir(&cache)?;
        Ok(Self {
            metadata: MetadataStore::new(home, &client.url, root_file),
            client,
            cache,
            offline,
            fetched: Mutex::default(),
            trust: Mutex::new(Trust::Unread),
        })
    }

    /// Runs `f` on the verified metadata (`None` for a registry that signs nothing),
    /// reading and verifying it first if this run has not.
    fn with_trust<R>(&self, f: impl FnOnce(Option<&TrustedMetadata>) -> R) -> anyhow::Result<R> {
        let mut trust = self.trust.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*trust, Trust::Unread) {
            let found = if self.offline {
                self.metadata.offline(&self.client)
            } else {
                self.metadata.update(&self.client)
            };
            *trust = match found {
                Ok(Some(verified)) => Trust::Verified(Box::new(verified)),
                Ok(None) => Trust::Unsigned,
                Err(error) => Trust::Failed(format!("{error:#}")),
            };
        }
        match &*trust {
            Trust::Verified(verified) => Ok(f(Some(verified))),
            Trust::Unsigned => Ok(f(None)),
            Trust::Failed(error) => Err(anyhow::anyhow!("{error}")),
            Trust::Unread => unreachable!("the metadata was read above"),
        }
    }

    /// Fetches the registry's timestamp and snapshot again (an index file changed while
    /// this run read it); returns what the new snapshot lists for `id`.
    fn refresh_trust(&self, id: &PackId) -> anyhow::Result<Option<MetaFile>> {
        let mut trust = self.trust.lock().unwrap_or_else(PoisonError::into_inner);
        let Trust::Verified(verified) = &mut *trust else {
            return Ok(None);
        };
        self.metadata.reverify(&self.client, verified)?;
        Ok(verified
            .index_entry(id.as_str())
            .map_err(|e| self.metadata.refused(e))?
            .cloned())
    }

    /// The keys of `id`'s current owners, as the registry's signed snapshot lists them;
    /// `None` for a registry that signs nothing or does not publish `id`.
    pub fn signed_owner_keys(&self, id: &PackId) -> anyhow::Result<Option<Vec<PublicKey>>> {
        self.with_trust(|trusted| {
            trusted.and_then(|t| {
                t.index_entry(id.as_str())
                    .ok()
                    .flatten()
                    .map(|e| e.owner_keys.clone())
            })
        })
    }

    /// The registry's client.
    pub fn client(&self) -> &RegistryClient {
        &self.client
    }

    /// The fetched state (a worker that panicked leaves nothing half-written in it).
    fn fetched(&self) -> MutexGuard<'_, Fetched> {
        self.fetched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fetch(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>> {
        let listed = self.with_trust(|trusted| {
            trusted.map(|t| t.index_entry(id.as_str()).map(Option::<&MetaFile>::cloned))
        })?;
        match listed {
            None => self.fetch_unsigned(id),
            Some(Err(error)) => Err(self.metadata.refused(error)),
            // Offline, the snapshot is the one verified last: the pack may be newer.
            Some(Ok(None)) if self.offline => anyhow::bail!(
                "`{id}` is not in the offline index cache (the index metadata verified last does not list it); run once without --offline"
            ),
            // The signed snapshot lists every pack: this one is not published.
            Some(Ok(None)) => Ok(Vec::new()),
            Some(Ok(Some(entry))) => self.fetch_signed(id, entry),
        }
    }

    /// The index file of `id`, which the signed snapshot lists as `entry`: the cached copy
    /// when it has the listed hash, else fetched and checked (the snapshot read again once
    /// if the file changed meanwhile).
    fn fetch_signed(&self, id: &PackId, mut entry: MetaFile) -> anyhow::Result<Vec<IndexRecord>> {
        let body_path = self.cache.join(id.as_str());
        let cached = read_bounded_bytes(&body_path, entry.length).ok().flatten();
        let bytes = match cached.filter(|bytes| entry.matches(bytes)) {
            Some(bytes) => bytes,
            None if self.offline => anyhow::bail!(
                "the index file of `{id}` verified by the signed metadata is not in the offline cache; run once without --offline"
            ),
            None => {
                let mut bytes = self.download_listed(id, &entry)?;
                if !entry.matches(&bytes) {
                    if let Some(newer) = self.refresh_trust(id)? {
                        entry = newer;
                    }
                    if !entry.matches(&bytes) {
                        bytes = self.download_listed(id, &entry)?;
                    }
                }
                if !entry.matches(&bytes) {
                    return Err(self.metadata.refused(
                        modularbase_pack::tuf::MetadataError::Mismatch {
                            file: id.to_string(),
                            found_length: bytes.len() as u64,
                            expected_length: entry.length,
                        },
                    ));
                }
                self.store(&body_path, &bytes)?;
                bytes
            }
        };
        let text = String::from_utf8(bytes)
            .with_context(|| format!("the index file of `{id}` is not UTF-8"))?;
        Ok(parse_index_lines(id, &text)?)
    }

    /// `GET /index/{id}`, at most the length `entry` lists.
    fn download_listed(&self, id: &PackId, entry: &MetaFile) -> anyhow::Result<Vec<u8>> {
        self.client
            .index_file_of_length(id, entry.length)?
            .with_context(|| {
                format!(
                    "the signed snapshot of {} lists `{id}` but the registry has no index file for it",
                    self.client.url
                )
            })
    }

    /// Replaces the cached file at `path` with `bytes` (written whole, then renamed).
    fn store(&self, path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(&self.cache)
            .with_context(|| format!("cannot write in `{}`", self.cache.display()))?;
        std::io::Write::write_all(&mut tmp, bytes)
            .map_err(anyhow::Error::from)
            .and_then(|()| Ok(tmp.persist(path).map(drop)?))
            .with_context(|| format!("cannot write `{}`", path.display()))
    }

    /// The index file of a registry without metadata, revalidated with its ETag.
    fn fetch_unsigned(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>> {
        let body_path = self.cache.join(id.as_str());
        let etag_path = self.cache.join(format!("{id}.etag"));
        if self.offline {
            let text = std::fs::read_to_string(&body_path).with_context(|| {
                format!("`{id}` is not in the offline index cache; run once without --offline")
            })?;
            return Ok(parse_index_lines(id, &text)?);
        }
        let cached_etag = std::fs::read_to_string(&etag_path)
            .ok()
            .filter(|_| body_path.exists());
        let text = match self
            .client
            .index_file(id, cached_etag.as_deref().map(str::trim))?
        {
            IndexAnswer::NotModified => std::fs::read_to_string(&body_path)
                .with_context(|| format!("cannot read `{}`", body_path.display()))?,
            IndexAnswer::NotFound => return Ok(Vec::new()),
            IndexAnswer::Body(text, etag) => {
                // The ETag goes first and comes back last: a torn write is never revalidated.
                let _ = std::fs::remove_file(&etag_path);
                self.store(&body_path, text.as_bytes())?;
                match etag {
                    Some(etag) => std::fs::write(&etag_path, etag)
                        .with_context(|| format!("cannot write `{}`", etag_path.display()))?,
                    None => {
                        let _ = std::fs::remove_file(&etag_path);
                    }
                }
                text
            }
        };
        Ok(parse_index_lines(id, &text)?)
    }
}

impl IndexSource for HttpIndex {
    fn owner_keys(&self, id: &PackId) -> anyhow::Result<Option<Vec<PublicKey>>> {
        self.signed_owner_keys(id)
    }

    fn records(&self, id: &PackId) -> anyhow::Result<Vec<IndexRecord>> {
        {
            let fetched = self.fetched();
            if let Some(error) = fetched.failed.get(id) {
                return Err(anyhow::anyhow!("{error}"));
            }
            if let Some(found) = fetched.records.get(id) {
                return Ok(found.clone());
            }
        }
        match self.fetch(id) {
            Ok(records) => {
                self.fetched().records.insert(id.clone(), records.clone());
                Ok(records)
            }
            Err(error) => {
                // Asked again, the answer is the same: a failing registry is tried once.
                let text = format!("{error:#}");
                self.fetched().failed.insert(id.clone(), text);
                Err(error)
            }
        }
    }

    /// Fetches the index files of `ids` not fetched yet on up to [`MAX_IN_FLIGHT`] threads
    /// sharing the client's connection pool; offline, the cache is read lazily instead.
    fn prefetch(&self, ids: &[PackId]) {
        if self.offline {
            return;
        }
        let mut missing: Vec<&PackId> = {
            let fetched = self.fetched();
            ids.iter()
                .filter(|id| {
                    !fetched.records.contains_key(*id) && !fetched.failed.contains_key(*id)
                })
                .collect()
        };
        missing.sort();
        missing.dedup();
        // A single file is fetched just as fast when it is asked for.
        if missing.len() < 2 {
            return;
        }
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..missing.len().min(MAX_IN_FLIGHT) {
                scope.spawn(|| {
                    while let Some(&id) = missing.get(next.fetch_add(1, Ordering::Relaxed)) {
                        match self.fetch(id) {
                            Ok(records) => {
                                self.fetched().records.insert(id.clone(), records);
                            }
                            Err(error) => {
                                self.fetched()
                                    .failed
                                    .insert(id.clone(), format!("{error:#}"));
                            }
                        }
                    }
                });
            }
        });
    }
}
