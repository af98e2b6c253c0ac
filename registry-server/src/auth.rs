//! API tokens: `mbr_<public id>_<secret>`, stored as SHA-256 of the secret, compared in
//! constant time, each with scopes.

use std::fmt;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::AppError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Publish the first version of a new pack.
    PublishNew,
    /// Publish new versions of packs the user owns.
    PublishUpdate,
    /// Yank and unyank versions.
    Yank,
    /// Add and remove owners.
    Owners,
}

impl Scope {
    /// Every scope, the default for a user's first token.
    pub const ALL: [Scope; 4] = [
        Scope::PublishNew,
        Scope::PublishUpdate,
        Scope::Yank,
        Scope::Owners,
    ];

    /// The scope's name in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PublishNew => "publish-new",
            Self::PublishUpdate => "publish-update",
            Self::Yank => "yank",
            Self::Owners => "owners",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a token scope; use publish-new, publish-update, yank or owners"
                )
            })
    }
}

/// Scopes as stored: comma-separated names.
pub(crate) fn scopes_to_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn scopes_from_text(text: &str) -> Vec<Scope> {
    text.split(',').filter_map(|s| s.parse().ok()).collect()
}

/// A freshly minted token: the text shown once, and what is stored.
pub(crate) struct NewToken {
    pub(crate) text: String,
    pub(crate) public_id: String,
    pub(crate) secret_hash: Vec<u8>,
}

pub(crate) fn mint_token() -> NewToken {
    let mut rng = rand::rng();
    let id: [u8; 6] = rng.random();
    let secret: [u8; 32] = rng.random();
    let public_id = hex_lower(&id);
    let secret_text = URL_SAFE_NO_PAD.encode(secret);
    NewToken {
        text: format!("mbr_{public_id}_{secret_text}"),
        secret_hash: hash_secret(&secret_text),
        public_id,
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_secret(secret: &str) -> Vec<u8> {
    modularbase_pack::Sha256Digest::of(secret.as_bytes())
        .0
        .to_vec()
}

/// Splits `mbr_<id>_<secret>` into its parts.
fn parse_token(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("mbr_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) user_id: i64,
    pub(crate) login: String,
    scopes: Vec<Scope>,
}

impl Caller {
    /// What the token may do.
    pub(crate) fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// Refuses with 403 unless the token carries `scope`.
    pub(crate) fn require(&self, scope: Scope) -> Result<(), AppError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "this token lacks the `{scope}` scope; create one that has it with `modularbase registry token create --user {} --scope {scope}`",
                self.login
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| AppError::unauthorized("this request needs an API token in the Authorization header; log in with `modularbase login`"))?;
        let text = header.to_str().unwrap_or_default().trim();
        let text = text.strip_prefix("Bearer ").unwrap_or(text).trim();
        let invalid = || {
            AppError::unauthorized(
                "the API token is invalid or revoked; ask the registry's admin for a new one",
            )
        };
        let (public_id, secret) = parse_token(text).ok_or_else(invalid)?;
        let row = state
            .db
            .token_by_public_id(public_id)
            .await?
            .ok_or_else(invalid)?;
        let matches: bool = row.secret_hash.ct_eq(&hash_secret(secret)).into();
        if !matches || row.revoked {
            return Err(invalid());
        }
        state.db.touch_token(row.id).await?;
        Ok(Caller {
            user_id: row.user_id,
            login: row.login,
            scopes: scopes_from_text(&row.scopes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_parse_and_hash_to_what_is_stored() {
        let token = mint_token();
        let (id, secret) = parse_token(&token.text).unwrap();
        assert_eq!(id, token.public_id);
        assert_eq!(hash_secret(secret), token.secret_hash);
        assert_ne!(mint_token().text, token.text);
        assert!(parse_token("mbr__x").is_none());
        assert!(parse_token("ghp_abc").is_none());
    }

    #[test]
    fn scopes_round_trip_and_refuse_unknown_names() {
        assert_eq!(scopes_from_text(&scopes_to_text(&Scope::ALL)), Scope::ALL);
        assert!(
            "admin"
                .parse::<Scope>()
                .unwrap_err()
                .contains("not a token scope")
        );
    }
}
