//! Seeded fuzzing of every weights reader: valid base, pack and router files are mutated
//! (bit flips, truncations, splices of another file, huge counts, random spans) and fed to
//! the header reader and the runtime's loaders under a memory cap. No case may panic;
//! every refusal is an error; the peak allocation stays under 64 MB.
//!
//! CI runs 10,000 cases in a few seconds. A longer run, for developers:
//!
//! ```sh
//! MODULARBASE_FUZZ_CASES=1000000 MODULARBASE_FUZZ_SEED=$RANDOM \
//!     cargo test -p modularbase-runtime --release --test weights_fuzz -- --nocapture
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use candle_core::Device;
use cap::Cap;
use modularbase_pack::ExpertFormat;
use modularbase_pack::gguf::{GgufHeader, GgufLimits};
use modularbase_runtime::{
    BaseConfig, BaseWeights, PackConfig, PackWeights, Router, read_base_gguf, read_pack_key,
    write_base_gguf,
};

/// A reader that tried to allocate what a hostile count asks for aborts here, loudly.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, 1 << 30);

/// splitmix64: a seeded stream with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Base,
    Pack,
    Router,
}

fn originals(dir: &Path) -> Vec<(Kind, Vec<u8>)> {
    let base = dir.join("base.gguf");
    let config = BaseConfig {
        hidden: 32,
        layers: 1,
        heads: 2,
        kv_heads: 1,
        ffn: 32,
        context: 16,
        ..BaseConfig::default()
    };
    write_base_gguf(
        &base,
        &BaseWeights::random(&config, 1).unwrap(),
        "fuzz_base",
    )
    .unwrap();
    let pack = dir.join("pack.gguf");
    let pack_config = PackConfig {
        width: 32,
        experts: 2,
        top_k: 1,
        expert_ffn: 32,
        expert_format: ExpertFormat::Q8_0,
        ..PackConfig::for_base(32, 0)
    };
    PackWeights::random(pack_config, 2)
        .unwrap()
        .write(&pack, "fuzz_pack")
        .unwrap();
    let router = dir.join("router.gguf");
    Router::random(32, 3, &Device::Cpu)
        .unwrap()
        .write(&router, "fuzz_router")
        .unwrap();
    [
        (Kind::Base, base),
        (Kind::Pack, pack),
        (Kind::Router, router),
    ]
    .into_iter()
    .map(|(kind, path)| (kind, std::fs::read(path).unwrap()))
    .collect()
}

/// Where the header of `bytes` ends (mutations aim there most of the time).
fn header_len(bytes: &[u8]) -> usize {
    GgufHeader::read(bytes, bytes.len() as u64, &GgufLimits::default())
        .map(|h| h.data_offset as usize)
        .unwrap_or(bytes.len())
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, other: &[u8]) -> &'static str {
    let head = header_len(bytes).max(1);
    let span = if rng.below(4) == 0 { bytes.len() } else { head };
    match rng.below(5) {
        0 => {
            for _ in 0..=rng.below(8) {
                let at = rng.below(span);
                bytes[at] ^= 1 << rng.below(8);
            }
            "bit flips"
        }
        1 => {
            bytes.truncate(rng.below(bytes.len()));
            "truncation"
        }
        2 => {
            let from = rng.below(other.len());
            let len = rng.below(256).min(other.len() - from);
            let at = rng.below(span);
            let end = (at + len).min(bytes.len());
            bytes.splice(at..end, other[from..from + (end - at)].iter().copied());
            "splice"
        }
        3 => {
            const HUGE: [u64; 7] = [
                0,
                1 << 31,
                1 << 32,
                1 << 40,
                1 << 63,
                u64::MAX,
                u32::MAX as u64,
            ];
            let value = HUGE[rng.below(HUGE.len())];
            let at = rng.below(span.saturating_sub(8).max(1));
            let width = if rng.below(2) == 0 { 8 } else { 4 };
            let end = (at + width).min(bytes.len());
            bytes[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
            "huge count"
        }
        _ => {
            let at = rng.below(span);
            let end = (at + 1 + rng.below(32)).min(bytes.len());
            for b in &mut bytes[at..end] {
                *b = rng.next() as u8;
            }
            "random span"
        }
    }
}

/// Every reader of a file of `kind` at `path`; what each returns does not matter, only
/// that it returns.
fn read_all(kind: Kind, bytes: &[u8], path: &Path) {
    let _ = GgufHeader::read(bytes, bytes.len() as u64, &GgufLimits::default());
    match kind {
        Kind::Base => {
            let _ = read_base_gguf(path);
        }
        Kind::Pack => {
            let _ = read_pack_key(path);
            let _ = PackWeights::read(path);
        }
        Kind::Router => {
            let _ = Router::read(path, &Device::Cpu);
        }
    }
}

#[test]
fn mutated_weights_never_panic_and_stay_under_64_mb() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let cases = env("MODULARBASE_FUZZ_CASES", 10_000);
    let seed = env("MODULARBASE_FUZZ_SEED", 13);
    let dir = tempfile::tempdir().unwrap();
    let originals = originals(dir.path());
    for (kind, bytes) in &originals {
        let path = dir.path().join("valid.gguf");
        std::fs::write(&path, bytes).unwrap();
        let header = GgufHeader::read(bytes.as_slice(), bytes.len() as u64, &GgufLimits::default());
        assert!(
            header.is_ok(),
            "{kind:?}: the unmutated file passes: {header:?}"
        );
        read_all(*kind, bytes, &path);
    }
    let mut rng = Rng(seed);
    let path = dir.path().join("case.gguf");
    let mut refused = 0u64;
    for case in 0..cases {
        let (kind, original) = &originals[rng.below(originals.len())];
        let (_, other) = &originals[rng.below(originals.len())];
        let mut bytes = original.clone();
        let how = mutate(&mut rng, &mut bytes, other);
        std::fs::write(&path, &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| read_all(*kind, &bytes, &path)));
        assert!(
            outcome.is_ok(),
            "case {case} (seed {seed}, {kind:?}, {how}) panicked; its file is kept at {}",
            {
                let kept = std::env::temp_dir().join(format!("weights-fuzz-{seed}-{case}.gguf"));
                std::fs::write(&kept, &bytes).unwrap();
                kept.display().to_string()
            }
        );
        if GgufHeader::read(bytes.as_slice(), bytes.len() as u64, &GgufLimits::default()).is_err() {
            refused += 1;
        }
    }
    assert!(
        refused > cases / 4,
        "only {refused} of {cases} mutations were refused by the header reader: the mutations miss the header"
    );
    let peak = ALLOCATOR.max_allocated();
    assert!(peak < 64 << 20, "peak allocation {peak} bytes");
}
