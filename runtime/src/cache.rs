//! The pack cache: an LRU over loaded packs under a byte budget.
//!
//! The budget covers everything resident: the pinned parts (base, router), which are never
//! evicted, and the packs, which are — except packs a request is using (their module is
//! shared outside the cache) and packs pinned by a negative keep-alive. A pack may carry an
//! expiry (its keep-alive) after which [`PackCache::expire`] unloads it. A pack that cannot
//! fit even in an empty cache is refused. A [`Predictor`] learns from the request history; it protects the packs most
//! likely to come back from eviction and, when the budget has room, preloads the likely
//! next pack. Every event is counted and recorded for `--debug` and the monitor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use modularbase_pack::PackId;

use crate::keep_alive::KeepAlive;
use crate::predictor::Predictor;

/// Something the cache can hold: it knows its size.
pub trait Sized64 {
    /// Bytes it occupies in memory.
    fn bytes(&self) -> u64;
}

impl Sized64 for crate::PackModule {
    fn bytes(&self) -> u64 {
        crate::PackModule::bytes(self)
    }
}

/// What happened to the cache, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    /// The pack was resident.
    Hit(PackId),
    /// The pack was loaded on demand.
    Miss(PackId),
    /// The pack was dropped to make room.
    Evicted(PackId),
    /// The pack was loaded ahead of a predicted request.
    Preloaded(PackId),
    /// The pack was unloaded: its keep-alive ran out, or it was stopped.
    Expired(PackId),
}

/// Counters since the cache was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Requests served from memory.
    pub hits: u64,
    /// Requests that had to load.
    pub misses: u64,
    /// Packs dropped to make room.
    pub evictions: u64,
    /// Packs loaded ahead of time.
    pub preloads: u64,
    /// Requests served by a preloaded pack (also counted as hits).
    pub preload_hits: u64,
    /// Packs unloaded because their keep-alive ran out or they were stopped.
    pub expirations: u64,
    /// Time spent loading packs.
    pub load_time: Duration,
}

/// Why the cache refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The pinned parts alone exceed the budget.
    #[error(
        "the budget of {budget} bytes is smaller than the resident base and router ({pinned} bytes); raise --budget"
    )]
    PinnedTooLarge {
        /// The budget.
        budget: u64,
        /// Bytes of pinned parts.
        pinned: u64,
    },
    /// One pack is larger than the room the budget leaves beside the pinned parts.
    #[error(
        "pack `{id}` needs {bytes} bytes but the budget leaves {room} beside the base and router; raise --budget"
    )]
    TooLarge {
        /// The pack.
        id: PackId,
        /// Its size.
        bytes: u64,
        /// Room for packs.
        room: u64,
    },
    /// Making room would mean evicting packs that requests are using or that are pinned.
    #[error(
        "pack `{id}` needs {bytes} bytes but the budget is held by packs in use or pinned ({held} bytes); wait for them, unpin them, or raise --budget"
    )]
    Held {
        /// The pack.
        id: PackId,
        /// Its size.
        bytes: u64,
        /// Bytes of packs that cannot be evicted now.
        held: u64,
    },
}

struct Entry<T> {
    id: PackId,
    item: Arc<T>,
    bytes: u64,
    last_used: u64,
    preloaded: bool,
    /// When it unloads, unless used again first (`None`: only when evicted).
    expires: Option<Instant>,
    /// Never evicted nor expired (a negative keep-alive).
    pinned: bool,
}

impl<T> Entry<T> {
    /// Whether a request holds the module (it is shared outside the cache).
    fn in_use(&self) -> bool {
        Arc::strong_count(&self.item) > 1
    }

    /// Whether eviction may drop it.
    fn evictable(&self) -> bool {
        !self.pinned && !self.in_use()
    }
}

/// One line of the memory picture, for the monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentPart {
    /// Its id.
    pub id: PackId,
    /// Its size.
    pub bytes: u64,
    /// Whether it is never evicted (base, router, a pack with a negative keep-alive).
    pub pinned: bool,
    /// Whether a request is using it now.
    pub in_use: bool,
    /// When it unloads unless used again (`None`: pinned, or only when evicted).
    pub expires: Option<Instant>,
}

