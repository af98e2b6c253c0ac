//! GGUF files: opened only after `modularbase_pack::gguf` has checked the header, and
//! written atomically. What a file of each kind must hold is checked by
//! `modularbase_pack::weights`; the readers here (`base/weights.rs`, `pack_module.rs`,
//! `router.rs`) turn the checked shape into tensors.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use candle_core::Device;
use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use modularbase_pack::gguf::{GgmlType, GgufError, GgufHeader, GgufLimits};

use crate::error::{Result, RuntimeError, candle_message};

/// An open GGUF file: its header checked by ModularBase's own bounded reader, then read by
/// candle's (which only ever sees files the first accepted), and a reader for tensor data.
pub(crate) struct GgufFile<'p> {
    pub(crate) path: &'p Path,
    /// The checked header.
    pub(crate) header: GgufHeader,
    /// candle's view of the same header.
    pub(crate) content: Content,
    reader: BufReader<File>,
    what: &'static str,
}

impl<'p> GgufFile<'p> {
    /// Opens `path`, describing it as `what` (`base`, `pack` or `router`) in errors.
    pub(crate) fn open(path: &'p Path, what: &'static str) -> Result<Self> {
        let bad = |problem: String| RuntimeError::BadWeights {
            path: path.to_owned(),
            what,
            problem,
        };
        let io = |source| RuntimeError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(|source| RuntimeError::Io {
            action: "open",
            path: path.to_owned(),
            source,
        })?;
        let len = file.metadata().map_err(io)?.len();
        let mut reader = BufReader::new(file);
        let header =
            GgufHeader::read(&mut reader, len, &GgufLimits::default()).map_err(|e| match e {
                GgufError::Read(source) => io(source),
                other => bad(other.to_string()),
            })?;
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        let content = Content::read(&mut reader)
            .map_err(|e| bad(format!("not a readable GGUF file: {}", candle_message(&e))))?;
        Ok(Self {
            path,
            header,
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

    /// The tensor `name`, checked against `shape` (candle order, outermost first).
    pub(crate) fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<QTensor> {
        if self.header.tensor(name).is_none() {
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

/// candle's name for a GGML storage type.
pub(crate) fn candle_dtype(kind: GgmlType) -> GgmlDType {
    match kind {
        GgmlType::F32 => GgmlDType::F32,
        GgmlType::F16 => GgmlDType::F16,
        GgmlType::Bf16 => GgmlDType::BF16,
        GgmlType::Q4_0 => GgmlDType::Q4_0,
        GgmlType::Q4_1 => GgmlDType::Q4_1,
        GgmlType::Q5_0 => GgmlDType::Q5_0,
        GgmlType::Q5_1 => GgmlDType::Q5_1,
        GgmlType::Q8_0 => GgmlDType::Q8_0,
        GgmlType::Q8_1 => GgmlDType::Q8_1,
        GgmlType::Q2K => GgmlDType::Q2K,
        GgmlType::Q3K => GgmlDType::Q3K,
        GgmlType::Q4K => GgmlDType::Q4K,
        GgmlType::Q5K => GgmlDType::Q5K,
        GgmlType::Q6K => GgmlDType::Q6K,
        GgmlType::Q8K => GgmlDType::Q8K,
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
    #[cfg(unix)]
    {
        // Weights are data anyone may read, like any file a tool writes (the temporary
        // file starts private).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The header reader sizes tensors with its own table; candle reads them with its own:
    /// they must agree for every type, or a checked range would not be what candle reads.
    #[test]
    fn the_pack_crates_block_table_matches_candles() {
        for kind in GgmlType::ALL {
            let dtype = candle_dtype(kind);
            assert_eq!(dtype.block_size() as u64, kind.block_size(), "{kind}");
            assert_eq!(dtype.type_size() as u64, kind.block_bytes(), "{kind}");
        }
    }
}
