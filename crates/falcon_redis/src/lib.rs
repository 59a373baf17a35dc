//! Falcon's shared Redis tier.
//!
//! * [`RedisCache`] — the L2 prediction cache behind the in-process one
//!   (memory → Redis → model), shared by every worker: namespaced keys
//!   (`{prefix}:p:{model}:{version}:{sha256(text)}`), TTL, compact values
//!   that carry the exact text (a hash collision is a miss, never a wrong
//!   answer — [`codec`]), a pool of multiplexed connections, a per-operation
//!   time budget after which Redis counts as a miss, background reconnection
//!   with backoff and a circuit breaker ([`RedisConn`]).
//! * [`RedisRateLimiter`] — `falcon_auth::RateLimiter` with the buckets in
//!   Redis (one atomic Lua script per check), so a key's limit holds across
//!   workers; falls back to in-process buckets when Redis fails.
//!
//! # Plugging into `falcon serve`
//!
//! The server's cache is `falcon_server::PredictionCache::get_or_compute(key,
//! ttl, compute)`. The second tier wraps the computation the in-process tier
//! runs on a miss, so concurrent identical misses still compute (and ask
//! Redis) once:
//!
//! ```text
//! // inside MokaCache's miss path, or a wrapper implementing PredictionCache:
//! let compute = async move {
//!     if let Some(bytes) = redis.get(&model, &version, &text).await {
//!         if let Ok(p) = falcon_redis::codec::decode_prediction(&bytes) {
//!             return Ok((p, Tier::Redis));
//!         }
//!     }
//!     let p = compute.await?;                       // the model
//!     let r = redis.clone();
//!     let bytes = falcon_redis::codec::encode_prediction(&p);
//!     tokio::spawn(async move { r.set(&model, &version, &text, &bytes, Some(ttl)).await });
//!     Ok((p, Tier::Miss))
//! };
//! ```
//!
//! `CacheStatus` then needs a third value (memory hit / Redis hit / miss)
//! for `x-cache` and the per-tier metrics ([`RedisCache::stats`]).
//!
//! Rate limits across workers: `Arc::new(RedisRateLimiter::new(cache.conn().clone(),
//! prefix))` as the server's `Arc<dyn falcon_auth::RateLimiter>`.

mod cache;
pub mod codec;
mod conn;
mod error;
mod limiter;

pub use cache::{LATENCY_BUCKETS_US, RedisCache, RedisCacheConfig, RedisCacheStats};
pub use conn::{RedisConn, RedisOptions, redact};
pub use error::RedisTierError;
pub use limiter::RedisRateLimiter;
