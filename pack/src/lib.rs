//! The ModularBase pack format, shared by the registry, the CLI and the runtime.
//!
//! A pack is a versioned, signed bundle of weights described by a `pack.toml` manifest and
//! shipped as a deterministic `ID-VERSION.mbpack` archive (tar + zstd). This crate owns
//! what a pack *is* and refuses every malformed one with an error that says what is wrong
//! and where; it does no network I/O.
//!
//! ```
//! use modularbase_pack::{Manifest, PackKind};
//!
//! let text = r#"
//! [pack]
//! id = "python_code"
//! version = "1.0.0"
//! name = "Python Code Pack"
//! kind = "domain"
//! domain = "code"
//! base = "tiny_base"
//! base_compatibility = ["1.0", "1.1"]
//!
//! [dependencies]
//! reasoning = ">=1.1"
//! "#;
//! let manifest = Manifest::from_toml_str(text, "pack.toml".as_ref()).unwrap();
//! assert_eq!(manifest.id.as_str(), "python_code");
//! assert_eq!(manifest.kind, PackKind::Domain);
//! assert!(manifest.base_compatibility[1].admits(&"1.1.7".parse().unwrap()));
//! ```

mod api;
mod archive;
mod digest;
pub mod gguf;
mod id;
mod index;
mod manifest;
mod signing;
mod text_serde;
pub mod tuf;
pub mod weights;

pub use api::{
    ErrorDetail, ErrorEnvelope, IndexConfig, KeyInfo, KeyList, OkResponse, OwnerList, OwnerUser,
    OwnersChange, PackDetails, PublishBodyError, PublishMetadata, PublishResponse,
    RegisterKeyRequest, SearchHit, SearchMeta, SearchResponse, VersionSummary, WhoAmI,
    decode_publish_header, encode_publish_header, paths,
};
pub use archive::{
    ARCHIVE_EXTENSION, ArchiveContents, ArchiveError, ArchiveFile, ArchiveLimits, MANIFEST_FILE,
    PackRef, WEIGHTS_FILE, archive_file_name, build_archive, inspect_archive, unpack_archive,
};
pub use digest::{
    DigestError, HashingReader, HashingWriter, Sha256Digest, sha256_file, sha256_reader,
    tree_digest, tree_listing,
};
pub use id::{IdError, PackId};
pub use index::{IndexDep, IndexError, IndexRecord, parse_index_lines};
pub use manifest::{
    BaseCompat, ExpertFormat, Manifest, ManifestError, ManifestProblem, ModelShape, PackKind,
};
pub use signing::{
    KeyFileError, PackSignature, PublicKey, SignatureError, SigningKey, signed_statement,
};
pub use weights::{BaseShape, DomainShape, RouterShape, WeightsError, WeightsShape};
