//! The registry's sparse index, fetched lazily per pack and cached in the home with its
//! ETag (`cache/index/ID` and `ID.etag`), revalidated with `If-None-Match`. When the
//! resolver names several packs at once, their index files are fetched concurrently, at
//! most [`MAX_IN_FLIGHT`] at a time, so that its next lookups are answered from memory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use modularbase_pack::{IndexRecord, PackId, parse_index_lines};

use crate::client::{IndexAnswer, RegistryClient};
use crate::home::Home;
use crate::resolve::IndexSource;

/// Index requests in flight at once while prefetching.
const MAX_IN_FLIGHT: usize = 8;

/// Index files from one registry, each fetched at most once per run.
pub struct HttpIndex {
    client: RegistryClient,
    cache: PathBuf,
    offline: bool,
    fetched: Mutex<Fetched>,
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
        let cache = home.index_cache(&client.url);
        home.ensure_dir(&cache)?;
        Ok(Self {
            client,
            cache,
            offline,
            fetched: Mutex::default(),
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
                let mut tmp = tempfile::NamedTempFile::new_in(&self.cache)
                    .with_context(|| format!("cannot write in `{}`", self.cache.display()))?;
                std::io::Write::write_all(&mut tmp, text.as_bytes())
                    .map_err(anyhow::Error::from)
                    .and_then(|()| Ok(tmp.persist(&body_path)?))
                    .with_context(|| format!("cannot write `{}`", body_path.display()))?;
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
