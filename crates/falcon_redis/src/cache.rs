//! The L2 prediction cache: shared by every worker, behind the in-process
//! tier (memory → Redis → model).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::AsyncCommands;
use sha2::{Digest, Sha256};

use crate::codec::{decode_entry, encode_entry};
use crate::conn::{RedisConn, RedisOptions};
use crate::error::RedisTierError;

/// Upper bounds (µs) of the latency histogram buckets; a last implicit
/// bucket counts the rest.
pub const LATENCY_BUCKETS_US: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000,
];

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    collisions: AtomicU64,
    corrupt: AtomicU64,
    get_errors: AtomicU64,
    sets: AtomicU64,
    set_errors: AtomicU64,
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
}

/// Counters of the Redis tier, for `/metrics`. `errors` is every operation
/// that did not reach a result (timeouts, failures, short-circuits).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisCacheStats {
    pub hits: u64,
    /// Lookups that found nothing (errors and collisions included).
    pub misses: u64,
    /// A key whose stored text differed from the request's.
    pub collisions: u64,
    /// Values that did not decode (treated as misses).
    pub corrupt: u64,
    /// Lookups that failed (timeout, error, unavailable).
    pub get_errors: u64,
    pub sets: u64,
    pub set_errors: u64,
    /// Of all operations on the pool: over the time budget,
    pub timeouts: u64,
    /// failed with an error,
    pub failures: u64,
    /// failed fast without I/O (no connection, breaker open).
    pub unavailable: u64,
    pub reconnects: u64,
    /// Connections currently up.
    pub connected: u64,
    /// Lookup latency: sum (µs), count, and per-bucket counts
    /// ([`LATENCY_BUCKETS_US`], then `+Inf`), non-cumulative.
    pub latency_sum_us: u64,
    pub latency_count: u64,
    pub latency_buckets: Vec<u64>,
}

impl RedisCacheStats {
    pub fn errors(&self) -> u64 {
        self.timeouts + self.failures + self.unavailable
    }

    /// Appends the stats in the Prometheus text format (to concatenate with
    /// the server's `/metrics` body); the lookup latency is a histogram in
    /// seconds.
    pub fn write_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        for (name, help, v) in [
            (
                "redis_cache_hits_total",
                "Redis tier lookups answered.",
                self.hits,
            ),
            (
                "redis_cache_misses_total",
                "Redis tier lookups not answered (errors included).",
                self.misses,
            ),
            (
                "redis_cache_collisions_total",
                "Keys whose stored text differed (served as misses).",
                self.collisions,
            ),
            (
                "redis_cache_corrupt_total",
                "Undecodable values (served as misses).",
                self.corrupt,
            ),
            ("redis_cache_sets_total", "Entries written back.", self.sets),
            (
                "redis_cache_set_errors_total",
                "Write-backs that failed.",
                self.set_errors,
            ),
            (
                "redis_cache_reconnects_total",
                "Connections re-established.",
                self.reconnects,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP redis_cache_errors_total Redis operations that failed, by kind."
        );
        let _ = writeln!(out, "# TYPE redis_cache_errors_total counter");
        for (kind, v) in [
            ("timeout", self.timeouts),
            ("failure", self.failures),
            ("unavailable", self.unavailable),
        ] {
            let _ = writeln!(out, "redis_cache_errors_total{{kind=\"{kind}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP redis_cache_connections Redis connections up.\n# TYPE redis_cache_connections gauge\nredis_cache_connections {}",
            self.connected
        );
        let name = "redis_cache_lookup_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Redis tier lookup latency.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS_US.iter().enumerate() {
            cumulative += self.latency_buckets.get(i).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                *le as f64 / 1e6
            );
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.latency_count);
        let _ = writeln!(out, "{name}_sum {}", self.latency_sum_us as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {}", self.latency_count);
    }
}

/// Cache tier settings.
#[derive(Clone, Debug)]
pub struct RedisCacheConfig {
    pub redis: RedisOptions,
    /// Namespace of every key (`--redis-prefix`), so several deployments
    /// can share one Redis.
    pub prefix: String,
    /// Entry lifetime (the server passes each model's cache TTL).
    pub ttl: Duration,
}

impl RedisCacheConfig {
    pub fn new(url: impl Into<String>) -> Self {
        RedisCacheConfig {
            redis: RedisOptions::new(url),
            prefix: "falcon".into(),
            ttl: Duration::from_secs(300),
        }
    }
}

/// One entry for [`RedisCache::set_many`]: a key from
/// [`RedisCache::key_for_digest`] and a value from
/// [`crate::codec::encode_entry`].
#[derive(Clone, Debug)]
pub struct CacheWrite {
    pub key: String,
    pub value: Bytes,
    pub ttl: Duration,
}

