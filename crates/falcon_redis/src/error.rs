//! The crate's one error type.

use std::time::Duration;

/// What can go wrong talking to Redis. Callers on the request path never
/// see these: the cache turns them into misses and the rate limiter falls
/// back to in-process buckets; they are counted in the stats.
#[derive(Debug, thiserror::Error)]
pub enum RedisTierError {
    /// The URL does not parse (`redis://[:password@]host:port[/db]`).
    #[error("invalid redis url {0}")]
    InvalidUrl(String),
    /// An error from Redis or the connection.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The operation exceeded its time budget (`--redis-timeout`).
    #[error("redis operation exceeded {0:?}")]
    Timeout(Duration),
    /// No connection right now (reconnecting, or backing off after
    /// repeated failures): failed fast without any I/O.
    #[error("redis unavailable (reconnecting)")]
    Unavailable,
    /// A stored value that does not decode.
    #[error("corrupt cache value: {0}")]
    Corrupt(&'static str),
}
