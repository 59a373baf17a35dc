//! API keys in the database the prediction log uses (SQLite by default,
//! Postgres with `--database-url`), so every worker sees the same keys.

use std::time::Duration;

use falcon_log::{Database, LogError, Migration, now_micros};

use crate::error::AuthError;
use crate::key::{self, Rate};

/// The `api_keys` table. Times are microseconds since the Unix epoch in
/// both dialects; the rate is stored decomposed so no parser is needed to
/// read it.
pub static MIGRATIONS: &[Migration] = &[Migration {
    name: "falcon_auth_0001_api_keys",
    postgres: "
        CREATE TABLE IF NOT EXISTS api_keys (
            id             TEXT    PRIMARY KEY,
            name           TEXT    NOT NULL,
            key_sha256     BYTEA   NOT NULL,
            admin          BOOLEAN NOT NULL,
            rate_amount    BIGINT,
            rate_period_ms BIGINT,
            rate_burst     BIGINT,
            created_at     BIGINT  NOT NULL,
            revoked_at     BIGINT
        );",
    sqlite: "
        CREATE TABLE IF NOT EXISTS api_keys (
            id             TEXT    PRIMARY KEY,
            name           TEXT    NOT NULL,
            key_sha256     BLOB    NOT NULL,
            admin          INTEGER NOT NULL,
            rate_amount    INTEGER,
            rate_period_ms INTEGER,
            rate_burst     INTEGER,
            created_at     INTEGER NOT NULL,
            revoked_at     INTEGER
        );",
}];

/// A key's metadata (never its token).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub admin: bool,
    /// `None`: unlimited.
    pub rate: Option<Rate>,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// SHA-256 of the token.
    #[serde(skip)]
    pub hash: [u8; 32],
}

/// Key management over a [`Database`].
#[derive(Clone)]
pub struct KeyStore {
    db: Database,
}

type Raw = (
    String,
    String,
    Vec<u8>,
    bool,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
);

fn from_raw(r: Raw) -> ApiKey {
    let (id, name, hash, admin, amount, period_ms, burst, created_at, revoked_at) = r;
    let rate = match (amount, period_ms, burst) {
        (Some(a), Some(p), Some(b)) => Some(Rate {
            amount: u32::try_from(a).unwrap_or(u32::MAX),
            period: Duration::from_millis(u64::try_from(p).unwrap_or(1000)),
            burst: u32::try_from(b).unwrap_or(u32::MAX),
        }),
        _ => None,
    };
    ApiKey {
        id,
        name,
        admin,
        rate,
        created_at,
        revoked_at,
        // A malformed hash can match no token.
        hash: hash.try_into().unwrap_or([0; 32]),
    }
}

const SELECT: &str = "SELECT id, name, key_sha256, admin, rate_amount, rate_period_ms, rate_burst, \
                      created_at, revoked_at FROM api_keys ORDER BY created_at, id";

impl KeyStore {
    /// Runs the migrations and returns the store.
    pub async fn open(db: Database) -> Result<KeyStore, AuthError> {
        db.migrate(MIGRATIONS).await?;
        Ok(KeyStore { db })
    }

    /// Creates a key; the returned token is the only copy — show it once.
    pub async fn create(
        &self,
        name: &str,
        rate: Option<Rate>,
        admin: bool,
    ) -> Result<(ApiKey, String), AuthError> {
        if name.trim().is_empty() {
            return Err(AuthError::InvalidArgument("a key needs a --name".into()));
        }
        let new = key::generate()?;
        let k = ApiKey {
            id: new.id,
            name: name.to_owned(),
            admin,
            rate,
            created_at: now_micros(),
            revoked_at: None,
            hash: new.hash,
        };
        self.insert(&k).await?;
        Ok((k, new.token))
    }

    /// Stores the key `token` as an API key, idempotently: the bootstrap
    /// path of a deployment, which holds its admin key in a secret and runs
    /// this on every start (several replicas at once, possibly). Returns the
    /// key and whether it was added now (`false`: already stored, same
    /// secret and role). Refuses a token that is not `flk_<16 hex>_<64 hex>`,
    /// an id stored with another secret or role, and a revoked key — a
    /// revocation is a decision a restart must not undo.
    pub async fn import(
        &self,
        name: &str,
        token: &str,
        rate: Option<Rate>,
        admin: bool,
    ) -> Result<(ApiKey, bool), AuthError> {
        if name.trim().is_empty() {
            return Err(AuthError::InvalidArgument("a key needs a --name".into()));
        }
        let token = token.trim();
        let Some(id) = key::token_id(token) else {
            return Err(AuthError::InvalidArgument(format!(
                "not an API key: expected {}<16 hex digits>_<64 hex digits> (e.g. from `falcon keys generate`)",
                key::KEY_PREFIX
            )));
        };
        let hash = key::hash_token(token);
        if let Some(found) = self.existing(id, &hash, admin).await? {
            return Ok((found, false));
        }
        let k = ApiKey {
            id: id.to_owned(),
            name: name.to_owned(),
            admin,
            rate,
            created_at: now_micros(),
            revoked_at: None,
            hash,
        };
        match self.insert(&k).await {
            Ok(()) => Ok((k, true)),
            // Another replica stored it between our look-up and insert.
            Err(e) => match self.existing(id, &hash, admin).await? {
                Some(found) => Ok((found, false)),
                None => Err(e),
            },
        }
    }

