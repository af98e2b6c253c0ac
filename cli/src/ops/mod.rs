//! The work behind the commands, free of argument parsing and printing.

mod account;
mod build;
pub(crate) mod demo;
mod index;
mod inspect;
mod install;
mod metadata;
pub(crate) mod models;
mod publish;
pub(crate) mod runtime;
mod sign;
mod train;

pub use account::{generate_key, login, public_key, register_key};
pub use build::{BuiltArchive, build_pack};
pub use index::HttpIndex;
pub use inspect::inspect_pack;
pub use install::{
    Change, ChangeKind, InstallOptions, Outcome, Plan, Prepared, Source, Unlock, apply, install,
    plan, prepare, trust_key,
};
pub use publish::{Published, publish};
pub use sign::{SignatureStatus, check_signature, sign_archive, signature_path, signing_key};
pub(crate) use train::{change, open_base, read_manifest, write_card_section};
