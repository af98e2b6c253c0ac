//! The manifest error: which file, where in it, which field, and what is wrong.

use std::fmt;
use std::path::PathBuf;

use crate::IdError;

/// A refused `pack.toml`.
///
/// Displays as ``invalid manifest `path` at line L, column C: `pack.id`: problem``, so a
/// user can go straight to the spot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    /// The manifest file (or the archive entry it came from).
    pub path: PathBuf,
    /// 1-based line and column, where TOML gives a position.
    pub location: Option<(usize, usize)>,
    /// Dotted field name such as `pack.version` or `dependencies.reasoning`; `None` for
    /// errors about the document as a whole.
    pub field: Option<String>,
    /// What is wrong (boxed to keep `Result`s small).
    pub problem: Box<ManifestProblem>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid manifest `{}`", self.path.display())?;
        if let Some((line, column)) = self.location {
            write!(f, " at line {line}, column {column}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "`{field}`: ")?;
        }
        write!(f, "{}", self.problem)
    }
}

/// The specific rule a manifest breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestProblem {
    /// The file is not UTF-8 text.
    #[error("the file is not valid UTF-8 text")]
    NotUtf8,
    /// The manifest could not be read from disk.
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// TOML syntax or a value of the wrong type.
    #[error("{0}")]
    Syntax(String),
    /// A key the format does not know (often a typo).
    #[error("unknown field; {0}")]
    UnknownField(String),
    /// A required field is absent.
    #[error("this field is required")]
    MissingField,
    /// A text field is empty or only whitespace.
    #[error("must not be empty")]
    Empty,
    /// A text field is longer than allowed.
    #[error("is {len} characters long, at most {max} are allowed")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text field holds control characters.
    #[error("must not contain control characters")]
    ControlCharacter,
    /// A pack id that breaks the id rule.
    #[error("{0}")]
    InvalidId(IdError),
    /// A version that is not semver 2.0.
    #[error("`{value}` is not a semver version such as `1.0.0`: {reason}")]
    InvalidVersion {
        /// The refused text.
        value: String,
        /// The parser's explanation.
        reason: String,
    },
    /// A `kind` other than base, router or domain.
    #[error("`{0}` is not a pack kind; use one of `base`, `router`, `domain`")]
    InvalidKind(String),
    /// A domain label that is not a short lowercase word.
    #[error("`{0}` is not a valid domain; use lowercase letters, digits, `_` or `-` (at most 64)")]
    InvalidDomain(String),
    /// A field that this pack kind requires is missing.
    #[error("a pack of kind `{kind}` must declare this field")]
    RequiredForKind {
        /// The pack kind.
        kind: &'static str,
    },
    /// A field that this pack kind must not declare.
    #[error("a pack of kind `{kind}` must not declare this field{hint}")]
    NotAllowedForKind {
        /// The pack kind.
        kind: &'static str,
        /// Extra advice, starting with `; `, or empty.
        hint: &'static str,
    },
    /// A base compatibility entry that is not `MAJOR.MINOR`.
    #[error("`{0}` is not a base version of the form MAJOR.MINOR such as `1.2`")]
    InvalidBaseCompat(String),
    /// A list or table names the same thing twice.
    #[error("`{0}` is listed more than once")]
    Duplicate(String),
    /// The pack names itself where it must name another pack.
    #[error("a pack cannot name itself (`{0}`) here")]
    SelfReference(String),
    /// A version requirement cargo would not accept.
    #[error("`{value}` is not a version requirement such as `>=1.1` or `^1.0`: {reason}")]
    InvalidRequirement {
        /// The refused text.
        value: String,
        /// The parser's explanation.
        reason: String,
    },
    /// The base family is listed as an ordinary dependency.
    #[error(
        "`{0}` is this pack's base; declare it with `pack.base` and `pack.base_compatibility`, not as a dependency"
    )]
    BaseAsDependency(String),
    /// A pack is both required and declared a conflict.
    #[error("`{0}` is both a dependency (or fallback) and a conflict of this pack")]
    DependencyConflict(String),
    /// A readme path that is not a plain file name in the pack directory.
    #[error("`{value}` cannot be the readme: {reason}")]
    InvalidReadme {
        /// The refused path.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// An inconsistent or out-of-range `[model]` shape.
    #[error("{0}")]
    InvalidModelShape(String),
}
