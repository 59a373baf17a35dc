//! Request-time verification: an in-memory snapshot of the key table,
//! refreshed in the background, so the request path never queries the
//! database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::error::AuthError;
use crate::key::{Rate, hash_token, token_id};
use crate::store::{ApiKey, KeyStore};

/// Who is calling: what a handler needs after authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The key's id — log it, never the token.
    pub key_id: String,
    pub admin: bool,
    pub rate: Option<Rate>,
}

/// Verifies bearer tokens against a snapshot of the key table.
///
/// Revocations and new keys reach a running server at the next refresh
/// ([`Authenticator::spawn_refresh`], a few seconds), in every worker.
#[derive(Default)]
pub struct Authenticator {
    keys: RwLock<Arc<HashMap<String, ApiKey>>>,
}

impl Authenticator {
    /// A verifier over `keys` (e.g. `KeyStore::list`).
    pub fn new(keys: Vec<ApiKey>) -> Self {
        let a = Authenticator::default();
        a.replace(keys);
        a
    }

    fn replace(&self, keys: Vec<ApiKey>) {
        let map = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(map);
    }

    /// Reloads the snapshot from the store.
    pub async fn refresh(&self, store: &KeyStore) -> Result<(), AuthError> {
        self.replace(store.list().await?);
        Ok(())
    }

    /// Refreshes every `interval` until the returned task is aborted. A
    /// failed refresh keeps the previous snapshot (a database outage must
    /// not lock every client out) and is logged.
    pub fn spawn_refresh(
        self: &Arc<Self>,
        store: KeyStore,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.refresh(&store).await {
                    tracing::warn!(error = %e, "refreshing API keys failed; keeping the previous set");
                }
            }
        })
    }

    /// Checks an `Authorization` header value (`Bearer <token>`; `None`
    /// when the header is absent).
    pub fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let header = header.ok_or(AuthError::Missing)?.trim();
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Invalid);
        }
        self.verify(token.trim())
    }

    /// Checks a token. The digest comparison is constant-time, and an
    /// unknown id still costs a comparison, so timing reveals nothing about
    /// the secret part.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let presented = hash_token(token);
        let entry = token_id(token).and_then(|id| keys.get(id));
        let expected = entry.map_or([0xA5; 32], |k| k.hash);
        let equal: bool = presented.ct_eq(&expected).into();
        match entry {
            Some(k) if equal => {
                if k.revoked_at.is_some() {
                    Err(AuthError::Revoked(k.id.clone()))
                } else {
                    Ok(Principal {
                        key_id: k.id.clone(),
                        admin: k.admin,
                        rate: k.rate,
                    })
                }
            }
            _ => Err(AuthError::Invalid),
        }
    }

    /// Number of keys in the snapshot (revoked included).
    pub fn len(&self) -> usize {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Principal {
    /// `Err(NotAdmin)` unless this is an admin key (repository load/unload
    /// and other admin routes).
    pub fn require_admin(&self) -> Result<(), AuthError> {
        if self.admin {
            Ok(())
        } else {
            Err(AuthError::NotAdmin)
        }
    }
}
