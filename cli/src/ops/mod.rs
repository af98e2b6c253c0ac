//! The work behind the commands, free of argument parsing and printing.

mod build;
pub(crate) mod demo;
mod index;
mod inspect;
mod install;
pub(crate) mod models;
mod publish;
pub(crate) mod runtime;
mod sign;
mod train;

pub use build::{BuiltArchive, build_pack};
pub use index::HttpIndex;
pub use inspect::inspect_pack;
pub use install::{Lock, LockedPack, install, trust_key};
pub use publish::{Published, publish};
pub use runtime::open_runtime;
pub use sign::{SignatureStatus, check_signature, sign_archive, signature_path, signing_key};
pub(crate) use train::{change, open_base, read_manifest, train_options, write_card_section};
