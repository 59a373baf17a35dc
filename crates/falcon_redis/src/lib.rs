//! Falcon's shared Redis tier.
//!
//! * [`RedisCache`] — the L2 prediction cache behind the in-process one
//!   (memory → Redis → model), shared by every worker: namespaced keys
//!   (`{prefix}:p:{model}:{version}:{sha256(text)}`), TTL, compact values
//!   that carry the text's length and CRC-32 (a hash collision is a miss,
//!   never a wrong answer — [`codec`]), a pool of multiplexed connections, a per-operation
//!   time budget after which Redis counts as a miss, background reconnection
//!   with backoff and a circuit breaker ([`RedisConn`]).
//! * [`RedisRateLimiter`] — `falcon_auth::RateLimiter` with the buckets in
//!   Redis (one atomic Lua script per check), so a key's limit holds across
//!   workers; falls back to in-process buckets when Redis fails.
//!
//! # In `falcon serve`
//!
//! `falcon_server` defines the port (`SharedTier`: `get`, background `put`,
//! metrics); `crates/falcon/src/wiring/redis_tier.rs` adapts [`RedisCache`]
//! to it with [`codec::encode_output`] / [`codec::decode_output`] as the
//! payload (any answer shape; a record under `{prefix}:r:…`, keyed by its
//! canonical encoding), and the server runs "Redis, else the engine, then write
//! back" inside the in-process cache's one computation per key, so
//! concurrent identical misses ask Redis (and the engine) once. The
//! version it passes is `<version>@<model file fingerprint>`.
//!
//! Rate limits across workers: `RedisRateLimiter::new(conn, prefix)` over
//! the same pool (`crates/falcon/src/wiring/auth.rs`).

mod cache;
pub mod codec;
mod conn;
mod error;
mod limiter;

pub use cache::{CacheWrite, LATENCY_BUCKETS_US, RedisCache, RedisCacheConfig, RedisCacheStats};
pub use conn::{RedisConn, RedisOptions, redact};
pub use error::RedisTierError;
pub use limiter::RedisRateLimiter;