    /// The stored key `id` if it matches `hash` and `admin`; an error if
    /// the id is taken otherwise or revoked; `None` if absent.
    async fn existing(
        &self,
        id: &str,
        hash: &[u8; 32],
        admin: bool,
    ) -> Result<Option<ApiKey>, AuthError> {
        let Some(found) = self.list().await?.into_iter().find(|k| k.id == id) else {
            return Ok(None);
        };
        if &found.hash != hash {
            return Err(AuthError::InvalidArgument(format!(
                "key id {id} is already stored with another secret"
            )));
        }
        if found.revoked_at.is_some() {
            return Err(AuthError::InvalidArgument(format!(
                "key {id} was revoked; a revoked key is not reinstated (generate a new one)"
            )));
        }
        if found.admin != admin {
            return Err(AuthError::InvalidArgument(format!(
                "key {id} is already stored as {}; revoke it and import a new one to change its role",
                if found.admin {
                    "an admin key"
                } else {
                    "a non-admin key"
                }
            )));
        }
        Ok(Some(found))
    }

    async fn insert(&self, k: &ApiKey) -> Result<(), AuthError> {
        let amount = k.rate.map(|r| i64::from(r.amount));
        let period = k
            .rate
            .map(|r| i64::try_from(r.period.as_millis()).unwrap_or(i64::MAX));
        let burst = k.rate.map(|r| i64::from(r.burst));
        match &self.db {
            Database::Postgres(_) => {
                let c = self.db.pg().await?;
                c.execute(
                    "INSERT INTO api_keys (id, name, key_sha256, admin, rate_amount, rate_period_ms, \
                     rate_burst, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[&k.id, &k.name, &&k.hash[..], &k.admin, &amount, &period, &burst, &k.created_at],
                )
                .await
                .map_err(LogError::from)?;
            }
            Database::Sqlite(s) => {
                let k = k.clone();
                s.call(move |c| {
                    c.execute(
                        "INSERT INTO api_keys (id, name, key_sha256, admin, rate_amount, rate_period_ms, \
                         rate_burst, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        rusqlite::params![k.id, k.name, &k.hash[..], k.admin, amount, period, burst, k.created_at],
                    )?;
                    Ok(())
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn list(&self) -> Result<Vec<ApiKey>, AuthError> {
        match &self.db {
            Database::Postgres(_) => {
                let c = self.db.pg().await?;
                let rows = c.query(SELECT, &[]).await.map_err(LogError::from)?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        from_raw((
                            r.get(0),
                            r.get(1),
                            r.get(2),
                            r.get(3),
                            r.get(4),
                            r.get(5),
                            r.get(6),
                            r.get(7),
                            r.get(8),
                        ))
                    })
                    .collect())
            }
            Database::Sqlite(s) => Ok(s
                .call(|c| {
                    let mut st = c.prepare(SELECT)?;
                    let rows = st.query_map([], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                            r.get(8)?,
                        ))
                    })?;
                    Ok(rows.collect::<Result<Vec<Raw>, _>>()?)
                })
                .await?
                .into_iter()
                .map(from_raw)
                .collect()),
        }
    }

    /// Revokes key `id`; `false` when there is no such (unrevoked) key.
    pub async fn revoke(&self, id: &str) -> Result<bool, AuthError> {
        let now = now_micros();
        let n = match &self.db {
            Database::Postgres(_) => {
                let c = self.db.pg().await?;
                c.execute(
                    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                    &[&id, &now],
                )
                .await
                .map_err(LogError::from)?
            }
            Database::Sqlite(s) => {
                let id = id.to_owned();
                s.call(move |c| {
                    Ok(c.execute(
                        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                        rusqlite::params![id, now],
                    )? as u64)
                })
                .await?
            }
        };
        Ok(n > 0)
    }
}
