//! A base core's weights and their GGUF layout: llama.cpp's tensor names (`token_embd`,
//! `blk.N.*`, `output_norm`, `output`), `llama.*` shape keys, `general.*` provenance and the
//! vocabulary's `tokenizer.*` keys. Reading checks every key and tensor the runtime needs.

use std::path::Path;

use candle_core::Device;
use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Tensor};
use modularbase_pack::Manifest;

use crate::config::BaseConfig;
use crate::error::{Result, RuntimeError};
use crate::gguf::{GgufFile, u32_value, write_gguf};
use crate::init::Init;
use crate::tokenizer::VOCAB_SIZE;
use crate::vocab::Vocab;

/// The storage type matrices of a new base are kept in.
pub(crate) const BASE_MATRIX_DTYPE: GgmlDType = GgmlDType::F16;

/// A base core's tensors by llama.cpp name, in file order, and its vocabulary.
#[derive(Debug)]
pub struct BaseWeights {
    /// The shape.
    pub config: BaseConfig,
    /// `(name, tensor)` in the canonical order.
    pub tensors: Vec<(String, QTensor)>,
    /// Tokenizer, stop tokens and chat template.
    pub vocab: Vocab,
}

/// `general.*` provenance written into a base's GGUF.
#[derive(Debug, Clone, Default)]
pub struct GeneralInfo {
    /// `general.name`.
    pub name: String,
    /// `general.version`.
    pub version: Option<String>,
    /// `general.license`.
    pub license: Option<String>,
    /// `general.description`.
    pub description: Option<String>,
}

impl From<&str> for GeneralInfo {
    fn from(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }
}

impl From<&Manifest> for GeneralInfo {
    fn from(m: &Manifest) -> Self {
        Self {
            name: m.id.to_string(),
            version: Some(m.version.to_string()),
            license: m.license.clone(),
            description: m.description.clone(),
        }
    }
}

impl BaseWeights {
    /// Names and shapes (outermost first) of every tensor of a base with `config`.
    pub fn layout(config: &BaseConfig) -> Vec<(String, Vec<usize>)> {
        config
            .expected_tensors()
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect()
    }

    /// Randomly initialised weights (normal, std 0.02; norms 1), reproducible from `seed`.
    /// Matrices are stored F16, norm vectors F32 (as llama.cpp expects).
    pub fn random(config: &BaseConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut init = Init::new(seed);
        let mut tensors = Vec::new();
        for (name, shape) in Self::layout(config) {
            let tensor = if shape.len() == 1 {
                init.ones(&shape)?
            } else {
                init.normal(&shape, 0.02)?
            };
            tensors.push((name, tensor));
        }
        Self::from_f32(config, tensors)
    }

    /// Stores F32 tensors given in layout order: matrices F16, norm vectors F32; the byte
    /// vocabulary.
    pub fn from_f32(config: &BaseConfig, tensors: Vec<(String, Tensor)>) -> Result<Self> {
        config.validate()?;
        if config.vocab < VOCAB_SIZE {
            return Err(RuntimeError::Config(format!(
                "vocab ({}) must hold the {VOCAB_SIZE} byte-tokenizer tokens",
                config.vocab
            )));
        }
        let tensors = tensors
            .into_iter()
            .map(|(name, t)| {
                let t = t.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
                let dtype = if t.rank() == 1 {
                    GgmlDType::F32
                } else {
                    BASE_MATRIX_DTYPE
                };
                Ok((name, QTensor::quantize(&t, dtype)?))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config: *config,
            tensors,
            vocab: Vocab::bytes(),
        })
    }

    /// Bytes the tensors occupy as stored.
    pub fn storage_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .map(|(_, t)| t.storage_size_in_bytes() as u64)
            .sum()
    }

    /// The same base with every matrix stored as `dtype` (norm vectors stay F32).
    pub fn requantized(self, dtype: GgmlDType) -> Result<Self> {
        let tensors = self
            .tensors
            .into_iter()
            .map(|(name, t)| {
                if t.shape().rank() == 1 || t.dtype() == dtype {
                    return Ok((name, t));
                }
                let f = t.dequantize(&Device::Cpu)?;
                Ok((name, QTensor::quantize(&f, dtype)?))
            })
            .collect::<Result<_>>()?;
        Ok(Self { tensors, ..self })
    }
}

