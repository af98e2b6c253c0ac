//! Runtime errors: what failed, on which file or pack, and the cause.

use std::path::PathBuf;

/// Result of runtime operations.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// A runtime failure.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// A weights file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A GGUF file lacks something or holds something inconsistent.
    #[error("`{path}` is not a usable {what}: {problem}")]
    BadWeights {
        /// The file.
        path: PathBuf,
        /// `base` or `pack` weights.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The requested device cannot be used.
    #[error("{0}")]
    Device(String),
    /// Text could not be turned into tokens or back.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A chat template could not be rendered.
    #[error("chat template: {0}")]
    ChatTemplate(String),
    /// A configuration that cannot describe a model.
    #[error("invalid model configuration: {0}")]
    Config(String),
}
