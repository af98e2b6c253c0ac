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
mod cache;
mod chat;
mod config;
mod device;
mod error;
mod eval;
mod fallback;
mod generate;
mod gguf;
mod import;
mod init;
mod keep_alive;
mod moe;
mod monitor;
mod pack_module;
mod predictor;
mod router;
mod scaffold;
mod sequence;
mod serving;
mod session;
#[cfg(test)]
mod tensor_gaps;
mod tokenizer;
pub mod train;
mod vocab;

pub use base::{
    BaseModel, BaseWeights, GeneralInfo, HiddenPlug, KvCache, Segment, read_base_gguf,
    write_base_gguf,
};
pub use cache::{CacheError, CacheEvent, CacheStats, GetError, PackCache, ResidentPart, Sized64};
pub use chat::{ChatMessage, ChatTemplate};
pub use config::BaseConfig;
pub use device::{PickedDevice, cuda_compiled, device_memory, pick_device};
pub use error::{Result, RuntimeError};
pub use eval::{BitsPerByte, EVAL_WINDOW, EvalReport, bits_per_byte, windows};
pub use fallback::{
    BaseInfo, GENERAL_CHAT, InstalledPack, LoadFailure, Loaded, Substitution, fallback_chain,
    general_chat, load_pack_module, load_with_fallback,
};
pub use generate::{GenerationStats, Sampling, generate, generate_timed, sample_token};
pub use import::{ImportOptions, ImportedBase, import_base};
pub use keep_alive::KeepAlive;
pub use monitor::{ComponentRow, ComponentState, MonitorView, human_bytes};
pub use pack_module::{PackConfig, PackModule, PackWeights, read_pack_key};
pub use predictor::Predictor;
pub use router::{DEFAULT_THRESHOLD, Route, RouteScore, Router, calibrate_threshold};
pub use scaffold::{README_FILE, base_manifest, base_shape_table, write_base_dir, write_pack_dir};
pub use sequence::{FinishReason, Routing, Sequence};
pub use serving::{ModelChoice, PREFILL_CHUNK, Prompt, Request};
pub use session::{EvalTarget, ROUTE_PREFIX, RunOptions, RunReport, Runtime};
pub use tokenizer::{BOS, BpeTokenizer, ByteTokenizer, EOS, Tokenizer, VOCAB_SIZE};
pub use vocab::Vocab;