/// Writes a base core as a llama GGUF (version 3): `general.*` from `info`, `llama.*` shape
/// keys, llama.cpp tensor names and the vocabulary's `tokenizer.*` keys (for the byte
/// vocabulary, one that llama.cpp tokenizes as we do).
pub fn write_base_gguf(
    path: &Path,
    weights: &BaseWeights,
    info: impl Into<GeneralInfo>,
) -> Result<()> {
    let info: GeneralInfo = info.into();
    let c = &weights.config;
    let file_type = file_type(&weights.tensors);
    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("llama".into())),
        ("general.name".into(), Value::String(info.name)),
    ];
    for (key, value) in [
        ("general.version", info.version),
        ("general.license", info.license),
        ("general.description", info.description),
    ] {
        if let Some(value) = value {
            metadata.push((key.into(), Value::String(value)));
        }
    }
    let shape = [
        ("general.file_type", Value::U32(file_type)),
        ("llama.context_length", u32_value(c.context)),
        ("llama.embedding_length", u32_value(c.hidden)),
        ("llama.block_count", u32_value(c.layers)),
        ("llama.feed_forward_length", u32_value(c.ffn)),
        ("llama.attention.head_count", u32_value(c.heads)),
        ("llama.attention.head_count_kv", u32_value(c.kv_heads)),
        ("llama.rope.dimension_count", u32_value(c.head_dim())),
        ("llama.rope.freq_base", Value::F32(c.rope_theta)),
        (
            "llama.attention.layer_norm_rms_epsilon",
            Value::F32(c.rms_eps),
        ),
        ("llama.vocab_size", u32_value(c.vocab)),
    ];
    metadata.extend(shape.into_iter().map(|(k, v)| (k.to_owned(), v)));
    metadata.extend(weights.vocab.gguf_metadata(c.vocab));
    let metadata: Vec<(&str, Value)> = metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    write_gguf(path, &metadata, &weights.tensors)
}

/// llama.cpp's `general.file_type` for the most common matrix type (1 = F16, 2 = Q4_0, …).
fn file_type(tensors: &[(String, QTensor)]) -> u32 {
    let mut counts: Vec<(GgmlDType, usize)> = Vec::new();
    for (_, t) in tensors.iter().filter(|(_, t)| t.shape().rank() > 1) {
        match counts.iter_mut().find(|(d, _)| *d == t.dtype()) {
            Some((_, n)) => *n += 1,
            None => counts.push((t.dtype(), 1)),
        }
    }
    let most = counts.iter().max_by_key(|(_, n)| *n).map(|(d, _)| *d);
    match most {
        Some(GgmlDType::F32) => 0,
        Some(GgmlDType::Q4_0) => 2,
        Some(GgmlDType::Q4_1) => 3,
        Some(GgmlDType::Q8_0) => 7,
        Some(GgmlDType::Q5_0) => 8,
        Some(GgmlDType::Q5_1) => 9,
        Some(GgmlDType::Q2K) => 10,
        Some(GgmlDType::Q3K) => 12,
        Some(GgmlDType::Q4K) => 15,
        Some(GgmlDType::Q5K) => 17,
        Some(GgmlDType::Q6K) => 18,
        Some(GgmlDType::BF16) => 32,
        _ => 1,
    }
}

/// Reads a llama-family base: the shape from `llama.*` keys, every tensor the runtime
/// needs with its shape and a supported type, and the vocabulary. Whatever is missing or
/// unsupported is named in the error, with what is supported.
pub fn read_base_gguf(path: &Path) -> Result<BaseWeights> {
    Ok(read_base_gguf_with_provenance(path)?.0)
}

/// [`read_base_gguf`], and the file's `general.*` keys whose values are text (lists joined
/// with `, `), sorted: its provenance, for a model card.
pub(crate) fn read_base_gguf_with_provenance(
    path: &Path,
) -> Result<(BaseWeights, Vec<(String, String)>)> {
    let mut file = GgufFile::open(path, "base")?;
    let config = BaseConfig::from_header(&file.header).map_err(|e| file.bad(e.to_string()))?;
    let vocab = Vocab::from_gguf(&file.content, config.vocab).map_err(|e| file.bad(e))?;
    let mut tensors = Vec::new();
    for (name, shape) in BaseWeights::layout(&config) {
        let tensor = file.tensor(&name, &shape)?;
        tensors.push((name, tensor));
    }
    let weights = BaseWeights {
        config,
        tensors,
        vocab,
    };
    Ok((weights, general_strings(&file.content)))
}

fn general_strings(content: &candle_core::quantized::gguf_file::Content) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = content
        .metadata
        .iter()
        .filter(|(k, _)| k.starts_with("general."))
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| i.to_string().ok().cloned())
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => return None,
            };
            Some((k.clone(), text))
        })
        .collect();
    out.sort();
    out
}
