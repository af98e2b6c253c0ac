//! Why a metadata document was refused.

use super::Role;

/// A metadata document that cannot be trusted, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not JSON, or not the document's shape.
    #[error("`{file}` is not valid metadata: {message}")]
    Malformed {
        /// The document's file name.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A document of another role (or an unknown one) where this role was expected.
    #[error("`{file}` says it is `{found}` metadata, not `{expected}`")]
    WrongType {
        /// The document's file name.
        file: String,
        /// The role expected.
        expected: Role,
        /// The `_type` it carries.
        found: String,
    },
    /// Too few valid signatures by the keys the root names for the role.
    #[error(
        "`{file}` has {valid} valid signature(s) by {role} keys, and the root requires {threshold}"
    )]
    Unsigned {
        /// The document's file name.
        file: String,
        /// The role whose keys count.
        role: Role,
        /// Distinct valid signatures found.
        valid: u32,
        /// Signatures required.
        threshold: u32,
    },
    /// Past its `expires`.
    #[error("`{file}` expired at {expires}")]
    Expired {
        /// The document's file name.
        file: String,
        /// The `expires` field.
        expires: String,
    },
    /// A version older than one already trusted.
    #[error("`{file}` is version {offered}, older than version {trusted} already verified")]
    Rollback {
        /// The document (or index file) whose version went back.
        file: String,
        /// The version trusted before.
        trusted: u64,
        /// The version offered now.
        offered: u64,
    },
    /// Not the version the trusted metadata announces.
    #[error("`{file}` is version {found}, but version {expected} was expected")]
    WrongVersion {
        /// The document.
        file: String,
        /// The version the trusted metadata names.
        expected: u64,
        /// The version it carries.
        found: u64,
    },
    /// Bytes whose length or SHA-256 are not the ones the trusted metadata lists.
    #[error(
        "`{file}` is not the file the signed metadata lists ({found_length} bytes, expected {expected_length} with its SHA-256)"
    )]
    Mismatch {
        /// The file.
        file: String,
        /// Its length.
        found_length: u64,
        /// The listed length.
        expected_length: u64,
    },
    /// A file the previous snapshot listed is gone from the new one.
    #[error("`{file}` was listed by the previous snapshot but not by the new one")]
    Dropped {
        /// The file.
        file: String,
    },
    /// A document the trusted metadata needs but does not have yet.
    #[error("no trusted {0}.json yet")]
    NotLoaded(Role),
}
