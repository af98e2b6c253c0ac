//! Writing GGUF version 3 without candle: for tools and tests that make weights files
//! (valid ones, and hostile ones that readers must refuse).

use super::{ExpectedTensor, WeightsShape};
use crate::gguf::{DEFAULT_ALIGNMENT, GgmlType, GgufArray, GgufValue, MAX_ALIGNMENT};

/// A GGUF file being assembled: metadata in order, then tensors with their data.
#[derive(Debug, Clone, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, GgufValue)>,
    tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
}

impl GgufWriter {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a metadata entry (duplicates are kept: the writer writes what it is given).
    pub fn metadata(&mut self, key: &str, value: GgufValue) -> &mut Self {
        self.metadata.push((key.to_owned(), value));
        self
    }

    /// Sets `key` to `value`, replacing its first entry or adding one.
    pub fn set(&mut self, key: &str, value: GgufValue) -> &mut Self {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.metadata.push((key.to_owned(), value)),
        }
        self
    }

    /// Keeps only the tensors whose names `keep` accepts.
    pub fn retain_tensors(&mut self, keep: impl Fn(&str) -> bool) -> &mut Self {
        self.tensors.retain(|(name, ..)| keep(name));
        self
    }

    /// Adds a tensor with `shape` outermost first and its raw `data`.
    pub fn tensor(
        &mut self,
        name: &str,
        shape: &[usize],
        kind: GgmlType,
        data: Vec<u8>,
    ) -> &mut Self {
        let dims = shape.iter().rev().map(|&d| d as u64).collect();
        self.tensors.push((name.to_owned(), dims, kind.id(), data));
        self
    }

    /// Adds a tensor with raw GGUF fields (dimensions innermost first, any type id), for
    /// files that must be refused.
    pub fn raw_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        type_id: u32,
        data: Vec<u8>,
    ) -> &mut Self {
        self.tensors
            .push((name.to_owned(), dims.to_vec(), type_id, data));
        self
    }

    /// The file's bytes: each tensor's data aligned as `general.alignment` says (32 when
    /// it is absent or unusable), offsets in order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let alignment = match self.metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, GgufValue::U32(a)))
                if a.is_power_of_two() && u64::from(*a) <= MAX_ALIGNMENT =>
            {
                u64::from(*a)
            }
            _ => DEFAULT_ALIGNMENT,
        } as usize;
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_string(&mut out, key);
            out.extend(value.value_type().id().to_le_bytes());
            put_value(&mut out, value);
        }
        let mut offset = 0usize;
        for (name, dims, type_id, data) in &self.tensors {
            put_string(&mut out, name);
            out.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(type_id.to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            offset = (offset + data.len()).next_multiple_of(alignment);
        }
        out.resize(out.len().next_multiple_of(alignment), 0);
        for (_, _, _, data) in &self.tensors {
            out.extend(data);
            out.resize(out.len().next_multiple_of(alignment), 0);
        }
        out
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, value: &GgufValue) {
    match value {
        GgufValue::U8(v) => out.extend(v.to_le_bytes()),
        GgufValue::I8(v) => out.extend(v.to_le_bytes()),
        GgufValue::U16(v) => out.extend(v.to_le_bytes()),
        GgufValue::I16(v) => out.extend(v.to_le_bytes()),
        GgufValue::U32(v) => out.extend(v.to_le_bytes()),
        GgufValue::I32(v) => out.extend(v.to_le_bytes()),
        GgufValue::U64(v) => out.extend(v.to_le_bytes()),
        GgufValue::I64(v) => out.extend(v.to_le_bytes()),
        GgufValue::F32(v) => out.extend(v.to_le_bytes()),
        GgufValue::F64(v) => out.extend(v.to_le_bytes()),
        GgufValue::Bool(v) => out.push(u8::from(*v)),
        GgufValue::String(s) => put_string(out, s),
        GgufValue::Array(a) => {
            out.extend(a.element.id().to_le_bytes());
            out.extend(a.len.to_le_bytes());
            if let Some(strings) = a.strings() {
                for s in strings {
                    put_string(out, s);
                }
            } else if let Some(bytes) = a.scalar_bytes() {
                out.extend(bytes);
            }
        }
    }
}

/// A valid weights file for `shape` whose tensor data is `fill` repeated (zeros when it is
/// empty): a file every check accepts, for tests and tools that move packs around without
/// running them.
pub fn sample_weights(shape: &WeightsShape, fill: &[u8]) -> Vec<u8> {
    sample_writer(shape, fill).to_bytes()
}

/// The writer behind [`sample_weights`], to edit before writing (for files that must be
/// refused).
pub fn sample_writer(shape: &WeightsShape, fill: &[u8]) -> GgufWriter {
    let mut w = sample_metadata(shape);
    for ExpectedTensor { name, shape, types } in shape.expected_tensors() {
        let kind = types[0];
        let elements = shape.iter().product::<usize>() as u64;
        let bytes = kind.bytes_for(elements).unwrap_or(0) as usize;
        let data = if fill.is_empty() {
            vec![0u8; bytes]
        } else {
            fill.iter().copied().cycle().take(bytes).collect()
        };
        w.tensor(&name, &shape, kind, data);
    }
    w
}

/// The metadata a weights file of `shape` needs, without tensors.
pub fn sample_metadata(shape: &WeightsShape) -> GgufWriter {
    let mut w = GgufWriter::new();
    let size = |n: usize| GgufValue::U32(u32::try_from(n).unwrap_or(u32::MAX));
    match shape {
        WeightsShape::Base(b) => {
            w.metadata("general.architecture", GgufValue::String("llama".into()))
                .metadata("llama.embedding_length", size(b.hidden))
                .metadata("llama.block_count", size(b.layers))
                .metadata("llama.attention.head_count", size(b.heads))
                .metadata("llama.attention.head_count_kv", size(b.kv_heads))
                .metadata("llama.feed_forward_length", size(b.ffn))
                .metadata("llama.context_length", size(b.context))
                .metadata("llama.rope.freq_base", GgufValue::F32(b.rope_theta))
                .metadata(
                    "llama.attention.layer_norm_rms_epsilon",
                    GgufValue::F32(b.rms_eps),
                )
                .metadata("tokenizer.ggml.model", GgufValue::String("llama".into()))
                .metadata(
                    "tokenizer.ggml.tokens",
                    GgufValue::Array(GgufArray::from_strings(
                        (0..b.vocab).map(|i| format!("<t{i}>")).collect(),
                    )),
                );
        }
        WeightsShape::Domain(d) => {
            let format = d.expert_format.as_str();
            w.metadata(
                "general.architecture",
                GgufValue::String(super::domain::DOMAIN_ARCHITECTURE.into()),
            )
            .metadata("modularbase.hidden_size", size(d.hidden))
            .metadata("modularbase.pack_width", size(d.width))
            .metadata("modularbase.expert_count", size(d.experts))
            .metadata("modularbase.expert_used_count", size(d.top_k))
            .metadata("modularbase.expert_feed_forward_length", size(d.expert_ffn))
            .metadata("modularbase.insertion_layer", size(d.insertion_layer))
            .metadata(
                "modularbase.expert_format",
                GgufValue::String(format.into()),
            );
        }
        WeightsShape::Router(r) => {
            w.metadata(
                "general.architecture",
                GgufValue::String(super::router::ROUTER_ARCHITECTURE.into()),
            )
            .metadata("modularbase.hidden_size", size(r.hidden))
            .metadata("modularbase.router_threshold", GgufValue::F32(r.threshold));
        }
    }
    w
}
