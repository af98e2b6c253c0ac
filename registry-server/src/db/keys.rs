//! Publishers' Ed25519 public keys.

use modularbase_pack::{KeyInfo, PublicKey};

use super::Db;

/// A registered key.
#[derive(Debug)]
pub(crate) struct KeyRow {
    pub(crate) user_id: i64,
    pub(crate) info: KeyInfo,
}

type KeyTuple = (i64, String, String, String, Option<String>);

fn key_row((user_id, key, fingerprint, created_at, revoked_at): KeyTuple) -> Option<KeyRow> {
    Some(KeyRow {
        user_id,
        info: KeyInfo {
            key: key.parse().ok()?,
            fingerprint,
            created_at,
            revoked: revoked_at.is_some(),
        },
    })
}

impl Db {
    /// The key record for `key`, whoever registered it.
    pub(crate) async fn key(&self, key: &PublicKey) -> sqlx::Result<Option<KeyRow>> {
        let row: Option<KeyTuple> =
            sqlx::query_as("SELECT user_id, public_key, fingerprint, created_at, revoked_at FROM keys WHERE public_key = ?")
                .bind(key.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(key_row))
    }

    /// Registers `key` for `user_id`; `false` if someone already registered it.
    pub(crate) async fn insert_key(&self, user_id: i64, key: &PublicKey) -> sqlx::Result<bool> {
        let result =
            sqlx::query("INSERT INTO keys (user_id, public_key, fingerprint) VALUES (?, ?, ?)")
                .bind(user_id)
                .bind(key.to_string())
                .bind(key.fingerprint())
                .execute(&self.pool)
                .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if super::is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The id of `key` if it is registered to `user_id` and not revoked.
    pub(crate) async fn active_key_id(
        &self,
        user_id: i64,
        key: &PublicKey,
    ) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT id FROM keys WHERE user_id = ? AND public_key = ? AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(key.to_string())
        .fetch_optional(&self.pool)
        .await
    }

    /// Every key of the user called `login`, oldest first.
    pub(crate) async fn keys_of(&self, login: &str) -> sqlx::Result<Vec<KeyInfo>> {
        let rows: Vec<KeyTuple> = sqlx::query_as(
            "SELECT k.user_id, k.public_key, k.fingerprint, k.created_at, k.revoked_at
             FROM keys k JOIN users u ON u.id = k.user_id WHERE u.login = ? ORDER BY k.id",
        )
        .bind(login)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(key_row)
            .map(|r| r.info)
            .collect())
    }

    /// Revokes the key of `user_id` with `fingerprint`; false if there is no such active key.
    pub(crate) async fn revoke_key(&self, user_id: i64, fingerprint: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "UPDATE keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
             WHERE user_id = ? AND fingerprint = ? AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(fingerprint)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