/// The Redis cache tier. Cheap to clone.
///
/// Keys: `{prefix}:p:{model}:{version}:{sha256(text), hex}`; the value
/// carries the text's length and CRC-32 (see [`crate::codec`]), so a key
/// collision is detected and answered as a miss. Lookups and stores never fail: a slow or unreachable Redis is
/// a miss (or a skipped store) and an error in the stats.
#[derive(Clone)]
pub struct RedisCache {
    conn: RedisConn,
    prefix: Arc<str>,
    ttl: Duration,
    counters: Arc<Counters>,
}

impl RedisCache {
    /// Connects (see [`RedisConn::connect`]: only an invalid URL fails).
    pub async fn connect(config: RedisCacheConfig) -> Result<RedisCache, RedisTierError> {
        let conn = RedisConn::connect(config.redis).await?;
        Ok(Self::with_conn(conn, &config.prefix, config.ttl))
    }

    /// A cache over an existing pool (shared with the rate limiter).
    pub fn with_conn(conn: RedisConn, prefix: &str, ttl: Duration) -> RedisCache {
        RedisCache {
            conn,
            prefix: prefix.into(),
            ttl,
            counters: Arc::default(),
        }
    }

    /// The pool, to share with [`crate::RedisRateLimiter`].
    pub fn conn(&self) -> &RedisConn {
        &self.conn
    }

    /// The Redis key of (model, version, text). `version` should change
    /// whenever the model does (pass e.g. `"3"` or `"3@<file hash>"`).
    pub fn key(&self, model: &str, version: &str, text: &str) -> String {
        self.key_for_digest(model, version, &Sha256::digest(text.as_bytes()).into())
    }

    /// [`Self::key`] from the text's SHA-256, when the caller already has
    /// it (the server computes it once per text for the key and the log).
    pub fn key_for_digest(&self, model: &str, version: &str, digest: &[u8; 32]) -> String {
        self.key_in(":p:", model, version, digest)
    }

    /// The key of a record, from the SHA-256 of its canonical encoding:
    /// `{prefix}:r:{model}:{version}:{hex}`. Records live apart from texts
    /// (`:p:`) because a text may spell a record's encoding.
    pub fn record_key_for_digest(&self, model: &str, version: &str, digest: &[u8; 32]) -> String {
        self.key_in(":r:", model, version, digest)
    }

    fn key_in(&self, ns: &str, model: &str, version: &str, digest: &[u8; 32]) -> String {
        let mut k = String::with_capacity(self.prefix.len() + model.len() + version.len() + 72);
        k.push_str(&self.prefix);
        k.push_str(ns);
        k.push_str(model);
        k.push(':');
        k.push_str(version);
        k.push(':');
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &b in digest {
            k.push(char::from(HEX[usize::from(b >> 4)]));
            k.push(char::from(HEX[usize::from(b & 15)]));
        }
        k
    }

    /// The payload stored for exactly `text`, or `None` (miss, collision,
    /// or any Redis problem — counted).
    pub async fn get(&self, model: &str, version: &str, text: &str) -> Option<Bytes> {
        let digest = Sha256::digest(text.as_bytes()).into();
        self.get_hashed(model, version, text, &digest).await
    }

    /// [`Self::get`] with the text's SHA-256 already computed.
    pub async fn get_hashed(
        &self,
        model: &str,
        version: &str,
        text: &str,
        text_sha256: &[u8; 32],
    ) -> Option<Bytes> {
        let key = self.key_for_digest(model, version, text_sha256);
        self.get_at(&key, text).await
    }