/// An LRU of packs under a byte budget.
pub struct PackCache<T> {
    budget: u64,
    pinned: Vec<ResidentPart>,
    entries: Vec<Entry<T>>,
    clock: u64,
    stats: CacheStats,
    events: Vec<CacheEvent>,
    predictor: Predictor,
    evicted: Vec<PackId>,
    keep_alive: Option<KeepAlive>,
}

impl<T: Sized64> PackCache<T> {
    /// A cache with `budget` bytes, of which the `pinned` parts (name, bytes) are taken.
    pub fn new(budget: u64, pinned: Vec<(PackId, u64)>) -> Result<Self, CacheError> {
        let pinned: Vec<ResidentPart> = pinned
            .into_iter()
            .map(|(id, bytes)| ResidentPart {
                id,
                bytes,
                pinned: true,
                in_use: false,
                expires: None,
            })
            .collect();
        let pinned_bytes: u64 = pinned.iter().map(|p| p.bytes).sum();
        if pinned_bytes > budget {
            return Err(CacheError::PinnedTooLarge {
                budget,
                pinned: pinned_bytes,
            });
        }
        Ok(Self {
            budget,
            pinned,
            entries: Vec::new(),
            clock: 0,
            stats: CacheStats::default(),
            events: Vec::new(),
            predictor: Predictor::default(),
            evicted: Vec::new(),
            keep_alive: None,
        })
    }

    /// Gives every pack loaded from now on (on demand or preloaded) this keep-alive; without
    /// one, packs stay until evicted.
    pub fn set_default_keep_alive(&mut self, keep_alive: KeepAlive) {
        self.keep_alive = Some(keep_alive);
    }

    /// Sets the keep-alive of the loaded pack `id`, counted from `now` (a request that just
    /// used it, or asked for it); returns whether it is loaded.
    pub fn keep_alive(&mut self, id: &PackId, keep_alive: KeepAlive, now: Instant) -> bool {
        let Some(entry) = self.entries.iter_mut().find(|e| &e.id == id) else {
            return false;
        };
        (entry.expires, entry.pinned) = expiry(keep_alive, now);
        true
    }

