//! The work behind the commands, free of argument parsing and printing.

mod build;
mod inspect;
mod runtime;

pub use build::{BuiltArchive, build_pack};
pub use inspect::inspect_pack;
pub use runtime::open_runtime;
