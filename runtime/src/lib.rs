//! The ModularBase runtime on candle (DESIGN §5).
//!
//! A frozen llama-style **base core** ([`BaseModel`]) carries general understanding; **packs**
//! plug into its hidden stream at one layer through the [`HiddenPlug`] trait. Weights are
//! GGUF: a base is a llama model with llama.cpp's tensor names and `llama.*` metadata.
//!
//! ```
//! use candle_core::Device;
//! use modularbase_runtime::{BaseConfig, BaseModel, ByteTokenizer, Sampling, generate};
//!
//! let config = BaseConfig { hidden: 64, layers: 2, heads: 4, kv_heads: 2, ffn: 128, ..BaseConfig::default() };
//! let mut base = BaseModel::random(&config, 7, &Device::Cpu).unwrap();
//! let prompt = ByteTokenizer.encode("def ");
//! let out = generate(&mut base, None, &prompt, 5, &Sampling::greedy()).unwrap();
//! assert_eq!(out.len(), 5);
//! ```

mod base;
mod config;
mod error;
mod generate;
mod gguf;
mod init;
mod moe;
mod pack_module;
mod tokenizer;

pub use base::{BaseModel, BaseWeights, HiddenPlug};
pub use config::BaseConfig;
pub use error::{Result, RuntimeError};
pub use generate::{Sampling, generate, sample_token};
pub use gguf::{read_base_gguf, write_base_gguf};
pub use pack_module::{PackConfig, PackModule, PackWeights};
pub use tokenizer::{BOS, ByteTokenizer, EOS, VOCAB_SIZE};
