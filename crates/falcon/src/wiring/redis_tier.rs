//! `falcon_server::SharedTier` over `falcon_redis::RedisCache`: the L2
//! prediction cache shared by every worker.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use falcon_engine::Output;
use falcon_redis::{CacheWrite, RedisCache, codec};
use falcon_server::{BoxFuture, InputKind, SharedKey, SharedTier};
use tokio::sync::mpsc;

/// Write-backs waiting to be sent; beyond, a write-back is skipped (and
/// counted) rather than queued. A batch is sent within `--redis-timeout`,
/// so this bounds memory (about 200 B per entry), not throughput, unless
/// Redis is stalling.
pub const MAX_PENDING_WRITES: usize = 1024;

/// Most write-backs sent in one pipeline.
const MAX_BATCH: usize = 128;

pub struct RedisTier {
    cache: RedisCache,
    /// To the write-back task. Why a channel and one task rather than a
    /// task per write-back: under a unique-text load every request writes
    /// back, and a spawned task plus one `SET` (one socket write, one Redis
    /// wake-up) each cost more CPU than the engine saved on a hit; the task
    /// drains whatever accumulated during the previous round trip into one
    /// pipeline. Bounded, so a stalled Redis costs skipped writes, never
    /// memory.
    writes: mpsc::Sender<CacheWrite>,
    skipped_writes: AtomicU64,
    undecodable: AtomicU64,
}

impl RedisTier {
    /// Must be called within a Tokio runtime: spawns the write-back task,
    /// which ends when the tier is dropped.
    pub fn new(cache: RedisCache) -> Self {
        Self::with_write_limit(cache, MAX_PENDING_WRITES)
    }

    pub fn with_write_limit(cache: RedisCache, max_pending_writes: usize) -> Self {
        let (tx, rx) = mpsc::channel(max_pending_writes.max(1));
        tokio::spawn(write_back(cache.clone(), rx));
        RedisTier {
            cache,
            writes: tx,
            skipped_writes: AtomicU64::new(0),
            undecodable: AtomicU64::new(0),
        }
    }
}

/// Sends queued write-backs, as many per pipeline as are waiting (at most
/// [`MAX_BATCH`]), one pipeline at a time.
async fn write_back(cache: RedisCache, mut rx: mpsc::Receiver<CacheWrite>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        cache.set_many(&batch).await;
        batch.clear();
    }
}

impl RedisTier {
    /// Texts under `:p:` (as always), records under `:r:`.
    fn key(&self, key: &SharedKey<'_>) -> String {
        match key.kind {
            InputKind::Text => self
                .cache
                .key_for_digest(key.model, key.version, key.text_sha256),
            InputKind::Record => {
                self.cache
                    .record_key_for_digest(key.model, key.version, key.text_sha256)
            }
        }
    }
}

impl SharedTier for RedisTier {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn get<'a>(&'a self, key: SharedKey<'a>) -> BoxFuture<'a, Option<Output>> {
        Box::pin(async move {
            let payload = self.cache.get_at(&self.key(&key), key.text).await?;
            match codec::decode_output(&payload) {
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

    fn put(&self, key: SharedKey<'_>, output: &Output, ttl: Duration) {
        // Built here, so the queue holds ~200 B per entry, not the text.
        let write = CacheWrite {
            key: self.key(&key),
            value: codec::encode_entry(key.text, &codec::encode_output(output)),
            ttl,
        };
        if self.writes.try_send(write).is_err() {
            self.skipped_writes.fetch_add(1, Relaxed);
        }
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
            "# HELP redis_cache_skipped_writes_total Write-backs skipped because {MAX_PENDING_WRITES} were already waiting.\n\
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

    fn pred() -> Output {
        Output::Single(falcon_engine::Prediction {
            label: 1,
            probabilities: Some(vec![0.125, 0.875]),
            decision: Some(vec![1.5]),
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn write_back_then_hit_across_instances() {
        let Some(url) = redis_url() else { return };
        let prefix = unique_prefix("tier");
        let (a, b) = (tier(&url, &prefix).await, tier(&url, &prefix).await);
        let digest = falcon_server::text_sha256("hello there");
        let key = SharedKey {
            model: "spam",
            version: "1@00ff",
            kind: InputKind::Text,
            text: "hello there",
            text_sha256: &digest,
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
        let other_digest = falcon_server::text_sha256("hello there ");
        let other_text = SharedKey {
            text: "hello there ",
            text_sha256: &other_digest,
            ..key
        };
        assert_eq!(b.get(other_text).await, None);
        let mut m = String::new();
        b.write_prometheus(&mut m);
        assert!(m.contains("redis_cache_hits_total 1"), "{m}");
        assert!(m.contains("redis_cache_skipped_writes_total 0"), "{m}");
    }

    /// Polls `t` until `key` answers (the write-back is in the background).
    async fn wait_for(t: &RedisTier, key: SharedKey<'_>) -> Output {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(p) = t.get(key).await {
                return p;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "write-back never landed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn multi_answers_and_records_round_trip_apart_from_texts() {
        let Some(url) = redis_url() else { return };
        let prefix = unique_prefix("multi");
        let t = tier(&url, &prefix).await;
        let canonical = r#"{"body":"b","title":"a"}"#;
        let digest = falcon_server::text_sha256(canonical);
        let record = SharedKey {
            model: "tags",
            version: "1@00ff",
            kind: InputKind::Record,
            text: canonical,
            text_sha256: &digest,
        };
        let tags = Output::MultiLabel(falcon_engine::MultiLabelPrediction {
            labels: vec![0, 2],
            probabilities: Some(vec![0.9, 0.1, 0.8]),
            decision: Some(vec![2.0, -2.0, 1.0]),
        });
        t.put(record, &tags, Duration::from_secs(60));
        assert_eq!(wait_for(&t, record).await, tags);
        // The text that spells the record's encoding is another entry.
        let spelled = SharedKey {
            kind: InputKind::Text,
            ..record
        };
        assert_eq!(t.get(spelled).await, None);
        let outs = Output::MultiOutput(vec![
            falcon_engine::Prediction {
                label: 1,
                probabilities: Some(vec![0.25, 0.75]),
                decision: None,
            },
            falcon_engine::Prediction {
                label: 0,
                probabilities: Some(vec![0.5, 0.5]),
                decision: None,
            },
        ]);
        t.put(spelled, &outs, Duration::from_secs(60));
        assert_eq!(wait_for(&t, spelled).await, outs);
        assert_eq!(t.get(record).await, Some(tags));
    }

    // Current-thread runtime: the write-back task cannot drain the queue
    // while the loop below fills it, so exactly one write waits and the
    // other nine are skipped.
    #[tokio::test]
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
        let digest = falcon_server::text_sha256("t");
        let key = SharedKey {
            model: "m",
            version: "1@0",
            kind: InputKind::Text,
            text: "t",
            text_sha256: &digest,
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
        assert_eq!(skipped, 9, "{m}");
    }
}
