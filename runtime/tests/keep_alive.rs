//! Keep-alives in the pack cache: a pack unloads when its keep-alive runs out, never while
//! a request uses it; a pinned pack is never evicted; a pack in use is never evicted to
//! make room, and a load that would need it refuses with the reason.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use modularbase_pack::PackId;
use modularbase_runtime::{CacheError, CacheEvent, GetError, KeepAlive, PackCache, Sized64};

struct Blob(u64);

impl Sized64 for Blob {
    fn bytes(&self) -> u64 {
        self.0
    }
}

fn load(bytes: u64) -> impl FnOnce() -> Result<Blob, String> {
    move || Ok(Blob(bytes))
}

fn id(name: &str) -> PackId {
    name.parse().unwrap()
}

fn packs(cache: &PackCache<Blob>) -> Vec<String> {
    cache
        .resident()
        .into_iter()
        .filter(|p| p.id.as_str() != "tiny_base")
        .map(|p| p.id.to_string())
        .collect()
}

fn cache() -> PackCache<Blob> {
    // 100 bytes: the base takes 40, room for three 20-byte packs.
    PackCache::new(100, vec![(id("tiny_base"), 40)]).unwrap()
}

#[test]
fn a_pack_unloads_when_its_keep_alive_runs_out_and_not_before() {
    let mut cache = cache();
    cache.set_default_keep_alive(KeepAlive::For(Duration::from_secs(60)));
    drop(cache.get(&id("pa"), load(20)).unwrap());
    let now = Instant::now();
    assert!(cache.expire(now + Duration::from_secs(59)).is_empty());
    let expiry = cache.next_expiry().unwrap();
    assert!(expiry > now + Duration::from_secs(59) && expiry <= now + Duration::from_secs(61));
    assert_eq!(cache.expire(now + Duration::from_secs(61)), [id("pa")]);
    assert!(packs(&cache).is_empty());
    assert!(cache.take_events().contains(&CacheEvent::Expired(id("pa"))));
    assert_eq!(cache.stats().expirations, 1);
    assert_eq!(cache.next_expiry(), None);
}

#[test]
fn a_pack_in_use_outlives_its_keep_alive_until_it_is_released() {
    let mut cache = cache();
    let held = cache.get(&id("pa"), load(20)).unwrap();
    let now = Instant::now();
    assert!(cache.keep_alive(&id("pa"), KeepAlive::Unload, now));
    assert!(
        cache.expire(now).is_empty(),
        "a pack a request holds must stay"
    );
    assert!(
        cache
            .resident()
            .iter()
            .any(|p| p.id == id("pa") && p.in_use)
    );
    drop(held);
    assert_eq!(cache.expire(now), [id("pa")]);
}

#[test]
fn a_pinned_pack_is_never_evicted_nor_expired() {
    let mut cache = cache();
    drop(cache.get(&id("pinned"), load(20)).unwrap());
    assert!(cache.keep_alive(&id("pinned"), KeepAlive::Forever, Instant::now()));
    for round in 0..10 {
        drop(cache.get(&id(&format!("p{round}")), load(20)).unwrap());
    }
    assert!(
        packs(&cache).contains(&"pinned".to_owned()),
        "{:?}",
        packs(&cache)
    );
    assert!(
        cache
            .expire(Instant::now() + Duration::from_secs(1 << 30))
            .is_empty()
    );
    assert!(
        cache
            .resident()
            .iter()
            .any(|p| p.id == id("pinned") && p.pinned)
    );
    assert!(cache.used() <= cache.budget());
}

#[test]
fn a_load_that_would_evict_packs_in_use_is_refused_with_the_reason() {
    let mut cache = cache();
    let held: Vec<_> = ["pa", "pb", "pc"]
        .iter()
        .map(|n| cache.get(&id(n), load(20)).unwrap())
        .collect();
    let err = match cache.get(&id("pd"), load(20)) {
        Err(GetError::Cache(e)) => e,
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    };
    assert_eq!(
        err,
        CacheError::Held {
            id: id("pd"),
            bytes: 20,
            held: 60
        }
    );
    assert!(
        err.to_string().contains("held by packs in use or pinned"),
        "{err}"
    );
    assert_eq!(packs(&cache).len(), 3, "nothing in use was evicted");
    drop(held);
    cache.get(&id("pd"), load(20)).unwrap();
    assert!(cache.used() <= cache.budget());
}

#[test]
fn a_keep_alive_too_long_for_the_clock_never_expires_and_never_panics() {
    let mut cache = cache();
    cache.set_default_keep_alive(KeepAlive::For(Duration::MAX));
    drop(cache.get(&id("pa"), load(20)).unwrap());
    assert!(cache.keep_alive(&id("pa"), KeepAlive::For(Duration::MAX), Instant::now()));
    assert!(
        cache
            .expire(Instant::now() + Duration::from_secs(1 << 40))
            .is_empty()
    );
    assert_eq!(cache.next_expiry(), None);
    // Not pinned: it can still be evicted to make room.
    for round in 0..3 {
        drop(cache.get(&id(&format!("p{round}")), load(20)).unwrap());
    }
    assert!(
        !packs(&cache).contains(&"pa".to_owned()),
        "{:?}",
        packs(&cache)
    );
}
