//! A running base with installed packs: routing, fallback with reported causes, eviction
//! under a small budget, and the monitor's picture.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use modularbase_pack::PackId;
use modularbase_pack::{ExpertFormat, Manifest};
use modularbase_runtime::{
    BaseConfig, BaseModel, ByteTokenizer, ComponentState, LoadFailure, PackConfig, PackWeights,
    Route, RunOptions, Runtime, Sampling, read_base_gguf, write_base_dir, write_pack_dir,
};

const PYTHON: &str = "def add(a, b):\n    return a + b";
const MEDICAL: &str = "Patient presents with fever; dose 500 mg paracetamol";

fn config() -> BaseConfig {
    BaseConfig {
        hidden: 64,
        layers: 3,
        heads: 4,
        kv_heads: 2,
        ffn: 96,
        context: 256,
        ..BaseConfig::default()
    }
}

fn manifest(id: &str, compat: &str, fallback: &[&str]) -> Manifest {
    let fallback = fallback
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "[pack]\nid = \"{id}\"\nversion = \"1.0.0\"\nname = \"{id}\"\nkind = \"domain\"\ndomain = \"test\"\nbase = \"tiny_base\"\nbase_compatibility = [\"{compat}\"]\nfallback = [{fallback}]\nreadme = \"README.md\"\n"
    );
    Manifest::from_toml_str(&text, Path::new("pack.toml")).unwrap()
}

/// A base plus packs whose keys are the pooled hidden state of a typical prompt.
struct World {
    _dir: tempfile::TempDir,
    base: PathBuf,
    packs: Vec<PathBuf>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("tiny_base");
        write_base_dir(
            &base,
            &"tiny_base".parse().unwrap(),
            &"1.0.0".parse().unwrap(),
            &config(),
            1,
        )
        .unwrap();
        let mut model = BaseModel::new(
            read_base_gguf(&base.join("weights.gguf")).unwrap(),
            &common::device(),
        )
        .unwrap();
        let mut world = Self {
            _dir: dir,
            base,
            packs: Vec::new(),
        };
        world.add(
            "python_code",
            Some(&mut model),
            PYTHON,
            &pack_config(64),
            "1.0",
            &["general_chat"],
        );
        world.add(
            "medical",
            Some(&mut model),
            MEDICAL,
            &pack_config(64),
            "1.0",
            &[],
        );
        world.add("general_chat", None, "", &pack_config(64), "1.0", &[]);
        world
    }

    fn add(
        &mut self,
        id: &str,
        base: Option<&mut BaseModel>,
        prompt: &str,
        c: &PackConfig,
        compat: &str,
        fallback: &[&str],
    ) -> PathBuf {
        let mut weights = PackWeights::random(*c, id.len() as u64).unwrap();
        if let Some(base) = base {
            let key = base.pooled_hidden(&ByteTokenizer.encode(prompt)).unwrap();
            let key = candle_core::quantized::QTensor::quantize(
                &key.to_device(&candle_core::Device::Cpu).unwrap(),
                candle_core::quantized::GgmlDType::F32,
            )
            .unwrap();
            weights
                .tensors
                .iter_mut()
                .find(|(n, _)| n == "pack.key")
                .unwrap()
                .1 = key;
        }
        let dir = self._dir.path().join(id);
        write_pack_dir(&dir, &manifest(id, compat, fallback), &weights).unwrap();
        self.packs.push(dir.clone());
        dir
    }

    /// Adds a router pack with an identity projection and `threshold`.
    fn add_router(&mut self, threshold: f32) {
        let dir = self._dir.path().join("router");
        std::fs::create_dir_all(&dir).unwrap();
        let identity =
            candle_core::Tensor::eye(64, candle_core::DType::F32, &common::device()).unwrap();
        let router =
            modularbase_runtime::Router::from_projection(&identity, threshold, &common::device())
                .unwrap();
        router.write(&dir.join("weights.gguf"), "router").unwrap();
        let text = "[pack]\nid = \"router\"\nversion = \"1.0.0\"\nname = \"Router\"\nkind = \"router\"\nbase = \"tiny_base\"\nbase_compatibility = [\"1.0\"]\n";
        std::fs::write(dir.join("pack.toml"), text).unwrap();
        self.packs.push(dir);
    }

    fn open(&self, budget: u64) -> Runtime {
        Runtime::open(&self.base, &self.packs, budget, &common::device()).unwrap()
    }
}

