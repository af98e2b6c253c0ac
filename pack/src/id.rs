//! Pack identifiers: `^[a-z][a-z0-9_]{1,63}$`, used as directory, file and URL names.

use std::fmt;
use std::str::FromStr;

/// Longest identifier we accept, in bytes.
const MAX_ID_LEN: usize = 64;

/// A validated pack identifier such as `python_code`.
///
/// Only lowercase ASCII letters, digits and underscores, starting with a letter, 2 to 64
/// characters: safe as a path component and a URL segment everywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(example = "python_code")
)]
pub struct PackId(String);

/// Why a string is not a pack identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid pack id: {reason} (ids match ^[a-z][a-z0-9_]{{1,63}}$)")]
pub struct IdError {
    /// The refused text, with control characters escaped.
    pub value: String,
    /// What rule it breaks.
    pub reason: &'static str,
}

impl PackId {
    /// Validates `value` as a pack id.
    pub fn new(value: &str) -> Result<Self, IdError> {
        let reason = if value.len() < 2 {
            Some("it must be at least 2 characters long")
        } else if value.len() > MAX_ID_LEN {
            Some("it must be at most 64 characters long")
        } else if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            Some("it must start with a lowercase letter")
        } else if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            Some("only lowercase letters, digits and `_` are allowed")
        } else {
            None
        };
        match reason {
            None => Ok(Self(value.to_owned())),
            Some(reason) => Err(IdError {
                value: value.escape_debug().to_string(),
                reason,
            }),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for PackId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl PartialEq<str> for PackId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PackId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Lookups by `&str` in maps keyed by `PackId` (hash and equality are those of the text).
impl std::borrow::Borrow<str> for PackId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PackId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_design_examples() {
        for ok in ["python_code", "tiny_base", "general_chat", "r2", "a_"] {
            assert_eq!(PackId::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_with_the_broken_rule() {
        let cases = [
            ("a", "at least 2"),
            ("Python", "start with a lowercase"),
            ("1abc", "start with a lowercase"),
            ("py-code", "only lowercase"),
            ("py/../x", "only lowercase"),
            ("py code", "only lowercase"),
        ];
        for (bad, reason) in cases {
            let err = PackId::new(bad).unwrap_err();
            assert!(err.to_string().contains(reason), "{bad}: {err}");
        }
        assert!(PackId::new(&"a".repeat(65)).is_err());
        assert!(PackId::new(&"a".repeat(64)).is_ok());
    }
}
