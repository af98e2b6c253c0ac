//! The weights files as an external GGUF reader sees them: a small independent parser of
//! the header, metadata and tensor table (not candle's), checked against llama.cpp's
//! conventions for bases and ours for packs and routers.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use modularbase_pack::ExpertFormat;
use modularbase_runtime::{
    BaseConfig, BaseWeights, PackConfig, PackWeights, Router, write_base_gguf,
};

/// A metadata value, as far as these checks need it.
#[derive(Debug, Clone, PartialEq)]
enum Meta {
    Int(i128),
    Float(f64),
    Bool(bool),
    Text(String),
    Array(usize),
}

struct Gguf {
    version: u32,
    metadata: BTreeMap<String, Meta>,
    /// name → (dims as stored, innermost first; ggml type id)
    tensors: BTreeMap<String, (Vec<u64>, u32)>,
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.u64() as usize;
        String::from_utf8(self.take(n).to_vec()).unwrap()
    }
    fn value(&mut self, kind: u32) -> Meta {
        match kind {
            0 => Meta::Int(i128::from(self.take(1)[0])),
            1 => Meta::Int(i128::from(self.take(1)[0] as i8)),
            2 => Meta::Int(i128::from(u16::from_le_bytes(
                self.take(2).try_into().unwrap(),
            ))),
            3 => Meta::Int(i128::from(i16::from_le_bytes(
                self.take(2).try_into().unwrap(),
            ))),
            4 => Meta::Int(i128::from(self.u32())),
            5 => Meta::Int(i128::from(self.u32() as i32)),
            6 => Meta::Float(f64::from(f32::from_le_bytes(
                self.take(4).try_into().unwrap(),
            ))),
            7 => Meta::Bool(self.take(1)[0] != 0),
            8 => Meta::Text(self.string()),
            9 => {
                let inner = self.u32();
                let n = self.u64() as usize;
                for _ in 0..n {
                    self.value(inner);
                }
                Meta::Array(n)
            }
            10 => Meta::Int(i128::from(self.u64())),
            11 => Meta::Int(i128::from(self.u64() as i64)),
            12 => Meta::Float(f64::from_le_bytes(self.take(8).try_into().unwrap())),
            other => panic!("unknown GGUF value type {other}"),
        }
    }
}

fn parse(path: &Path) -> Gguf {
    let bytes = std::fs::read(path).unwrap();
    let mut c = Cursor(&bytes);
    assert_eq!(c.take(4), b"GGUF", "magic");
    let version = c.u32();
    let tensor_count = c.u64();
    let kv_count = c.u64();
    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key = c.string();
        let kind = c.u32();
        metadata.insert(key, c.value(kind));
    }
    let mut tensors = BTreeMap::new();
    for _ in 0..tensor_count {
        let name = c.string();
        let dims: Vec<u64> = (0..c.u32()).map(|_| c.u64()).collect();
        let kind = c.u32();
        let _offset = c.u64();
        tensors.insert(name, (dims, kind));
    }
    Gguf {
        version,
        metadata,
        tensors,
    }
}

/// ggml type ids.
const F32: u32 = 0;
const F16: u32 = 1;
const Q4_0: u32 = 2;
const Q8_0: u32 = 8;