fn pack_config(hidden: usize) -> PackConfig {
    PackConfig {
        hidden,
        width: 64,
        experts: 8,
        top_k: 2,
        expert_ffn: 64,
        insertion_layer: 1,
        expert_format: ExpertFormat::Q8_0,
    }
}

fn options(force: Option<&str>) -> RunOptions {
    RunOptions {
        max_tokens: 4,
        sampling: Sampling::greedy(),
        force_pack: force.map(|f| f.parse().unwrap()),
        chat: false,
        allow_fallback: true,
    }
}

#[test]
fn the_router_picks_the_pack_whose_key_matches_the_prompt() {
    let world = World::new();
    let mut runtime = world.open(1 << 30);
    let report = runtime.run(PYTHON, &options(None)).unwrap();
    assert_eq!(
        report.used.as_ref().map(PackId::as_str),
        Some("python_code")
    );
    assert!(
        matches!(&report.route, Some(Route::Pack(best)) if best.id == "python_code" && best.score > 0.99),
        "{:?}",
        report.route
    );
    assert_eq!(report.scores[0].id, "python_code");
    assert!(report.substitutions.is_empty());
    assert_eq!(
        report.expert_usage.iter().sum::<u64>() % 2,
        0,
        "two experts per token"
    );
    let report = runtime.run(MEDICAL, &options(None)).unwrap();
    assert_eq!(report.used.as_ref().map(PackId::as_str), Some("medical"));
}

#[test]
fn a_corrupt_pack_falls_back_along_its_chain_and_says_why() {
    let world = World::new();
    std::fs::write(world.packs[0].join("weights.gguf"), b"GGUF garbage").unwrap();
    let mut runtime = world.open(1 << 30);
    let report = runtime.run(PYTHON, &options(Some("python_code"))).unwrap();
    assert_eq!(
        report.used.as_ref().map(PackId::as_str),
        Some("general_chat")
    );
    assert_eq!(report.substitutions.len(), 1);
    assert_eq!(report.substitutions[0].wanted, "python_code");
    assert!(
        matches!(&report.substitutions[0].cause, LoadFailure::Corrupt(_)),
        "{:?}",
        report.substitutions
    );
}

#[test]
fn a_pack_for_other_base_versions_or_shapes_falls_back() {
    let mut world = World::new();
    world.add("legacy", None, "", &pack_config(64), "2.0", &["medical"]);
    world.add("narrow", None, "", &pack_config(32), "1.0", &[]);
    let mut runtime = world.open(1 << 30);
    let report = runtime.run("x", &options(Some("legacy"))).unwrap();
    assert_eq!(
        report.used.as_ref().map(PackId::as_str),
        Some("medical"),
        "the manifest's own fallback comes first"
    );
    let cause = report.substitutions[0].cause.to_string();
    assert_eq!(
        cause,
        "it supports base tiny_base 2.0 but tiny_base 1.0.0 is running"
    );
    let report = runtime.run("x", &options(Some("narrow"))).unwrap();
    assert_eq!(
        report.used.as_ref().map(PackId::as_str),
        Some("general_chat")
    );
    assert!(
        matches!(&report.substitutions[0].cause, LoadFailure::Incompatible(e) if e.contains("width 32")),
        "{:?}",
        report.substitutions
    );
    let report = runtime.run("x", &options(Some("not_installed"))).unwrap();
    assert_eq!(report.substitutions[0].cause, LoadFailure::Missing);
    assert_eq!(
        report.used.as_ref().map(PackId::as_str),
        Some("general_chat")
    );
}

