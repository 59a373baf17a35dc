//! `falcon_server::SharedTier` over `falcon_redis::RedisCache`: the L2
//! prediction cache shared by every worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use falcon_engine::Prediction;
use falcon_redis::{RedisCache, codec};
use falcon_server::{BoxFuture, SharedKey, SharedTier};
use tokio::sync::Semaphore;

/// Write-backs in flight at once; beyond, a write-back is skipped (and
/// counted) rather than queued. Each lasts at most `--redis-timeout`, so
/// this bounds memory, not throughput, unless Redis is stalling.
pub const MAX_PENDING_WRITES: usize = 1024;

pub struct RedisTier {
    cache: RedisCache,
    writes: Arc<Semaphore>,
    skipped_writes: AtomicU64,
    undecodable: AtomicU64,
}

impl RedisTier {
    pub fn new(cache: RedisCache) -> Self {
        Self::with_write_limit(cache, MAX_PENDING_WRITES)
    }

    pub fn with_write_limit(cache: RedisCache, max_pending_writes: usize) -> Self {
        RedisTier {
            cache,
            writes: Arc::new(Semaphore::new(max_pending_writes.max(1))),
            skipped_writes: AtomicU64::new(0),
            undecodable: AtomicU64::new(0),
        }
    }
}

impl SharedTier for RedisTier {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn get<'a>(&'a self, key: SharedKey<'a>) -> BoxFuture<'a, Option<Prediction>> {
        Box::pin(async move {
            let payload = self.cache.get(key.model, key.version, key.text).await?;
            match codec::decode_prediction(&payload) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.undecodable.fetch_add(1, Relaxed);
                    // Counted (redis_cache_undecodable_total); debug so a
                    // poisoned Redis cannot turn into a log storm.
                    tracing::debug!(error = %e, model = key.model, "undecodable redis cache payload; treating as a miss");
                    None
                }
            }
        })
    }

    fn put(&self, key: SharedKey<'_>, prediction: &Prediction, ttl: Duration) {
        let Ok(permit) = self.writes.clone().try_acquire_owned() else {
            self.skipped_writes.fetch_add(1, Relaxed);
            return;
        };
        let payload = codec::encode_prediction(prediction);
        let cache = self.cache.clone();
        let (model, version, text) = (
            key.model.to_owned(),
            key.version.to_owned(),
            key.text.to_owned(),
        );
        tokio::spawn(async move {
            cache
                .set(&model, &version, &text, &payload, Some(ttl))
                .await;
            drop(permit);
        });
    }

    fn write_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let stats = self.cache.stats();
        stats.write_prometheus(out);
        // The per-tier error series the dashboards and alerts in deploy/ use.
        let _ = writeln!(
            out,
            "# HELP cache_tier_errors_total Failed operations of a cache tier (timeouts, errors, unavailable).\n\
             # TYPE cache_tier_errors_total counter\n\
             cache_tier_errors_total{{tier=\"redis\"}} {}",
            stats.errors()
        );
        let _ = writeln!(
            out,
            "# HELP redis_cache_skipped_writes_total Write-backs skipped because {MAX_PENDING_WRITES} were already in flight.\n\
             # TYPE redis_cache_skipped_writes_total counter\n\
             redis_cache_skipped_writes_total {}",
            self.skipped_writes.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP redis_cache_undecodable_total Entries whose prediction payload did not decode (served as misses).\n\
             # TYPE redis_cache_undecodable_total counter\n\
             redis_cache_undecodable_total {}",
            self.undecodable.load(Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use falcon_redis::{RedisCacheConfig, RedisOptions};

    /// `FALCON_TEST_REDIS_URL`, or `None` (a skip notice) outside CI; under
    /// `CI=true` a missing Redis fails the test.
    fn redis_url() -> Option<String> {
        match std::env::var("FALCON_TEST_REDIS_URL") {
            Ok(u) if !u.is_empty() => Some(u),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("FALCON_TEST_REDIS_URL is not set under CI=true")
            }
            _ => {
                eprintln!("skipping: FALCON_TEST_REDIS_URL is not set");
                None
            }
        }
    }

    fn unique_prefix(tag: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("falcon-test-{tag}-{}-{nanos}", std::process::id())
    }

    async fn tier(url: &str, prefix: &str) -> RedisTier {
        let mut opts = RedisOptions::new(url);
        opts.timeout = Duration::from_millis(200);
        let cache = RedisCache::connect(RedisCacheConfig {
            redis: opts,
            prefix: prefix.to_owned(),
            ttl: Duration::from_secs(60),
        })
        .await
        .unwrap();
        RedisTier::new(cache)
    }

    fn pred() -> Prediction {
        Prediction {
            label: 1,
            probabilities: Some(vec![0.125, 0.875]),
            decision: Some(vec![1.5]),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn write_back_then_hit_across_instances() {
        let Some(url) = redis_url() else { return };
        let prefix = unique_prefix("tier");
        let (a, b) = (tier(&url, &prefix).await, tier(&url, &prefix).await);
        let key = SharedKey {
            model: "spam",
            version: "1@00ff",
            text: "hello there",
        };
        assert_eq!(a.get(key).await, None);
        a.put(key, &pred(), Duration::from_secs(60));
        // The write-back is in the background: poll from the other
        // "worker" (another pool) until it lands.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let got = loop {
            if let Some(p) = b.get(key).await {
                break p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "write-back never landed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(got, pred());
        // Another version (a replaced file) or another text is another entry.
        let other_version = SharedKey {
            version: "1@0100",
            ..key
        };
        assert_eq!(b.get(other_version).await, None);
        let other_text = SharedKey {
            text: "hello there ",
            ..key
        };
        assert_eq!(b.get(other_text).await, None);
        let mut m = String::new();
        b.write_prometheus(&mut m);
        assert!(m.contains("redis_cache_hits_total 1"), "{m}");
        assert!(m.contains("redis_cache_skipped_writes_total 0"), "{m}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unreachable_redis_is_a_fast_miss() {
        let mut opts = RedisOptions::new("redis://127.0.0.1:1/");
        opts.connect_timeout = Duration::from_millis(20);
        let cache = RedisCache::connect(RedisCacheConfig {
            redis: opts,
            prefix: "x".into(),
            ttl: Duration::from_secs(1),
        })
        .await
        .unwrap();
        let t = RedisTier::with_write_limit(cache, 1);
        let key = SharedKey {
            model: "m",
            version: "1@0",
            text: "t",
        };
        let started = std::time::Instant::now();
        assert_eq!(t.get(key).await, None);
        assert!(started.elapsed() < Duration::from_millis(500));
        // Write-backs beyond the bound are skipped, not queued.
        for _ in 0..10 {
            t.put(key, &pred(), Duration::from_secs(1));
        }
        let mut m = String::new();
        t.write_prometheus(&mut m);
        assert!(m.contains("redis_cache_misses_total 1"), "{m}");
        assert!(
            !m.contains("cache_tier_errors_total{tier=\"redis\"} 0"),
            "{m}"
        );
        let skipped: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix("redis_cache_skipped_writes_total "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(skipped >= 1, "{m}");
    }
}
