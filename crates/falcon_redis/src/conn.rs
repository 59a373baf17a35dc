//! A small pool of multiplexed connections with per-operation deadlines,
//! background reconnection and a circuit breaker.
//!
//! Why not `redis::aio::ConnectionManager`: while it reconnects, operations
//! wait for the reconnection; here an operation never waits for anything but
//! its own round trip, bounded by `timeout`. A missing connection fails the
//! operation at once (a cache miss), and a background task reconnects with
//! exponential backoff. After `BREAKER_THRESHOLD` consecutive failures —
//! typically timeouts against a Redis that accepts connections but does not
//! answer — operations are short-circuited for a backoff period (50 ms
//! doubling to 2 s), so a stalled Redis costs predictions nothing, not even
//! the timeout.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::time::Instant;

use crate::error::RedisTierError;

/// Connection settings shared by the cache and the rate limiter.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// `redis://[:password@]host:port[/db]`.
    pub url: String,
    /// Multiplexed connections, used round-robin (`--redis-pool`). Each
    /// pipelines any number of concurrent operations, so a handful
    /// replaces the seed's pool of 50.
    pub pool_size: usize,
    /// Time budget of one operation (`--redis-timeout`); past it, the
    /// operation counts as an error and the caller proceeds without Redis.
    pub timeout: Duration,
    /// Time budget of one connection attempt.
    pub connect_timeout: Duration,
    /// Reconnection backoff bounds.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl RedisOptions {
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            pool_size: 4,
            timeout: Duration::from_millis(5),
            connect_timeout: Duration::from_millis(500),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{}{user}:***{}", &url[..s + 3], &url[at..])
            } else {
                url.to_owned()
            }
        }
        _ => url.to_owned(),
    }
}

const BREAKER_THRESHOLD: u64 = 3;
const BREAKER_MIN: Duration = Duration::from_millis(50);
const BREAKER_MAX: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct ConnCounters {
    pub timeouts: AtomicU64,
    pub failures: AtomicU64,
    pub unavailable: AtomicU64,
    pub reconnects: AtomicU64,
}

struct Slot {
    conn: RwLock<Option<MultiplexedConnection>>,
    reconnecting: AtomicBool,
    /// Connected at least once: a new connection is then a reconnect.
    ever: AtomicBool,
}

struct Breaker {
    consecutive: u64,
    open_until: Option<Instant>,
    backoff: Duration,
}

pub(crate) struct Inner {
    client: redis::Client,
    opts: RedisOptions,
    slots: Vec<Slot>,
    next: AtomicUsize,
    breaker: Mutex<Breaker>,
    pub counters: ConnCounters,
}

/// The connection pool. Cheap to clone.
#[derive(Clone)]
pub struct RedisConn {
    pub(crate) inner: Arc<Inner>,
}

impl RedisConn {
    /// Starts connecting in the background and waits up to
    /// `connect_timeout` for the first connection. Never fails because
    /// Redis is unreachable — only on an invalid URL; until Redis answers,
    /// operations fail fast and the pool keeps reconnecting.
    pub async fn connect(opts: RedisOptions) -> Result<RedisConn, RedisTierError> {
        let client = redis::Client::open(opts.url.as_str())
            .map_err(|_| RedisTierError::InvalidUrl(redact(&opts.url)))?;
        let n = opts.pool_size.max(1);
        let inner = Arc::new(Inner {
            client,
            slots: (0..n)
                .map(|_| Slot {
                    conn: RwLock::new(None),
                    reconnecting: AtomicBool::new(false),
                    ever: AtomicBool::new(false),
                })
                .collect(),
            next: AtomicUsize::new(0),
            breaker: Mutex::new(Breaker {
                consecutive: 0,
                open_until: None,
                backoff: BREAKER_MIN,
            }),
            counters: ConnCounters::default(),
            opts,
        });
        for i in 0..n {
            spawn_reconnect(&inner, i);
        }
        let deadline = Instant::now() + inner.opts.connect_timeout;
        while Instant::now() < deadline && inner.connected() == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if inner.connected() == 0 {
            tracing::warn!(url = %redact(&inner.opts.url), "redis unreachable at start-up; continuing without it and reconnecting");
        }
        Ok(RedisConn { inner })
    }

    /// Connections currently up.
    pub fn connected(&self) -> usize {
        self.inner.connected()
    }

