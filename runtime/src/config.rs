//! The shape of a base core, as stored in `llama.*` GGUF metadata. It is defined, with its
//! bounds and its checks against a file's header, in `modularbase_pack::weights`, which the
//! CLI and the registry share.

pub use modularbase_pack::BaseShape as BaseConfig;
