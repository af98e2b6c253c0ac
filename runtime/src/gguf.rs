//! GGUF files: typed metadata access with clear errors, and atomic writing. What a file of
//! each kind holds is owned by its reader (`base/weights.rs`, `pack_module.rs`, `router.rs`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use candle_core::Device;
use candle_core::quantized::QTensor;
use candle_core::quantized::gguf_file::{self, Content, Value};

use crate::error::{Result, RuntimeError, candle_message};

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
            problem: format!("not a readable GGUF file: {}", candle_message(&e)),
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

    /// An unsigned integer metadata value, or `default` when the key is absent.
    pub(crate) fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        if self.content.metadata.contains_key(key) {
            self.usize(key)
        } else {
            Ok(default)
        }
    }

    /// A float metadata value, or `default` when the key is absent.
    pub(crate) fn f32_or(&self, key: &str, default: f32) -> Result<f32> {
        if self.content.metadata.contains_key(key) {
            self.f32(key)
        } else {
            Ok(default)
        }
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
        if !self.content.tensor_infos.contains_key(name) {
            return Err(self.bad(format!("tensor `{name}` is missing")));
        }
        let tensor = self
            .content
            .tensor(&mut self.reader, name, &Device::Cpu)
            .map_err(|e| RuntimeError::BadWeights {
                path: self.path.to_owned(),
                what: self.what,
                problem: format!("tensor `{name}`: {}", candle_message(&e)),
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

/// Writes metadata and tensors as GGUF version 3 to `path` (through a temporary file,
/// renamed into place, so a reader never sees half a file).
///
/// candle writes version 2; version 3 differs only in allowing big-endian files, so a
/// little-endian version 2 file becomes version 3 by its version field alone.
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
        let mut file = writer
            .into_inner()
            .map_err(|e| io("write")(e.into_error()))?;
        file.seek(SeekFrom::Start(GGUF_VERSION_OFFSET))
            .map_err(io("write"))?;
        file.write_all(&GGUF_VERSION.to_le_bytes())
            .map_err(io("write"))?;
    }
    tmp.as_file().sync_all().map_err(io("write"))?;
    tmp.persist(path).map_err(|e| RuntimeError::Io {
        action: "write",
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// The GGUF version written.
const GGUF_VERSION: u32 = 3;
/// Where the version sits: after the 4-byte magic.
const GGUF_VERSION_OFFSET: u64 = 4;

/// A size as a GGUF `u32` metadata value (saturating).
pub(crate) fn u32_value(n: usize) -> Value {
    Value::U32(u32::try_from(n).unwrap_or(u32::MAX))
}