#[test]
fn a_base_is_a_llama_gguf_with_llama_cpp_names_and_types() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.gguf");
    let config = BaseConfig {
        hidden: 64,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        ffn: 96,
        ..BaseConfig::default()
    };
    write_base_gguf(
        &path,
        &BaseWeights::random(&config, 1).unwrap(),
        "tiny_base",
    )
    .unwrap();
    let g = parse(&path);
    assert!(
        g.version == 2 || g.version == 3,
        "GGUF version {}",
        g.version
    );
    let m = &g.metadata;
    assert_eq!(m["general.architecture"], Meta::Text("llama".into()));
    for (key, value) in [
        ("llama.embedding_length", 64),
        ("llama.block_count", 2),
        ("llama.attention.head_count", 4),
        ("llama.attention.head_count_kv", 2),
        ("llama.feed_forward_length", 96),
        ("llama.rope.dimension_count", 16),
        ("llama.context_length", 512),
        ("tokenizer.ggml.bos_token_id", 256),
        ("tokenizer.ggml.eos_token_id", 257),
    ] {
        assert_eq!(m[key], Meta::Int(value), "{key}");
    }
    assert!(
        matches!(m["llama.attention.layer_norm_rms_epsilon"], Meta::Float(e) if (e - 1e-5).abs() < 1e-9)
    );
    assert_eq!(m["tokenizer.ggml.model"], Meta::Text("llama".into()));
    assert_eq!(m["tokenizer.ggml.tokens"], Meta::Array(258));
    assert_eq!(m["tokenizer.ggml.token_type"], Meta::Array(258));
    // ggml stores dimensions innermost first: token_embd is [hidden, vocab].
    assert_eq!(g.tensors["token_embd.weight"], (vec![64, 258], F16));
    assert_eq!(g.tensors["blk.0.attn_q.weight"], (vec![64, 64], F16));
    assert_eq!(g.tensors["blk.1.attn_k.weight"], (vec![64, 32], F16));
    assert_eq!(g.tensors["blk.1.ffn_down.weight"], (vec![96, 64], F16));
    assert_eq!(g.tensors["blk.0.attn_norm.weight"], (vec![64], F32));
    assert_eq!(g.tensors["output_norm.weight"], (vec![64], F32));
    assert_eq!(g.tensors["output.weight"], (vec![64, 258], F16));
    assert_eq!(g.tensors.len(), 1 + 2 * 9 + 2);
}

#[test]
fn a_pack_names_its_shape_under_modularbase_keys_with_quantized_experts() {
    let dir = tempfile::tempdir().unwrap();
    for (format, expert_type) in [
        (ExpertFormat::Q8_0, Q8_0),
        (ExpertFormat::Q4_0, Q4_0),
        (ExpertFormat::F16, F16),
    ] {
        let path = dir.path().join(format!("{format:?}.gguf"));
        let config = PackConfig {
            hidden: 64,
            width: 32,
            experts: 4,
            top_k: 2,
            expert_ffn: 64,
            insertion_layer: 1,
            expert_format: format,
        };
        PackWeights::random(config, 2)
            .unwrap()
            .write(&path, "python_code")
            .unwrap();
        let g = parse(&path);
        let m = &g.metadata;
        assert_eq!(
            m["general.architecture"],
            Meta::Text("modularbase-pack".into())
        );
        assert_eq!(m["modularbase.hidden_size"], Meta::Int(64));
        assert_eq!(m["modularbase.pack_width"], Meta::Int(32));
        assert_eq!(m["modularbase.expert_count"], Meta::Int(4));
        assert_eq!(m["modularbase.expert_used_count"], Meta::Int(2));
        assert_eq!(m["modularbase.insertion_layer"], Meta::Int(1));
        assert_eq!(g.tensors["pack.in.weight"], (vec![64, 32], F16));
        assert_eq!(g.tensors["pack.gate.weight"], (vec![32, 4], F16));
        assert_eq!(
            g.tensors["pack.expert.3.up.weight"],
            (vec![32, 64], expert_type)
        );
        assert_eq!(
            g.tensors["pack.expert.0.down.weight"],
            (vec![64, 32], expert_type)
        );
        assert_eq!(g.tensors["pack.out.weight"], (vec![32, 64], F16));
        assert_eq!(g.tensors["pack.key"], (vec![64], F32));
    }
}

#[test]
fn a_router_round_trips_and_routes_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.gguf");
    let router = Router::random(64, 3, &common::device()).unwrap();
    router.write(&path, "router").unwrap();
    let g = parse(&path);
    assert_eq!(
        g.metadata["general.architecture"],
        Meta::Text("modularbase-router".into())
    );
    assert_eq!(g.tensors["router.proj.weight"], (vec![64, 64], F16));
    let read = Router::read(&path, &common::device()).unwrap();
    let pooled = candle_core::Tensor::arange(0f32, 64., &common::device()).unwrap();
    let keys: Vec<(modularbase_pack::PackId, candle_core::Tensor)> = (0..3)
        .map(|i| {
            (
                format!("p{i}").parse().unwrap(),
                candle_core::Tensor::arange(i as f32, 64. + i as f32, &common::device())
                    .unwrap()
                    .sin()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        router.route(&pooled, &keys).unwrap(),
        read.route(&pooled, &keys).unwrap()
    );
}
