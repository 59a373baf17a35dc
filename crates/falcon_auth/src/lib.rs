//! Falcon's API keys and rate limits.
//!
//! * [`KeyStore`] — `falcon keys create|list|revoke`: keys live in the
//!   log's database (`falcon_log::Database`), stored only as SHA-256
//!   digests; the token (`flk_<id>_<secret>`) is shown once at creation.
//! * [`Authenticator`] — request-time verification of `Authorization:
//!   Bearer <token>` against an in-memory snapshot (constant-time digest
//!   comparison), refreshed in the background; yields a [`Principal`].
//! * [`RateLimiter`] — per-key token buckets: [`LocalRateLimiter`]
//!   in-process, or `falcon_redis::RedisRateLimiter` shared by workers.
//!
//! Wiring (`--auth required`) is a middleware of a few lines:
//!
//! ```no_run
//! # async fn demo(db: falcon_log::Database) -> Result<(), falcon_auth::AuthError> {
//! use std::sync::Arc;
//! use falcon_auth::{Authenticator, Decision, KeyStore, LocalRateLimiter, RateLimiter};
//! let store = KeyStore::open(db).await?;
//! let auth = Arc::new(Authenticator::new(store.list().await?));
//! let _refresh = auth.spawn_refresh(store, std::time::Duration::from_secs(5));
//! let limiter: Arc<dyn RateLimiter> = Arc::new(LocalRateLimiter::new());
//! // per request:
//! let principal = auth.verify_header(Some("Bearer flk_…"))?; // Err → 401 {error}
//! if let Some(rate) = principal.rate {
//!     if let Decision::Limited { retry_after } = limiter.check(&principal.key_id, rate).await {
//!         // 429, Retry-After: retry_after.as_secs().max(1)
//!     }
//! }
//! # Ok(()) }
//! ```

mod error;
mod key;
mod limit;
mod store;
mod verify;

pub use error::AuthError;
pub use key::{KEY_PREFIX, NewKey, Rate, generate, hash_token, token_id};
pub use limit::{BoxFuture, Decision, LocalRateLimiter, RateLimiter, quota};
pub use store::{ApiKey, KeyStore, MIGRATIONS};
pub use verify::{Authenticator, Principal};
