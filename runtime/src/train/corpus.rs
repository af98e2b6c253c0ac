//! Training text: files (or directories of files) read as bytes, split deterministically
//! into a training part and a held-out part, and sampled as BOS-prefixed windows.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{Result, RuntimeError};
use crate::tokenizer::BOS;
use crate::vocab::Vocab;

/// Largest block when splitting; every `HELD_OUT_EVERY`-th block is held out.
const BLOCK: usize = 4096;
/// Smallest block, so that short texts still hold some blocks out.
const MIN_BLOCK: usize = 256;
/// One block in this many goes to the held-out part.
const HELD_OUT_EVERY: usize = 10;

/// Text for training and evaluation.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// The bytes trained on.
    pub train: Vec<u8>,
    /// The bytes never trained on (for evaluation).
    pub held_out: Vec<u8>,
}

impl Corpus {
    /// Reads every file under `paths` (see [`read_text`]) and splits the whole into
    /// training and held-out blocks.
    pub fn read(paths: &[PathBuf]) -> Result<Self> {
        Ok(Self::split(&read_text(paths)?))
    }

    /// Splits `text` into training and held-out blocks: every tenth block is held out, blocks
    /// being a fiftieth of the text, between 256 bytes and 4 KiB.
    pub fn split(text: &[u8]) -> Self {
        let mut corpus = Self::default();
        let block = (text.len() / 50).clamp(MIN_BLOCK, BLOCK);
        for (i, block) in text.chunks(block).enumerate() {
            if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 {
                corpus.held_out.extend_from_slice(block);
            } else {
                corpus.train.extend_from_slice(block);
            }
        }
        corpus
    }

    /// Joins several corpora (a mixed set).
    pub fn mix(parts: &[Corpus]) -> Self {
        Self {
            train: parts.iter().flat_map(|c| c.train.iter().copied()).collect(),
            held_out: parts
                .iter()
                .flat_map(|c| c.held_out.iter().copied())
                .collect(),
        }
    }

    /// The training text as a token stream for `vocab`: bytes after BOS for the byte
    /// vocabulary, the vocabulary's tokens otherwise.
    pub(crate) fn tokens(&self, vocab: &Vocab) -> Result<TokenStream> {
        if vocab.is_bytes() {
            return Ok(TokenStream {
                tokens: self.train.iter().map(|&b| u32::from(b)).collect(),
                bos: Some(BOS),
            });
        }
        Ok(TokenStream {
            tokens: vocab.encode(&String::from_utf8_lossy(&self.train))?,
            bos: None,
        })
    }

    /// `count` random snippets of `min..=max` bytes from `text`, for routing keys and
    /// router training; reproducible from `seed`.
    pub fn snippets(text: &[u8], count: usize, min: usize, max: usize, seed: u64) -> Vec<Vec<u8>> {
        if text.len() <= max {
            return vec![text.to_vec()];
        }
        let mut rng = StdRng::seed_from_u64(seed);
        (0..count)
            .map(|_| {
                let len = rng.random_range(min..=max);
                let start = rng.random_range(0..text.len() - len);
                text[start..start + len].to_vec()
            })
            .collect()
    }
}

/// Training text as token ids, sampled as windows.
#[derive(Debug, Clone)]
pub(crate) struct TokenStream {
    tokens: Vec<u32>,
    /// A token each window starts with (the byte vocabulary's BOS), if any.
    bos: Option<u32>,
}

impl TokenStream {
    /// Refuses a stream too short for windows of `seq` tokens.
    pub(crate) fn check_len(&self, seq: usize) -> Result<()> {
        if self.tokens.len() <= seq {
            return Err(RuntimeError::Config(format!(
                "the training text has {} tokens; it needs more than one window of {seq}",
                self.tokens.len()
            )));
        }
        Ok(())
    }

    /// `batch` random windows as `(inputs, targets)`, both `[batch, seq]`: with a BOS,
    /// inputs are BOS then `seq - 1` tokens and targets those `seq` tokens; without, targets
    /// are the inputs shifted by one. Windows start at multiples of `seq`, so later epochs
    /// see the same windows again (and the prefix cache finds them); which ones a step
    /// takes depends only on `seed` and `step`, so a resumed run sees the same data.
    pub(crate) fn batch(
        &self,
        batch: usize,
        seq: usize,
        seed: u64,
        step: usize,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let mut rng =
            StdRng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut inputs: Vec<u32> = Vec::with_capacity(batch * seq);
        let mut targets: Vec<u32> = Vec::with_capacity(batch * seq);
        let windows = (self.tokens.len() - 1) / seq;
        for _ in 0..batch {
            let start = rng.random_range(0..windows) * seq;
            let window = &self.tokens[start..=start + seq];
            match self.bos {
                Some(bos) => {
                    inputs.push(bos);
                    inputs.extend(&window[..seq - 1]);
                    targets.extend(&window[..seq]);
                }
                None => {
                    inputs.extend(&window[..seq]);
                    targets.extend(&window[1..]);
                }
            }
        }
        Ok((
            Tensor::from_vec(inputs, (batch, seq), device)?,
            Tensor::from_vec(targets, (batch, seq), device)?,
        ))
    }
}

/// Every file under `paths` (directories recursively, in name order), joined by blank lines.
pub fn read_text(paths: &[PathBuf]) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    for path in paths {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        if files.is_empty() {
            return Err(RuntimeError::Config(format!(
                "`{}` holds no files to read",
                path.display()
            )));
        }
        for file in files {
            let bytes = std::fs::read(&file).map_err(|source| RuntimeError::Io {
                action: "read",
                path: file.clone(),
                source,
            })?;
            if !bytes.is_empty() {
                all.extend_from_slice(&bytes);
                all.extend_from_slice(b"\n\n");
            }
        }
    }
    Ok(all)
}

/// Regular files under `path` (itself if it is a file), sorted by path.
fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|source| RuntimeError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    if meta.is_file() {
        out.push(path.to_owned());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|source| RuntimeError::Io {
        action: "list",
        path: path.to_owned(),
        source,
    })?;
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        collect_files(&child, out)?;
    }
    Ok(())
}
