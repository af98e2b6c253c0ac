//! Runtime errors: what failed, on which file or pack, and the cause.

use std::path::PathBuf;

/// Result of runtime operations.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// A runtime failure.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A tensor operation failed.
    #[error("tensor operation failed: {}", candle_message(.0))]
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
    /// The pack a run was forced to use cannot be used (and falling back was not allowed).
    #[error("pack `{id}` cannot be used: {cause}")]
    ForcedPack {
        /// The pack.
        id: modularbase_pack::PackId,
        /// Why.
        cause: String,
    },
    /// A prompt that leaves no room in the base's context for an answer.
    #[error("the prompt is {tokens} tokens but the base's context holds {context}; shorten it")]
    PromptTooLong {
        /// Tokens of the prompt.
        tokens: usize,
        /// The base's context.
        context: usize,
    },
    /// The request's pack fits only once packs that requests are using are released.
    #[error("waiting for room: {0}")]
    WaitForRoom(String),
    /// A configuration that cannot describe a model.
    #[error("invalid model configuration: {0}")]
    Config(String),
}

impl From<modularbase_pack::WeightsError> for RuntimeError {
    fn from(e: modularbase_pack::WeightsError) -> Self {
        Self::Config(e.to_string())
    }
}

/// A candle error's message without the backtrace candle attaches when `RUST_BACKTRACE` is
/// set: messages are for users; `--debug` and a debugger are for backtraces.
pub(crate) fn candle_message(e: &candle_core::Error) -> String {
    use candle_core::Error;
    match e {
        Error::WithBacktrace { inner, .. } => candle_message(inner),
        Error::Context { inner, context } => format!("{context}: {}", candle_message(inner)),
        Error::WithPath { inner, path } => {
            format!("{}: {}", path.display(), candle_message(inner))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: with `RUST_BACKTRACE=1`, candle's errors carried a whole backtrace into
    /// every message (and fallback warning) that printed them.
    #[test]
    fn candle_errors_print_without_their_backtrace() {
        let inner = candle_core::Error::Msg("unknown magic 0x20746f6e".into());
        let e = candle_core::Error::WithBacktrace {
            inner: Box::new(inner),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        assert_eq!(candle_message(&e), "unknown magic 0x20746f6e");
        assert_eq!(
            RuntimeError::Candle(e).to_string(),
            "tensor operation failed: unknown magic 0x20746f6e"
        );
    }
}
