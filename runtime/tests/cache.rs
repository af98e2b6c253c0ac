//! The pack cache: never over budget, pinned parts never evicted, least recently used
//! evicted first, oversized packs refused, preloading when there is room, counters.

#![allow(clippy::unwrap_used)]

use modularbase_pack::PackId;
use modularbase_runtime::{CacheError, CacheEvent, GetError, PackCache, Sized64};

/// A stand-in pack of a given size (the cache only needs sizes).
struct Blob(u64);

impl Sized64 for Blob {
    fn bytes(&self) -> u64 {
        self.0
    }
}

fn load(bytes: u64) -> impl FnOnce() -> Result<Blob, String> {
    move || Ok(Blob(bytes))
}

fn ids(cache: &PackCache<Blob>) -> Vec<String> {
    cache
        .resident()
        .into_iter()
        .map(|p| p.id.to_string())
        .collect()
}

fn id(name: &str) -> PackId {
    name.parse().unwrap()
}

#[test]
fn evicts_least_recently_used_and_never_exceeds_the_budget() {
    // 100 budget: base 40 pinned, room for three 20-byte packs.
    let mut cache = PackCache::<Blob>::new(100, vec![(id("tiny_base"), 40)]).unwrap();
    for name in ["pa", "pb", "pc"] {
        cache.get(&id(name), load(20)).unwrap();
    }
    assert_eq!(cache.used(), 100);
    cache.get(&id("pa"), load(20)).unwrap(); // pa is now most recent; pb is least recent
    cache.take_events();
    cache.get(&id("pd"), load(20)).unwrap();
    assert_eq!(
        cache.take_events(),
        vec![CacheEvent::Miss(id("pd")), CacheEvent::Evicted(id("pb"))]
    );
    assert_eq!(ids(&cache), ["tiny_base", "pd", "pa", "pc"]);
    assert!(cache.used() <= cache.budget());
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.evictions), (1, 4, 1));
}

#[test]
fn pinned_parts_are_never_evicted_whatever_the_traffic() {
    let mut cache =
        PackCache::<Blob>::new(100, vec![(id("tiny_base"), 50), (id("router"), 10)]).unwrap();
    let mut x = 7u64;
    for _ in 0..500 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let name = id(&format!("p{}", (x >> 33) % 9));
        let size = 5 + (x >> 40) % 30;
        cache.get(&name, load(size)).unwrap();
        assert!(cache.used() <= 100, "over budget: {}", cache.used());
        let resident = ids(&cache);
        assert_eq!(&resident[..2], ["tiny_base", "router"]);
    }
}

#[test]
fn a_pack_larger_than_the_room_is_refused_and_nothing_is_evicted() {
    let mut cache = PackCache::<Blob>::new(100, vec![(id("tiny_base"), 70)]).unwrap();
    cache.get(&id("small"), load(20)).unwrap();
    let err = match cache.get(&id("huge"), load(31)) {
        Err(GetError::Cache(e)) => e,
        other => panic!("expected a refusal, got {:?}", other.map(|b| b.0)),
    };
    assert_eq!(
        err,
        CacheError::TooLarge {
            id: id("huge"),
            bytes: 31,
            room: 30
        }
    );
    assert!(err.to_string().contains("raise --budget"));
    assert_eq!(ids(&cache), ["tiny_base", "small"]);
}

#[test]
fn a_budget_smaller_than_the_base_is_refused() {
    let err = PackCache::<Blob>::new(10, vec![(id("tiny_base"), 40)])
        .err()
        .unwrap();
    assert_eq!(
        err,
        CacheError::PinnedTooLarge {
            budget: 10,
            pinned: 40
        }
    );
}

#[test]
fn a_failed_load_is_reported_and_leaves_the_cache_as_it_was() {
    let mut cache = PackCache::<Blob>::new(100, vec![]).unwrap();
    cache.get(&id("pa"), load(10)).unwrap();
    let err = cache
        .get(&id("broken"), || {
            Err::<Blob, _>("corrupt weights".to_owned())
        })
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "corrupt weights");
    assert_eq!(ids(&cache), ["pa"]);
}

#[test]
fn the_predicted_next_pack_is_preloaded_when_there_is_room_and_counts_as_a_preload_hit() {
    let mut cache = PackCache::<Blob>::new(100, vec![]).unwrap();
    // `code` is always followed by `reasoning`, whose loads fail (say, a disk hiccup).
    for _ in 0..2 {
        cache.get(&id("code"), load(30)).unwrap();
        assert!(
            cache
                .get(&id("reasoning"), || Err::<Blob, _>(
                    "unavailable".to_owned()
                ))
                .is_err()
        );
    }
    cache.get(&id("code"), load(30)).unwrap();
    cache.take_events();
    assert_eq!(
        cache.preload(|id| if id == "reasoning" {
            Ok::<_, ()>(Blob(30))
        } else {
            Err(())
        }),
        Some(id("reasoning"))
    );
    assert_eq!(
        cache.take_events(),
        vec![CacheEvent::Preloaded(id("reasoning"))]
    );
    cache.get(&id("reasoning"), load(30)).unwrap();
    assert_eq!(cache.take_events(), vec![CacheEvent::Hit(id("reasoning"))]);
    assert_eq!((cache.stats().preloads, cache.stats().preload_hits), (1, 1));
}

#[test]
fn nothing_is_preloaded_without_room() {
    let mut cache = PackCache::<Blob>::new(50, vec![]).unwrap();
    cache.get(&id("code"), load(30)).unwrap();
    assert!(
        cache
            .get(&id("reasoning"), || Err::<Blob, _>(
                "unavailable".to_owned()
            ))
            .is_err()
    );
    cache.get(&id("code"), load(30)).unwrap();
    assert_eq!(cache.preload(|_| Ok::<_, ()>(Blob(30))), None);
    assert_eq!(ids(&cache), ["code"]);
}
