//! GGUF files: typed metadata access with clear errors, and the base core's llama layout.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, Write};
use std::path::Path;

use candle_core::Device;
use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};

use crate::base::BaseWeights;
use crate::config::BaseConfig;
use crate::error::{Result, RuntimeError};
use crate::tokenizer::{BOS, ByteTokenizer, EOS};

/// An open GGUF file: its header and a reader for tensor data.
pub(crate) struct GgufFile<'p> {
    pub(crate) path: &'p Path,
    pub(crate) content: Content,
    reader: BufReader<File>,
    what: &'static str,
}

impl<'p> GgufFile<'p> {
    /// Opens `path`, describing it as `what` (`base` or `pack`) in errors.
    pub(crate) fn open(path: &'p Path, what: &'static str) -> Result<Self> {
        let file = File::open(path).map_err(|source| RuntimeError::Io {
            action: "open",
            path: path.to_owned(),
            source,
        })?;
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|e| RuntimeError::BadWeights {
            path: path.to_owned(),
            what,
            problem: format!("not a readable GGUF file: {e}"),
        })?;
        Ok(Self {
            path,
            content,
            reader,
            what,
        })
    }

    /// An error about this file.
    pub(crate) fn bad(&self, problem: impl Into<String>) -> RuntimeError {
        RuntimeError::BadWeights {
            path: self.path.to_owned(),
            what: self.what,
            problem: problem.into(),
        }
    }

    fn value(&self, key: &str) -> Result<&Value> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| self.bad(format!("metadata key `{key}` is missing")))
    }

    /// An unsigned integer metadata value.
    pub(crate) fn usize(&self, key: &str) -> Result<usize> {
        let value = self.value(key)?;
        let n = match value {
            Value::U8(v) => u64::from(*v),
            Value::U16(v) => u64::from(*v),
            Value::U32(v) => u64::from(*v),
            Value::U64(v) => *v,
            Value::I32(v) if *v >= 0 => *v as u64,
            Value::I64(v) if *v >= 0 => *v as u64,
            other => {
                return Err(self.bad(format!(
                    "metadata key `{key}` should be an unsigned integer, found {other:?}"
                )));
            }
        };
        usize::try_from(n).map_err(|_| self.bad(format!("metadata key `{key}` is too large")))
    }

    /// A float metadata value.
    pub(crate) fn f32(&self, key: &str) -> Result<f32> {
        match self.value(key)? {
            Value::F32(v) => Ok(*v),
            Value::F64(v) => Ok(*v as f32),
            other => Err(self.bad(format!(
                "metadata key `{key}` should be a float, found {other:?}"
            ))),
        }
    }

    /// A string metadata value.
    pub(crate) fn string(&self, key: &str) -> Result<String> {
        match self.value(key)? {
            Value::String(v) => Ok(v.clone()),
            other => Err(self.bad(format!(
                "metadata key `{key}` should be a string, found {other:?}"
            ))),
        }
    }

    /// The tensor `name`, checked against `shape` (candle order, outermost first).
    pub(crate) fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<QTensor> {
        let tensor = self
            .content
            .tensor(&mut self.reader, name, &Device::Cpu)
            .map_err(|e| RuntimeError::BadWeights {
                path: self.path.to_owned(),
                what: self.what,
                problem: format!("tensor `{name}`: {e}"),
            })?;
        if tensor.shape().dims() != shape {
            return Err(self.bad(format!(
                "tensor `{name}` has shape {:?}, expected {shape:?}",
                tensor.shape().dims()
            )));
        }
        Ok(tensor)
    }
}

/// Writes metadata and tensors as GGUF to `path` (through a temporary file, renamed into
/// place, so a reader never sees half a file).
pub(crate) fn write_gguf(
    path: &Path,
    metadata: &[(&str, Value)],
    tensors: &[(String, QTensor)],
) -> Result<()> {
    let io = |action| {
        move |source| RuntimeError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("create a temporary file beside"))?;
    {
        let mut writer = BufWriter::new(tmp.as_file());
        let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
        gguf_file::write(&mut writer, &metadata, &tensors)?;
        writer.flush().map_err(io("write"))?;
        writer.stream_position().map_err(io("write"))?;
    }
    tmp.as_file().sync_all().map_err(io("write"))?;
    tmp.persist(path).map_err(|e| RuntimeError::Io {
        action: "write",
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// A size as a GGUF `u32` metadata value (saturating).
pub(crate) fn u32_value(n: usize) -> Value {
    Value::U32(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Writes a base core as a llama GGUF: `general.architecture = "llama"`, `llama.*` shape
/// keys, llama.cpp tensor names and a byte-level vocabulary llama.cpp understands.
pub fn write_base_gguf(path: &Path, weights: &BaseWeights, name: &str) -> Result<()> {
    let c = &weights.config;
    let tokens = ByteTokenizer.token_strings();
    let metadata = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String(name.to_owned())),
        ("general.file_type", Value::U32(1)),
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
        ("tokenizer.ggml.model", Value::String("llama".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.scores",
            Value::Array((0..c.vocab).map(|_| Value::F32(0.0)).collect()),
        ),
        // llama.cpp token types: 6 = byte, 3 = control.
        (
            "tokenizer.ggml.token_type",
            Value::Array(
                (0..c.vocab)
                    .map(|t| Value::I32(if t < 256 { 6 } else { 3 }))
                    .collect(),
            ),
        ),
        ("tokenizer.ggml.bos_token_id", Value::U32(BOS)),
        ("tokenizer.ggml.eos_token_id", Value::U32(EOS)),
    ];
    write_gguf(path, &metadata, &weights.tensors)
}

/// Reads a base core written by [`write_base_gguf`] (or any llama GGUF of this layout).
pub fn read_base_gguf(path: &Path) -> Result<BaseWeights> {
    let mut file = GgufFile::open(path, "base")?;
    let architecture = file.string("general.architecture")?;
    if architecture != "llama" {
        return Err(file.bad(format!(
            "`general.architecture` is `{architecture}`, a base must be `llama`"
        )));
    }
    let config = BaseConfig {
        hidden: file.usize("llama.embedding_length")?,
        layers: file.usize("llama.block_count")?,
        heads: file.usize("llama.attention.head_count")?,
        kv_heads: file.usize("llama.attention.head_count_kv")?,
        ffn: file.usize("llama.feed_forward_length")?,
        vocab: file.usize("llama.vocab_size")?,
        context: file.usize("llama.context_length")?,
        rope_theta: file.f32("llama.rope.freq_base")?,
        rms_eps: file.f32("llama.attention.layer_norm_rms_epsilon")?,
    };
    config.validate().map_err(|e| file.bad(e.to_string()))?;
    let mut tensors = Vec::new();
    for (name, shape) in BaseWeights::layout(&config) {
        let tensor = file.tensor(&name, &shape)?;
        tensors.push((name, tensor));
    }
    Ok(BaseWeights { config, tensors })
}

/// The storage type matrices of a base are kept in.
pub(crate) const BASE_MATRIX_DTYPE: GgmlDType = GgmlDType::F16;