    /// Unloads the packs whose keep-alive has run out by `now` and that no request uses;
    /// returns their ids.
    pub fn expire(&mut self, now: Instant) -> Vec<PackId> {
        let mut gone = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            let e = &self.entries[i];
            if e.evictable() && e.expires.is_some_and(|t| t <= now) {
                let entry = self.entries.swap_remove(i);
                self.stats.expirations += 1;
                self.events.push(CacheEvent::Expired(entry.id.clone()));
                gone.push(entry.id);
            } else {
                i += 1;
            }
        }
        gone
    }

    /// The earliest time a loaded pack's keep-alive runs out, if any.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter(|e| !e.pinned)
            .filter_map(|e| e.expires)
            .min()
    }

    fn pinned_bytes(&self) -> u64 {
        self.pinned.iter().map(|p| p.bytes).sum()
    }

    /// Bytes in use: pinned parts plus loaded packs (never above the budget).
    pub fn used(&self) -> u64 {
        self.pinned_bytes() + self.entries.iter().map(|e| e.bytes).sum::<u64>()
    }

    /// The budget.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Counters so far.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Events since the last call (drained).
    pub fn take_events(&mut self) -> Vec<CacheEvent> {
        std::mem::take(&mut self.events)
    }

    /// What is resident now: pinned parts, then packs from most to least recently used.
    pub fn resident(&self) -> Vec<ResidentPart> {
        let mut packs: Vec<&Entry<T>> = self.entries.iter().collect();
        packs.sort_by_key(|e| std::cmp::Reverse(e.last_used));
        self.pinned
            .iter()
            .cloned()
            .chain(packs.into_iter().map(|e| ResidentPart {
                id: e.id.clone(),
                bytes: e.bytes,
                pinned: e.pinned,
                in_use: e.in_use(),
                expires: e.expires,
            }))
            .collect()
    }

    /// Packs evicted at some point and not resident now.
    pub fn evicted(&self) -> Vec<PackId> {
        self.evicted
            .iter()
            .filter(|id| !self.contains(id.as_str()))
            .cloned()
            .collect()
    }

    /// Whether `id` is resident.
    pub fn contains(&self, id: &str) -> bool {
        self.entries.iter().any(|e| e.id.as_str() == id)
    }

    /// The pack `id`, from memory or loaded by `load` (evicting least recently used packs
    /// to make room). The request teaches the predictor.
    pub fn get<E>(
        &mut self,
        id: &PackId,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, GetError<E>> {
        self.predictor.record(id);
        self.clock += 1;
        if let Some(entry) = self.entries.iter_mut().find(|e| &e.id == id) {
            entry.last_used = self.clock;
            self.stats.hits += 1;
            if std::mem::take(&mut entry.preloaded) {
                self.stats.preload_hits += 1;
            }
            self.events.push(CacheEvent::Hit(id.clone()));
            return Ok(entry.item.clone());
        }
        self.stats.misses += 1;
        self.events.push(CacheEvent::Miss(id.clone()));
        let item = self.load_timed(load).map_err(GetError::Load)?;
        self.insert(id, item, false).map_err(GetError::Cache)
    }

    /// Loads the predicted next pack if the budget has room for it without evicting.
    /// `load` is called with the predicted id; returns the id preloaded, if any.
    pub fn preload<E>(&mut self, load: impl FnOnce(&PackId) -> Result<T, E>) -> Option<PackId> {
        let (id, _) = self.predictor.next()?;
        if self.contains(id.as_str()) {
            return None;
        }
        let item = self.load_timed(|| load(&id)).ok()?;
        if self.used() + item.bytes() > self.budget {
            return None;
        }
        self.stats.preloads += 1;
        self.events.push(CacheEvent::Preloaded(id.clone()));
        self.insert(&id, item, true).ok()?;
        Some(id)
    }

    fn load_timed<E>(&mut self, load: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = Instant::now();
        let item = load();
        self.stats.load_time += started.elapsed();
        item
    }

    fn insert(&mut self, id: &PackId, item: T, preloaded: bool) -> Result<Arc<T>, CacheError> {
        let bytes = item.bytes();
        let room = self.budget - self.pinned_bytes();
        if bytes > room {
            return Err(CacheError::TooLarge {
                id: id.clone(),
                bytes,
                room,
            });
        }
        let free = self.budget - self.used();
        let evictable: u64 = self
            .entries
            .iter()
            .filter(|e| e.evictable())
            .map(|e| e.bytes)
            .sum();
        if bytes > free + evictable {
            let held = self.used() - self.pinned_bytes() - evictable;
            return Err(CacheError::Held {
                id: id.clone(),
                bytes,
                held,
            });
        }
        while self.used() + bytes > self.budget {
            self.evict_one();
        }
        let item = Arc::new(item);
        let (expires, pinned) = self
            .keep_alive
            .map_or((None, false), |keep| expiry(keep, Instant::now()));
        self.entries.push(Entry {
            id: id.clone(),
            item: item.clone(),
            bytes,
            last_used: self.clock,
            preloaded,
            expires,
            pinned,
        });
        Ok(item)
    }

    /// Drops the least recently used evictable pack, sparing the one the predictor expects
    /// next when another candidate exists.
    fn evict_one(&mut self) {
        let expected = self.predictor.next().map(|(id, _)| id);
        let mut order: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].evictable())
            .collect();
        order.sort_by_key(|&i| self.entries[i].last_used);
        let victim = order
            .iter()
            .copied()
            .find(|&i| Some(&self.entries[i].id) != expected.as_ref())
            .or_else(|| order.first().copied());
        if let Some(i) = victim {
            let entry = self.entries.swap_remove(i);
            self.stats.evictions += 1;
            self.events.push(CacheEvent::Evicted(entry.id.clone()));
            self.evicted.push(entry.id);
        }
    }
}

/// When a pack kept alive by `keep_alive` from `now` unloads, and whether it is pinned. A
/// keep-alive too long to add to a clock (a client's `keep_alive: 1e15`) never expires.
fn expiry(keep_alive: KeepAlive, now: Instant) -> (Option<Instant>, bool) {
    match keep_alive {
        KeepAlive::For(d) => (now.checked_add(d), false),
        KeepAlive::Unload => (Some(now), false),
        KeepAlive::Forever => (None, true),
    }
}

/// Why [`PackCache::get`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError<E> {
    /// The loader failed.
    #[error("{0}")]
    Load(E),
    /// The pack does not fit.
    #[error(transparent)]
    Cache(CacheError),
}
