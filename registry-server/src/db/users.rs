//! Users and their API tokens.

use super::Db;
use crate::admin::TokenInfo;
use crate::auth::{Scope, scopes_from_text, scopes_to_text};

/// A token as stored, joined with its user.
#[derive(Debug)]
pub(crate) struct TokenRow {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) login: String,
    pub(crate) secret_hash: Vec<u8>,
    pub(crate) scopes: String,
    pub(crate) revoked: bool,
}

/// id, user id, login, secret hash, scopes, revoked at.
type TokenTuple = (i64, i64, String, Vec<u8>, String, Option<String>);
/// public id, name, scopes, created, last used, revoked.
type TokenInfoTuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

impl Db {
    /// Inserts a user; `None` if the login is taken.
    pub(crate) async fn insert_user(&self, login: &str) -> sqlx::Result<Option<i64>> {
        let result = sqlx::query("INSERT INTO users (login) VALUES (?)")
            .bind(login)
            .execute(&self.pool)
            .await;
        match result {
            Ok(done) => Ok(Some(done.last_insert_rowid())),
            Err(e) if super::is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The id of the user called `login`.
    pub(crate) async fn user_id(&self, login: &str) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar("SELECT id FROM users WHERE login = ?")
            .bind(login)
            .fetch_optional(&self.pool)
            .await
    }

    /// Stores a token's hash.
    pub(crate) async fn insert_token(
        &self,
        user_id: i64,
        name: &str,
        public_id: &str,
        secret_hash: &[u8],
        scopes: &[Scope],
    ) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO tokens (user_id, name, public_id, secret_hash, scopes) VALUES (?, ?, ?, ?, ?)")
            .bind(user_id)
            .bind(name)
            .bind(public_id)
            .bind(secret_hash)
            .bind(scopes_to_text(scopes))
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// The token whose public part is `public_id`.
    pub(crate) async fn token_by_public_id(
        &self,
        public_id: &str,
    ) -> sqlx::Result<Option<TokenRow>> {
        let row: Option<TokenTuple> = sqlx::query_as(
            "SELECT t.id, t.user_id, u.login, t.secret_hash, t.scopes, t.revoked_at
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.public_id = ?",
        )
        .bind(public_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, user_id, login, secret_hash, scopes, revoked_at)| TokenRow {
                id,
                user_id,
                login,
                secret_hash,
                scopes,
                revoked: revoked_at.is_some(),
            },
        ))
    }

    /// Records that a token was just used.
    pub(crate) async fn touch_token(&self, id: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// Every token of `login`, newest first.
    pub(crate) async fn tokens_of(&self, login: &str) -> sqlx::Result<Vec<TokenInfo>> {
        let rows: Vec<TokenInfoTuple> = sqlx::query_as(
            "SELECT t.public_id, t.name, t.scopes, t.created_at, t.last_used_at, t.revoked_at
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.login = ? ORDER BY t.id DESC",
        )
        .bind(login)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, name, scopes, created_at, last_used_at, revoked_at)| TokenInfo {
                    id,
                    name,
                    scopes: scopes_from_text(&scopes),
                    created_at,
                    last_used_at,
                    revoked_at,
                },
            )
            .collect())
    }

    /// Revokes the token with `public_id`; false if there is none or it was revoked already.
    pub(crate) async fn revoke_token(&self, public_id: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE public_id = ? AND revoked_at IS NULL",
        )
        .bind(public_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The `keys` scope's migration gives it to tokens that had every earlier scope (in any
    /// order) and to no narrower one; run again, it changes nothing.
    #[tokio::test]
    async fn the_keys_migration_extends_only_tokens_that_had_every_scope() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let user = db.insert_user("ada").await.unwrap().unwrap();
        let old = [
            ("all", "publish-new,publish-update,yank,owners"),
            ("shuffled", "owners,yank,publish-update,publish-new"),
            ("yank", "yank"),
            ("publishing", "publish-new,publish-update"),
        ];
        for (id, scopes) in old {
            sqlx::query("INSERT INTO tokens (user_id, name, public_id, secret_hash, scopes) VALUES (?, ?, ?, x'00', ?)")
                .bind(user)
                .bind(id)
                .bind(id)
                .bind(scopes)
                .execute(&db.pool)
                .await
                .unwrap();
        }
        let migration = include_str!("../../../migrations/sqlite/20261201120000_keys_scope.sql");
        for _ in 0..2 {
            sqlx::raw_sql(migration).execute(&db.pool).await.unwrap();
        }
        let mut scopes = Vec::new();
        for (id, _) in old {
            let row = db.token_by_public_id(id).await.unwrap().unwrap();
            scopes.push(crate::auth::scopes_from_text(&row.scopes));
        }
        assert_eq!(scopes[0], Scope::ALL);
        assert!(scopes[1].contains(&Scope::Keys));
        assert_eq!(scopes[2], [Scope::Yank]);
        assert_eq!(scopes[3], [Scope::PublishNew, Scope::PublishUpdate]);
    }
}