#[test]
fn a_small_budget_evicts_and_the_monitor_shows_it() {
    let world = World::new();
    let base_bytes = std::fs::metadata(world.base.join("weights.gguf"))
        .unwrap()
        .len();
    let pack_bytes = std::fs::metadata(world.packs[0].join("weights.gguf"))
        .unwrap()
        .len();
    // Room for the base and one and a half packs.
    let mut runtime = world.open(base_bytes + pack_bytes * 3 / 2);
    runtime.run(PYTHON, &options(Some("python_code"))).unwrap();
    let again = runtime.run(PYTHON, &options(Some("python_code"))).unwrap();
    assert!(
        again.events.contains(&modularbase_runtime::CacheEvent::Hit(
            "python_code".parse().unwrap()
        )),
        "{:?}",
        again.events
    );
    let report = runtime.run(MEDICAL, &options(Some("medical"))).unwrap();
    assert!(
        report
            .events
            .contains(&modularbase_runtime::CacheEvent::Evicted(
                "python_code".parse().unwrap()
            )),
        "{:?}",
        report.events
    );
    let view = runtime.monitor();
    assert!(view.used <= view.budget);
    let state = |id: &str| view.rows.iter().find(|r| r.id == id).map(|r| r.state);
    assert_eq!(state("tiny_base"), Some(ComponentState::Resident));
    assert_eq!(state("medical"), Some(ComponentState::Loaded));
    assert_eq!(state("python_code"), Some(ComponentState::Evicted));
    assert_eq!(state("general_chat"), Some(ComponentState::Installed));
    let text = view.render();
    assert!(
        text.contains("python_code") && text.contains("Evicted"),
        "{text}"
    );
    assert_eq!(view.stats.evictions, 1);
}

#[test]
fn a_budget_below_the_base_is_refused_at_open() {
    let world = World::new();
    let err = Runtime::open(&world.base, &world.packs, 1000, &common::device()).unwrap_err();
    assert!(
        err.to_string()
            .contains("smaller than the resident base and router"),
        "{err}"
    );
}

#[test]
fn a_router_pack_is_resident_and_routes_through_its_projection() {
    let mut world = World::new();
    world.add_router(0.5);
    let mut runtime = world.open(1 << 30);
    let report = runtime.run(PYTHON, &options(None)).unwrap();
    assert_eq!(
        report.used.as_ref().map(PackId::as_str),
        Some("python_code")
    );
    let view = runtime.monitor();
    let router = view.rows.iter().find(|r| r.id == "router").unwrap();
    assert_eq!(
        (router.kind.as_str(), router.state),
        ("router", ComponentState::Resident)
    );
    assert!(router.bytes > 0);
}

#[test]
fn a_prompt_no_pack_is_confident_about_gets_the_base_alone_without_general_chat() {
    let mut world = World::new();
    world.packs.retain(|p| !p.ends_with("general_chat"));
    world.add_router(0.999);
    let mut runtime = world.open(1 << 30);
    let report = runtime
        .run("an unrelated prompt about the weather", &options(None))
        .unwrap();
    assert!(
        matches!(&report.route, Some(Route::LowConfidence(_))),
        "{:?}",
        report.route
    );
    assert_eq!(report.wanted, None);
    assert_eq!(report.used, None, "the base alone answers");
    assert!(
        report.substitutions.is_empty(),
        "{:?}",
        report.substitutions
    );
    assert!(report.tokens > 0);
}

#[test]
fn a_prompt_below_the_router_threshold_goes_to_the_fallback_pack() {
    let mut world = World::new();
    world.add_router(0.999);
    let mut runtime = world.open(1 << 30);
    let report = runtime
        .run("an unrelated prompt about the weather", &options(None))
        .unwrap();
    assert!(
        matches!(&report.route, Some(Route::LowConfidence(Some(best))) if best.score < 0.999),
        "{:?}",
        report.route
    );
    assert_eq!(
        report.wanted.as_ref().map(PackId::as_str),
        Some("general_chat")
    );
    assert_eq!(
        report.used.as_ref().map(PackId::as_str),
        Some("general_chat")
    );
    // The exact prompt a key was made from still clears it.
    assert_eq!(
        runtime
            .run(PYTHON, &options(None))
            .unwrap()
            .used
            .as_ref()
            .map(PackId::as_str),
        Some("python_code")
    );
}
