//! Why a GGUF header was refused: one variant per rule, each naming the key or tensor.

/// A GGUF file whose header is malformed, hostile or beyond ModularBase's bounds.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Read(#[source] std::io::Error),
    /// It does not start with `GGUF`.
    #[error("it is not a GGUF file (it does not start with `GGUF`)")]
    NotGguf,
    /// A version other than 2 or 3.
    #[error("GGUF version {0} is not supported; supported: 2 and 3")]
    Version(u32),
    /// The file ends (or would have to extend) past its size.
    #[error("{what} needs {needed} bytes at byte {offset} but the file has only {file_len}")]
    Truncated {
        /// What was being read.
        what: String,
        /// Bytes it needs.
        needed: u64,
        /// Where it starts.
        offset: u64,
        /// The file's size.
        file_len: u64,
    },
    /// More metadata entries or tensors than allowed.
    #[error("the header declares {count} {what}; at most {max} are allowed")]
    TooMany {
        /// `tensors` or `metadata entries`.
        what: &'static str,
        /// The declared count.
        count: u64,
        /// The bound.
        max: u64,
    },
    /// A string longer than allowed.
    #[error("{what} is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// Which string.
        what: String,
        /// Its declared length.
        len: u64,
        /// The bound.
        max: u64,
    },
    /// The header would take more memory than allowed.
    #[error(
        "the header needs more than {max} bytes of memory (at {what}); no model's metadata is that large"
    )]
    HeaderTooLarge {
        /// Where the bound was crossed.
        what: String,
        /// The bound.
        max: u64,
    },
    /// A string that is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(String),
    /// A metadata value of a type GGUF does not define.
    #[error("{what} has value type {id}, which GGUF does not define")]
    ValueType {
        /// Which value.
        what: String,
        /// The type id.
        id: u32,
    },
    /// An array of arrays.
    #[error("metadata key `{0}` holds an array of arrays, which GGUF readers do not support")]
    NestedArray(String),
    /// A bool that is neither 0 nor 1.
    #[error("metadata key `{key}` is a bool stored as {byte}; a bool is 0 or 1")]
    Bool {
        /// The key.
        key: String,
        /// The byte found.
        byte: u8,
    },
    /// A key twice.
    #[error("metadata key `{0}` appears more than once")]
    DuplicateKey(String),
    /// A tensor name twice.
    #[error("tensor `{0}` appears more than once")]
    DuplicateTensor(String),
    /// An unusable `general.alignment`.
    #[error("`general.alignment` is {0}; it must be a u32 power of two from 1 to 1048576")]
    Alignment(String),
    /// A tensor type ModularBase cannot run.
    #[error(
        "tensor `{name}` is stored as {kind}, which ModularBase cannot run; supported: {supported}"
    )]
    TensorType {
        /// The tensor.
        name: String,
        /// The type found.
        kind: String,
        /// The types supported.
        supported: String,
    },
    /// Dimensions that no tensor can have.
    #[error("tensor `{name}` {problem}")]
    TensorShape {
        /// The tensor.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A data range that is misaligned, outside the data section or overlapping.
    #[error("tensor `{name}` {problem}")]
    TensorData {
        /// The tensor.
        name: String,
        /// What is wrong.
        problem: String,
    },
}
