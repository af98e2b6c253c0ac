//! API tokens: `mbr_<public id>_<secret>`, stored as SHA-256 of the secret, compared in
//! constant time, each with scopes.

use std::fmt;
use std::str::FromStr;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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
    /// Register and revoke the user's signing keys.
    Keys,
}

impl Scope {
    /// Every scope, the default for a user's first token.
    pub const ALL: [Scope; 5] = [
        Scope::PublishNew,
        Scope::PublishUpdate,
        Scope::Yank,
        Scope::Owners,
        Scope::Keys,
    ];

    /// The scope's name in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PublishNew => "publish-new",
            Self::PublishUpdate => "publish-update",
            Self::Yank => "yank",
            Self::Owners => "owners",
            Self::Keys => "keys",
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
                    "`{s}` is not a token scope; use publish-new, publish-update, yank, owners or keys"
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
        self.require_any(&[scope])
    }

    /// Refuses with 403 unless the token carries one of `scopes` (at least one); the
    /// sentence names the first as the one to ask for.
    fn require_any(&self, scopes: &[Scope]) -> Result<(), AppError> {
        if scopes.iter().any(|scope| self.scopes.contains(scope)) {
            return Ok(());
        }
        let Some((first, others)) = scopes.split_first() else {
            return Err(AppError::forbidden("this token may not do this"));
        };
        let lacking = if others.is_empty() {
            format!("the `{first}` scope")
        } else {
            let others: Vec<String> = others.iter().map(|s| format!("the `{s}` scope")).collect();
            format!(
                "the `{first}` scope and {}, one of which this needs",
                others.join(" and ")
            )
        };
        let alternatives: String = others
            .iter()
            .map(|s| format!(" (or `--scope {s}`)"))
            .collect();
        Err(AppError::forbidden(format!(
            "this token lacks {lacking}; create one that has it with `modularbase registry token create --user {} --scope {first}`{alternatives}",
            self.login
        )))
    }
}

/// Who may call a route: declared once per route in `routes::api_routes` and enforced
/// there by [`check_access`] before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone, without a token.
    Public,
    /// Any valid token, whatever its scopes.
    Token,
    /// A valid token carrying this scope.
    Scope(Scope),
    /// A valid token carrying at least one of these scopes; the handler then requires the
    /// one that applies (publish: `publish-new` for a new pack, `publish-update` otherwise).
    AnyScope(&'static [Scope]),
}

impl Access {
    /// The scopes of which a token needs one (empty: none, or no token at all).
    pub(crate) fn scopes(self) -> Vec<Scope> {
        match self {
            Self::Public | Self::Token => Vec::new(),
            Self::Scope(scope) => vec![scope],
            Self::AnyScope(scopes) => scopes.to_vec(),
        }
    }

    /// Refuses with 403 unless `caller`'s token satisfies this access.
    fn allow(self, caller: &Caller) -> Result<(), AppError> {
        match self {
            Self::Public | Self::Token => Ok(()),
            Self::Scope(scope) => caller.require(scope),
            Self::AnyScope(scopes) => caller.require_any(scopes),
        }
    }
}

/// The route layer of every non-public route: authenticates the token (401), checks the
/// route's declared [`Access`] (403), and hands the [`Caller`] on to the handler in the
/// request's extensions, where its extractor finds it.
pub(crate) async fn check_access(
    State((state, access)): State<(AppState, Access)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    if access != Access::Public {
        let caller = match Caller::from_request_parts(&mut parts, &state).await {
            Ok(caller) => caller,
            Err(refusal) => return refusal.into_response(),
        };
        if let Err(refusal) = access.allow(&caller) {
            return refusal.into_response();
        }
        parts.extensions.insert(caller);
    }
    next.run(Request::from_parts(parts, body)).await
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The route's access check (`routes::check_access`) already authenticated it.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
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
        assert_eq!(
            scopes_to_text(&Scope::ALL),
            "publish-new,publish-update,yank,owners,keys"
        );
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!(
            "admin"
                .parse::<Scope>()
                .unwrap_err()
                .contains("not a token scope")
        );
    }
}
