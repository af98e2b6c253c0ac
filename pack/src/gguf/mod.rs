//! GGUF headers, read by ModularBase itself before any other reader sees the file.
//!
//! [`GgufHeader::read`] takes any byte stream (a file, or `weights.gguf` inside an archive
//! as it is decompressed) and the file's size, and refuses everything a hostile file can
//! use against a reader: versions other than 2 and 3, an alignment that is not a power of
//! two up to 1 MiB, counts and lengths past [`GgufLimits`] or past the end of the file (all
//! checked before anything is allocated, with the header's memory bounded as a whole),
//! nested arrays, duplicate keys and tensors, tensor types ModularBase cannot run,
//! dimensions that are zero, too many or overflow, and tensor data that is misaligned,
//! outside the data section or overlapping other tensors. What passes is safe to hand to
//! candle's reader; what the tensors *mean* is checked by [`crate::weights`].

mod error;
mod header;
mod types;
mod value;

pub use error::GgufError;
pub use header::{DEFAULT_ALIGNMENT, GgufHeader, GgufLimits, MAX_ALIGNMENT, MAX_DIMS, TensorInfo};
pub use types::{GgmlType, ValueType};
pub use value::{GgufArray, GgufValue};