    /// Runs `op` on a connection under the time budget. Connection-level
    /// errors drop the connection and trigger a background reconnect.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, RedisTierError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let inner = &self.inner;
        if let Some(until) = inner.lock_breaker().open_until
            && Instant::now() < until
        {
            inner.counters.unavailable.fetch_add(1, Relaxed);
            return Err(RedisTierError::Unavailable);
        }
        let n = inner.slots.len();
        let start = inner.next.fetch_add(1, Relaxed);
        // Any connected slot, starting round-robin.
        let picked = (0..n).find_map(|k| {
            let i = (start + k) % n;
            let c = inner.slots[i]
                .conn
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            c.map(|c| (i, c))
        });
        let Some((slot, conn)) = picked else {
            inner.counters.unavailable.fetch_add(1, Relaxed);
            return Err(RedisTierError::Unavailable);
        };
        let res = match tokio::time::timeout(inner.opts.timeout, op(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                inner.counters.failures.fetch_add(1, Relaxed);
                if is_health_error(&e) && !e.is_timeout() {
                    // A dropped connection almost always means the server
                    // went away (restart, failover): every other slot is dead
                    // too. Replace them all now rather than one by one as
                    // operations trip over them — behind the breaker that
                    // took one 2 s window per slot (~100 s with a pool of 50).
                    inner.drop_all();
                    for i in 0..n {
                        spawn_reconnect(inner, i);
                    }
                }
                Err(RedisTierError::Redis(e))
            }
            Err(_) => {
                inner.counters.timeouts.fetch_add(1, Relaxed);
                Err(RedisTierError::Timeout(inner.opts.timeout))
            }
        };
        let mut b = inner.lock_breaker();
        match &res {
            Ok(_) => {
                b.consecutive = 0;
                b.open_until = None;
                b.backoff = BREAKER_MIN;
            }
            Err(RedisTierError::Redis(e)) if !is_health_error(e) => {
                // Redis answered (e.g. a script error): not a health problem.
            }
            Err(_) => {
                b.consecutive += 1;
                if b.consecutive >= BREAKER_THRESHOLD {
                    b.open_until = Some(Instant::now() + b.backoff);
                    b.backoff = (b.backoff * 2).min(BREAKER_MAX);
                }
            }
        }
        drop(b);
        if res.is_err() {
            // Make sure a dead connection is being replaced.
            spawn_reconnect(inner, slot);
        }
        res
    }
}

/// An error that says the connection or server is unwell (as opposed to
/// Redis answering with an error reply).
fn is_health_error(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || e.is_timeout()
}

impl Inner {
    fn lock_breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn connected(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| {
                s.conn
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .is_some()
            })
            .count()
    }

    /// Drops every connection of the pool (the caller reconnects them).
    fn drop_all(&self) {
        let mut dropped = 0;
        for s in &self.slots {
            let old = s
                .conn
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            dropped += usize::from(old.is_some());
        }
        if dropped > 0 {
            tracing::warn!(url = %redact(&self.opts.url), dropped, "redis connection lost; reconnecting the pool");
        }
    }
}

/// Reconnects `slot` in the background unless it is connected or already
/// reconnecting. Stops when the pool is dropped.
fn spawn_reconnect(inner: &Arc<Inner>, slot: usize) {
    let s = &inner.slots[slot];
    if s.conn
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_some()
        || s.reconnecting.swap(true, Relaxed)
    {
        return;
    }
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let (client, connect_timeout, min, max) = (
        inner.client.clone(),
        inner.opts.connect_timeout,
        inner.opts.backoff_min,
        inner.opts.backoff_max,
    );
    tokio::spawn(async move {
        let mut backoff = min;
        loop {
            let cfg = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(None);
            let res = client
                .get_multiplexed_async_connection_with_config(&cfg)
                .await;
            let Some(inner) = weak.upgrade() else { return };
            match res {
                Ok(conn) => {
                    *inner.slots[slot]
                        .conn
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(conn);
                    inner.slots[slot].reconnecting.store(false, Relaxed);
                    if inner.slots[slot].ever.swap(true, Relaxed) {
                        inner.counters.reconnects.fetch_add(1, Relaxed);
                        tracing::info!(url = %redact(&inner.opts.url), "redis reconnected");
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "redis connection attempt failed");
                }
            }
            drop(inner);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(max);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        assert_eq!(redact("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact("redis://u:pw@h/"), "redis://u:***@h/");
        assert_eq!(redact("redis://h:6379/"), "redis://h:6379/");
    }

    #[tokio::test]
    async fn invalid_url_is_an_error_without_password() {
        let e = RedisConn::connect(RedisOptions::new("nope://:secret@x"))
            .await
            .err()
            .unwrap();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
