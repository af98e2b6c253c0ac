//! The frozen blocks before a pack, cached on disk: their output for a window depends only
//! on the base's weights up to the insertion block and on the window's tokens, so it is
//! computed once and read back in later epochs, by later runs and by other packs trained on
//! the same text over the same base.
//!
//! An entry is `DIR/KEY.safetensors`, `KEY` the SHA-256 of the prefix weights' stored
//! bytes, the insertion block and the window's tokens; entries are written to a temporary
//! file and renamed, so a reader sees a whole entry or none.

use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use modularbase_pack::{HashingWriter, Sha256Digest};

use crate::base::BaseWeights;
use crate::error::{Result, RuntimeError};

/// Bytes an entry may hold beyond its tensor's data (the safetensors header).
const ENTRY_HEADER_ALLOWANCE: u64 = 4096;

/// Windows' hidden states after the insertion block, on disk.
pub(crate) struct PrefixCache {
    dir: PathBuf,
    /// What every key starts from: the prefix weights and the insertion block.
    weights: Sha256Digest,
    /// The base's hidden width: every entry is `[1, seq, hidden]`.
    hidden: usize,
    device: Device,
    hits: usize,
    misses: usize,
}

impl PrefixCache {
    /// A cache in `dir` for `base` with a pack after block `insertion_layer`.
    pub(crate) fn new(
        dir: &Path,
        base: &BaseWeights,
        insertion_layer: usize,
        device: &Device,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| RuntimeError::Io {
            action: "create",
            path: dir.to_owned(),
            source,
        })?;
        let mut hasher = HashingWriter::new(std::io::sink());
        let io = |source| RuntimeError::Io {
            action: "hash the base for",
            path: dir.to_owned(),
            source,
        };
        hasher
            .write_all(&(insertion_layer as u64).to_le_bytes())
            .map_err(io)?;
        for (name, tensor) in &base.tensors {
            let in_prefix = match name.strip_prefix("blk.").and_then(|r| r.split('.').next()) {
                Some(block) => block.parse::<usize>().is_ok_and(|b| b <= insertion_layer),
                None => name == "token_embd.weight",
            };
            if in_prefix {
                hasher.write_all(name.as_bytes()).map_err(io)?;
                hasher.write_all(&tensor.data()?).map_err(io)?;
            }
        }
        let (_, weights, _) = hasher.finish();
        Ok(Self {
            dir: dir.to_owned(),
            weights,
            hidden: base.config.hidden,
            device: device.clone(),
            hits: 0,
            misses: 0,
        })
    }

    fn path(&self, tokens: &[u32]) -> PathBuf {
        let mut key = self.weights.to_hex().into_bytes();
        for t in tokens {
            key.extend(t.to_le_bytes());
        }
        self.dir
            .join(format!("{}.safetensors", Sha256Digest::of(&key).to_hex()))
    }

    /// The hidden states `[batch, seq, hidden]` after the insertion block for `inputs`
    /// `[batch, seq]`: rows read from the cache, the others computed by `compute` (given the
    /// missing rows' inputs, in order) and stored.
    pub(crate) fn get(
        &mut self,
        inputs: &Tensor,
        compute: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let rows: Vec<Vec<u32>> = inputs.to_vec2()?;
        let paths: Vec<PathBuf> = rows.iter().map(|r| self.path(r)).collect();
        let seq = inputs.dim(1)?;
        let mut found: Vec<Option<Tensor>> = paths.iter().map(|p| self.read(p, seq)).collect();
        let missing: Vec<usize> = (0..rows.len()).filter(|&i| found[i].is_none()).collect();
        self.hits += rows.len() - missing.len();
        self.misses += missing.len();
        if !missing.is_empty() {
            let index = Tensor::new(
                missing
                    .iter()
                    .map(|&i| i as u32)
                    .collect::<Vec<_>>()
                    .as_slice(),
                inputs.device(),
            )?;
            let computed = compute(&inputs.index_select(&index, 0)?)?;
            for (j, &i) in missing.iter().enumerate() {
                let row = computed.narrow(0, j, 1)?;
                self.write(&paths[i], &row)?;
                found[i] = Some(row);
            }
        }
        let rows: Vec<Tensor> = found.into_iter().flatten().collect();
        Ok(Tensor::cat(&rows, 0)?)
    }

    /// Rows read from the cache and rows computed, so far.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.hits, self.misses)
    }

    /// An entry, when there is a readable one of the right shape `[1, seq, hidden]`: an
    /// entry of any other size or shape (damaged, or not ours) is recomputed, and its size
    /// is checked before it is read.
    fn read(&self, path: &Path, seq: usize) -> Option<Tensor> {
        let row_bytes = (seq * self.hidden * 4) as u64;
        let len = std::fs::metadata(path).ok()?.len();
        if len < row_bytes || len > row_bytes + ENTRY_HEADER_ALLOWANCE {
            return None;
        }
        let mut tensors = candle_core::safetensors::load(path, &self.device).ok()?;
        let row = tensors.remove("hidden")?.to_dtype(DType::F32).ok()?;
        (row.dims() == [1, seq, self.hidden]).then_some(row)
    }

    fn write(&self, path: &Path, row: &Tensor) -> Result<()> {
        let io = |source| RuntimeError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        };
        // A file of its own per writer: runs sharing the cache never write into one file.
        let staged = tempfile::Builder::new()
            .suffix(".partial")
            .tempfile_in(&self.dir)
            .map_err(io)?;
        let tensors = std::collections::HashMap::from([("hidden".to_owned(), row.clone())]);
        candle_core::safetensors::save(&tensors, staged.path())?;
        staged.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}
