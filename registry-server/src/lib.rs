//! The ModularBase registry server.
//!
//! It will own (DESIGN §3): configuration, the SQLite database and its migrations
//! (`migrations/sqlite/`), the content-addressed blob store, token authentication, and the
//! HTTP routes — sparse index, publish, download, search, owners, keys, tokens and the
//! marketplace pages. The registry server issue builds it; for now it names the format it
//! serves.

pub use modularbase_pack::IndexRecord;

/// The sparse-index path of a pack's records, as served under `/index/`.
pub fn index_path(id: &modularbase_pack::PackId) -> String {
    format!("/index/{id}")
}
