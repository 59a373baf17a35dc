//! `falcon_server::Gatekeeper` over `falcon_auth`: bearer tokens verified
//! against the in-memory key snapshot (refreshed from the database in the
//! background), then the key's token bucket — in Redis when
//! `--redis-url` is set (shared by every worker, local fallback when Redis
//! fails), in-process otherwise.

use std::sync::Arc;

use falcon_auth::{AuthError, Authenticator, Decision, LocalRateLimiter, RateLimiter};
use falcon_redis::RedisRateLimiter;
use falcon_server::{BoxFuture, Caller, Denied, Gatekeeper};

/// Where the token buckets live.
pub enum Limiter {
    Local(LocalRateLimiter),
    Redis(RedisRateLimiter),
}

impl Limiter {
    fn as_dyn(&self) -> &dyn RateLimiter {
        match self {
            Limiter::Local(l) => l,
            Limiter::Redis(r) => r,
        }
    }
}

pub struct KeyGate {
    auth: Arc<Authenticator>,
    limiter: Limiter,
}

impl KeyGate {
    pub fn new(auth: Arc<Authenticator>, limiter: Limiter) -> Self {
        KeyGate { auth, limiter }
    }
}

fn denied(e: AuthError) -> Denied {
    match e {
        AuthError::Missing => Denied::Missing,
        AuthError::Revoked(key_id) => Denied::Revoked { key_id },
        AuthError::NotAdmin => Denied::Forbidden,
        // Unknown keys, bad formats — and anything unexpected — are
        // simply not valid credentials.
        _ => Denied::Invalid,
    }
}

impl Gatekeeper for KeyGate {
    fn admit<'a>(
        &'a self,
        authorization: Option<&'a str>,
        admin_route: bool,
    ) -> BoxFuture<'a, Result<Caller, Denied>> {
        Box::pin(async move {
            let principal = self.auth.verify_header(authorization).map_err(denied)?;
            if admin_route {
                principal.require_admin().map_err(denied)?;
            }
            if let Some(rate) = principal.rate
                && let Decision::Limited { retry_after } =
                    self.limiter.as_dyn().check(&principal.key_id, rate).await
            {
                return Err(Denied::RateLimited { retry_after });
            }
            Ok(Caller {
                key_id: principal.key_id.into(),
                admin: principal.admin,
            })
        })
    }

    fn write_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let fallbacks = match &self.limiter {
            Limiter::Local(_) => 0,
            Limiter::Redis(r) => r.fallbacks(),
        };
        let _ = writeln!(
            out,
            "# HELP rate_limit_fallbacks_total Rate-limit checks answered by the in-process bucket because Redis failed.\n\
             # TYPE rate_limit_fallbacks_total counter\n\
             rate_limit_fallbacks_total {fallbacks}"
        );
        let _ = writeln!(
            out,
            "# HELP api_keys_loaded API keys in the in-memory snapshot (revoked included).\n\
             # TYPE api_keys_loaded gauge\n\
             api_keys_loaded {}",
            self.auth.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn store() -> (tempfile::TempDir, falcon_auth::KeyStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = falcon_log::Database::open_sqlite(&dir.path().join("falcon.db"))
            .await
            .unwrap();
        (dir, falcon_auth::KeyStore::open(db).await.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verifies_authorizes_and_limits() {
        let (_dir, store) = store().await;
        let (_, user) = store
            .create("user", Some("1/m:2".parse().unwrap()), false)
            .await
            .unwrap();
        let (admin_key, admin) = store.create("admin", None, true).await.unwrap();
        let auth = Arc::new(Authenticator::new(store.list().await.unwrap()));
        let gate = KeyGate::new(auth.clone(), Limiter::Local(LocalRateLimiter::new()));
        let bearer = |t: &str| format!("Bearer {t}");

        assert_eq!(gate.admit(None, false).await, Err(Denied::Missing));
        assert_eq!(
            gate.admit(Some("Bearer flk_nope_nope"), false).await,
            Err(Denied::Invalid)
        );
        assert_eq!(gate.admit(Some(""), false).await, Err(Denied::Invalid));
        let caller = gate.admit(Some(&bearer(&user)), false).await.unwrap();
        assert!(!caller.admin);
        assert_eq!(
            gate.admit(Some(&bearer(&user)), true).await,
            Err(Denied::Forbidden)
        );
        // Burst of 2 used (the 403 did not take a token): the third is limited.
        gate.admit(Some(&bearer(&user)), false).await.unwrap();
        match gate.admit(Some(&bearer(&user)), false).await {
            Err(Denied::RateLimited { retry_after }) => {
                assert!(retry_after > Duration::from_secs(1), "{retry_after:?}")
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        let a = gate.admit(Some(&bearer(&admin)), true).await.unwrap();
        assert!(a.admin && &*a.key_id == admin_key.id.as_str());

        // Revocation reaches the gate at the next refresh.
        assert!(store.revoke(&admin_key.id).await.unwrap());
        auth.refresh(&store).await.unwrap();
        assert_eq!(
            gate.admit(Some(&bearer(&admin)), true).await,
            Err(Denied::Revoked {
                key_id: admin_key.id.clone()
            })
        );
        let mut m = String::new();
        gate.write_prometheus(&mut m);
        assert!(m.contains("api_keys_loaded 2"), "{m}");
    }
}
