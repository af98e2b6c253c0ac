//! The work behind the commands, free of argument parsing and printing.

mod build;
mod inspect;

pub use build::{BuiltArchive, build_pack};
pub use inspect::inspect_pack;