    /// The payload stored under `key` (from [`Self::key_for_digest`] or
    /// [`Self::record_key_for_digest`]) for exactly `text` (a record's
    /// canonical encoding), or `None` — counted like [`Self::get`].
    pub async fn get_at(&self, key: &str, text: &str) -> Option<Bytes> {
        let t = Instant::now();
        let res = self.get_raw(key).await;
        self.observe(t.elapsed());
        let c = &self.counters;
        match res {
            Ok(Some(entry)) => match decode_entry(&entry, text) {
                Ok(Some(payload)) => {
                    c.hits.fetch_add(1, Relaxed);
                    return Some(payload);
                }
                Ok(None) => {
                    c.collisions.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    c.corrupt.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, key, "corrupt redis cache entry");
                }
            },
            Ok(None) => {}
            Err(e) => {
                c.get_errors.fetch_add(1, Relaxed);
                tracing::debug!(error = %e, "redis cache lookup failed; treating as a miss");
            }
        }
        c.misses.fetch_add(1, Relaxed);
        None
    }

    /// Stores `payload` for `text` with the tier's TTL (or `ttl`). Errors
    /// are counted, never returned: call it after answering (e.g. in a
    /// spawned task) so the response never waits for Redis.
    pub async fn set(
        &self,
        model: &str,
        version: &str,
        text: &str,
        payload: &[u8],
        ttl: Option<Duration>,
    ) {
        let key = self.key(model, version, text);
        let value = encode_entry(text, payload);
        match self.set_raw(&key, &value, ttl.unwrap_or(self.ttl)).await {
            Ok(()) => self.counters.sets.fetch_add(1, Relaxed),
            Err(e) => {
                tracing::debug!(error = %e, "redis cache store failed");
                self.counters.set_errors.fetch_add(1, Relaxed)
            }
        };
    }

    /// Stores many entries in one pipeline (one round trip and, on the
    /// multiplexed connection, one write) under one time budget: the
    /// write-back path batches what concurrent misses produced. Errors are
    /// counted per entry, never returned.
    pub async fn set_many(&self, writes: &[CacheWrite]) {
        if writes.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for w in writes {
            let ms = u64::try_from(w.ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            pipe.pset_ex(&w.key, &w.value[..], ms).ignore();
        }
        let n = writes.len() as u64;
        let res = self
            .conn
            .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await;
        match res {
            Ok(()) => self.counters.sets.fetch_add(n, Relaxed),
            Err(e) => {
                tracing::debug!(error = %e, entries = n, "redis cache store failed");
                self.counters.set_errors.fetch_add(n, Relaxed)
            }
        };
    }

    /// `GET key` under the time budget.
    pub async fn get_raw(&self, key: &str) -> Result<Option<Bytes>, RedisTierError> {
        self.conn
            .run(|mut c| async move {
                let v: Option<Vec<u8>> = c.get(key).await?;
                Ok(v.map(Bytes::from))
            })
            .await
    }

    /// `SET key value PX ttl` under the time budget.
    pub async fn set_raw(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), RedisTierError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.conn
            .run(|mut c| async move {
                let () = c.pset_ex(key, value, ms).await?;
                Ok(())
            })
            .await
    }

    fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let c = &self.counters;
        c.latency_sum_us.fetch_add(us, Relaxed);
        c.latency_count.fetch_add(1, Relaxed);
        let i = LATENCY_BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        c.latency_buckets[i].fetch_add(1, Relaxed);
    }

    pub fn stats(&self) -> RedisCacheStats {
        let c = &self.counters;
        let p = &self.conn.inner.counters;
        RedisCacheStats {
            hits: c.hits.load(Relaxed),
            misses: c.misses.load(Relaxed),
            collisions: c.collisions.load(Relaxed),
            corrupt: c.corrupt.load(Relaxed),
            get_errors: c.get_errors.load(Relaxed),
            sets: c.sets.load(Relaxed),
            set_errors: c.set_errors.load(Relaxed),
            timeouts: p.timeouts.load(Relaxed),
            failures: p.failures.load(Relaxed),
            unavailable: p.unavailable.load(Relaxed),
            reconnects: p.reconnects.load(Relaxed),
            connected: self.conn.connected() as u64,
            latency_sum_us: c.latency_sum_us.load(Relaxed),
            latency_count: c.latency_count.load(Relaxed),
            latency_buckets: c.latency_buckets.iter().map(|b| b.load(Relaxed)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout() {
        // The key needs no connection; build the cache over a pool that
        // never connects (only the layout is under test).
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut o = RedisOptions::new("redis://127.0.0.1:1/");
            o.connect_timeout = Duration::from_millis(1);
            let conn = RedisConn::connect(o).await.unwrap();
            let c = RedisCache::with_conn(conn, "pfx", Duration::from_secs(1));
            assert_eq!(
                c.key("spam", "2", "abc"),
                "pfx:p:spam:2:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
            let digest: [u8; 32] = Sha256::digest(b"abc").into();
            assert_eq!(
                c.key_for_digest("spam", "2", &digest),
                c.key("spam", "2", "abc")
            );
            assert_eq!(
                c.record_key_for_digest("spam", "2", &digest),
                "pfx:r:spam:2:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
        });
    }

    #[test]
    fn prometheus_histogram_is_cumulative() {
        let mut buckets = vec![0; LATENCY_BUCKETS_US.len() + 1];
        buckets[0] = 2; // <= 50 us
        buckets[3] = 1; // <= 500 us
        buckets[LATENCY_BUCKETS_US.len()] = 1; // > 100 ms
        let s = RedisCacheStats {
            hits: 3,
            timeouts: 4,
            latency_count: 4,
            latency_sum_us: 1_000_000,
            latency_buckets: buckets,
            ..RedisCacheStats::default()
        };
        let mut out = String::new();
        s.write_prometheus(&mut out);
        for line in [
            "redis_cache_hits_total 3",
            "redis_cache_errors_total{kind=\"timeout\"} 4",
            "redis_cache_lookup_duration_seconds_bucket{le=\"0.00005\"} 2",
            "redis_cache_lookup_duration_seconds_bucket{le=\"0.0005\"} 3",
            "redis_cache_lookup_duration_seconds_bucket{le=\"0.1\"} 3",
            "redis_cache_lookup_duration_seconds_bucket{le=\"+Inf\"} 4",
            "redis_cache_lookup_duration_seconds_sum 1",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in\n{out}");
        }
    }
}
