//! One file per command: parse arguments, call an op, report the result.

pub(crate) mod base_import;
pub(crate) mod base_init;
pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod demo;
pub(crate) mod eval;
pub(crate) mod key;
pub(crate) mod login;
pub(crate) mod monitor;
pub(crate) mod pack_build;
pub(crate) mod pack_init;
pub(crate) mod pack_inspect;
pub(crate) mod pack_install;
pub(crate) mod pack_publish;
pub(crate) mod pack_registry;
pub(crate) mod pack_resolve;
pub(crate) mod pack_set;
pub(crate) mod pack_verify;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod train;
