//! The prediction cache, behind a trait so a shared tier (Redis, issue #4)
//! can be stacked on it later without touching the handlers.
//!
//! The in-process tier is a `moka` cache bounded in bytes (a weigher counts
//! the input, the key and the answer) with a per-entry TTL. The key is
//! the process-unique id of the loaded model version plus the **exact
//! input** — the text, or a record's canonical encoding tagged as a record
//! (see [`crate::input`]), not a hash of it — so two different inputs can
//! never share an entry, and a reloaded model never answers from its
//! predecessor's entries. Values are [`Output`]s, whatever the model's
//! shape; a single-label text costs what it did (no extra allocation: the
//! prediction sits inline in the enum). Concurrent
//! misses on one key are computed once: moka's entry API makes the others
//! wait for that computation.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use falcon_engine::{Output, Prediction};
use futures_util::future::BoxFuture;

use crate::error::ServerError;
use crate::input::Item;

/// Model load + exact input.
#[derive(Clone, Debug)]
pub struct CacheKey {
    /// [`crate::repository::LoadedModel::uid`].
    pub model_uid: u64,
    /// The text (the request's own `String`, moved behind an `Arc`) or the
    /// record.
    pub input: Item,
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        self.model_uid == other.model_uid
            && self.input.kind() == other.input.kind()
            && self.input.key() == other.input.key()
    }
}
impl Eq for CacheKey {}
impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.model_uid.hash(state);
        self.input.kind().hash(state);
        self.input.key().hash(state);
    }
}

/// Whether an answer came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
}

/// The computation run on a miss.
pub type Compute<'a> = BoxFuture<'a, Result<Output, ServerError>>;

/// A prediction cache. Implementations must compute concurrent identical
/// misses once, and must never answer one text with another's prediction.
pub trait PredictionCache: Send + Sync + 'static {
    /// The cached prediction for `key`, or the result of `compute` (stored
    /// for `ttl` when it succeeds).
    fn get_or_compute<'a>(
        &'a self,
        key: CacheKey,
        ttl: Duration,
        compute: Compute<'a>,
    ) -> BoxFuture<'a, Result<(Arc<Output>, CacheStatus), ServerError>>;

    /// `(entries, weighted bytes)`, for metrics.
    fn usage(&self) -> (u64, u64);
}

/// A cache that stores nothing (`--cache-bytes 0`).
pub struct NoCache;

impl PredictionCache for NoCache {
    fn get_or_compute<'a>(
        &'a self,
        _key: CacheKey,
        _ttl: Duration,
        compute: Compute<'a>,
    ) -> BoxFuture<'a, Result<(Arc<Output>, CacheStatus), ServerError>> {
        Box::pin(async move { Ok((Arc::new(compute.await?), CacheStatus::Miss)) })
    }

    fn usage(&self) -> (u64, u64) {
        (0, 0)
    }
}

#[derive(Clone)]
struct Cached {
    prediction: Arc<Output>,
    ttl: Duration,
}

struct PerEntryTtl;

impl moka::Expiry<CacheKey, Cached> for PerEntryTtl {
    fn expire_after_create(&self, _k: &CacheKey, v: &Cached, _at: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// The in-process tier.
pub struct MokaCache {
    inner: moka::future::Cache<CacheKey, Cached, foldhash::fast::RandomState>,
}

/// Bookkeeping bytes charged per entry on top of the text and scores
/// (key, value, Arcs, moka's node).
const ENTRY_OVERHEAD: usize = 160;

impl MokaCache {
    pub fn new(max_bytes: u64) -> Self {
        let inner = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &CacheKey, v: &Cached| {
                // Capacity, not length: a string parsed from JSON may hold
                // more than it uses, and the bound is on memory.
                let w = ENTRY_OVERHEAD + k.input.heap_bytes() + output_bytes(&v.prediction);
                u32::try_from(w).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build_with_hasher(foldhash::fast::RandomState::default());
        MokaCache { inner }
    }
}

/// Heap bytes of an answer's vectors.
fn output_bytes(o: &Output) -> usize {
    let floats = |p: &Prediction| {
        p.probabilities.as_ref().map_or(0, Vec::len) + p.decision.as_ref().map_or(0, Vec::len)
    };
    match o {
        Output::Single(p) => floats(p) * 8,
        Output::MultiLabel(p) => {
            (p.labels.len()
                + p.probabilities.as_ref().map_or(0, Vec::len)
                + p.decision.as_ref().map_or(0, Vec::len))
                * 8
        }
        Output::MultiOutput(outs) => outs
            .iter()
            .map(|p| std::mem::size_of::<Prediction>() + floats(p) * 8)
            .sum(),
    }
}

impl PredictionCache for MokaCache {
    fn get_or_compute<'a>(
        &'a self,
        key: CacheKey,
        ttl: Duration,
        compute: Compute<'a>,
    ) -> BoxFuture<'a, Result<(Arc<Output>, CacheStatus), ServerError>> {
        Box::pin(async move {
            if ttl.is_zero() {
                return Ok((Arc::new(compute.await?), CacheStatus::Miss));
            }
            if let Some(hit) = self.inner.get(&key).await {
                return Ok((hit.prediction, CacheStatus::Hit));
            }
            let entry = self
                .inner
                .entry(key)
                .or_try_insert_with(async move {
                    compute.await.map(|p| Cached {
                        prediction: Arc::new(p),
                        ttl,
                    })
                })
                .await
                .map_err(|e: Arc<ServerError>| (*e).clone())?;
            let status = if entry.is_fresh() {
                CacheStatus::Miss
            } else {
                CacheStatus::Hit
            };
            Ok((entry.into_value().prediction, status))
        })
    }

    fn usage(&self) -> (u64, u64) {
        (self.inner.entry_count(), self.inner.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn pred(label: usize) -> Output {
        Output::Single(Prediction {
            label,
            probabilities: Some(vec![0.25, 0.75]),
            decision: None,
        })
    }

    fn label(o: &Output) -> usize {
        match o {
            Output::Single(p) => p.label,
            _ => unreachable!(),
        }
    }

    fn key(uid: u64, text: &str) -> CacheKey {
        CacheKey {
            model_uid: uid,
            input: Item::text(text.to_string()),
        }
    }

    fn record_key(uid: u64, columns: &[(&str, &str)]) -> CacheKey {
        let r = crate::input::Record::from_columns(
            columns
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap();
        CacheKey {
            model_uid: uid,
            input: Item::Record(Arc::new(r)),
        }
    }

    #[tokio::test]
    async fn records_never_share_entries_with_texts_or_other_records() {
        let c = MokaCache::new(1 << 20);
        let ttl = Duration::from_secs(60);
        let rec = record_key(1, &[("a", "x"), ("b", "y")]);
        let (_, s) = c
            .get_or_compute(rec.clone(), ttl, Box::pin(async { Ok(pred(1)) }))
            .await
            .unwrap();
        assert_eq!(s, CacheStatus::Miss);
        // The text spelling the record's canonical encoding is another entry.
        let spelled = key(1, rec.input.key());
        assert_eq!(spelled.input.key(), r#"{"a":"x","b":"y"}"#);
        let (p, s) = c
            .get_or_compute(spelled, ttl, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!((label(&p), s), (0, CacheStatus::Miss));
        for other in [
            record_key(1, &[("a", "xy")]),
            record_key(1, &[("a", "x"), ("b", "y "), ("c", "")]),
            record_key(1, &[("a", "y"), ("b", "x")]),
        ] {
            let (_, s) = c
                .get_or_compute(other, ttl, Box::pin(async { Ok(pred(0)) }))
                .await
                .unwrap();
            assert_eq!(s, CacheStatus::Miss);
        }
        // The same record, columns in another order: a hit.
        let (p, s) = c
            .get_or_compute(
                record_key(1, &[("b", "y"), ("a", "x")]),
                ttl,
                Box::pin(async { Ok(pred(0)) }),
            )
            .await
            .unwrap();
        assert_eq!((label(&p), s), (1, CacheStatus::Hit));
    }

    #[tokio::test]
    async fn multi_answers_are_cached_whole() {
        let c = MokaCache::new(1 << 20);
        let ttl = Duration::from_secs(60);
        let tags = Output::MultiLabel(falcon_engine::MultiLabelPrediction {
            labels: vec![0, 2],
            probabilities: Some(vec![0.9, 0.2, 0.7]),
            decision: Some(vec![2.0, -1.0, 1.0]),
        });
        let stored = tags.clone();
        c.get_or_compute(key(3, "t"), ttl, Box::pin(async move { Ok(stored) }))
            .await
            .unwrap();
        let (p, s) = c
            .get_or_compute(key(3, "t"), ttl, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!((&*p, s), (&tags, CacheStatus::Hit));
    }

    #[tokio::test]
    async fn hit_after_miss_and_distinct_keys() {
        let c = MokaCache::new(1 << 20);
        let ttl = Duration::from_secs(60);
        let (p, s) = c
            .get_or_compute(key(1, "a"), ttl, Box::pin(async { Ok(pred(1)) }))
            .await
            .unwrap();
        assert_eq!((label(&p), s), (1, CacheStatus::Miss));
        let (p, s) = c
            .get_or_compute(key(1, "a"), ttl, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!((label(&p), s), (1, CacheStatus::Hit));
        // Another text, or another load of the model, is another entry.
        let (p, s) = c
            .get_or_compute(key(1, "a "), ttl, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!((label(&p), s), (0, CacheStatus::Miss));
        let (_, s) = c
            .get_or_compute(key(2, "a"), ttl, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!(s, CacheStatus::Miss);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let c = MokaCache::new(1 << 20);
        let ttl = Duration::from_secs(60);
        let r = c
            .get_or_compute(
                key(1, "x"),
                ttl,
                Box::pin(async { Err(ServerError::Unprocessable("no".into())) }),
            )
            .await;
        assert!(matches!(r, Err(ServerError::Unprocessable(_))));
        let (_, s) = c
            .get_or_compute(key(1, "x"), ttl, Box::pin(async { Ok(pred(1)) }))
            .await
            .unwrap();
        assert_eq!(s, CacheStatus::Miss);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_compute_once() {
        let c = Arc::new(MokaCache::new(1 << 20));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (c, calls) = (c.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_compute(
                    key(7, "same text"),
                    Duration::from_secs(60),
                    Box::pin(async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(pred(1))
                    }),
                )
                .await
                .unwrap()
            }));
        }
        let mut misses = 0;
        for t in tasks {
            if t.await.unwrap().1 == CacheStatus::Miss {
                misses += 1;
            }
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(misses, 1);
    }

    #[tokio::test]
    async fn bounded_in_bytes() {
        let c = MokaCache::new(64 << 10);
        let big = "x".repeat(4096);
        for i in 0..200 {
            let text = format!("{i}{big}");
            c.get_or_compute(
                key(1, &text),
                Duration::from_secs(60),
                Box::pin(async { Ok(pred(0)) }),
            )
            .await
            .unwrap();
        }
        c.inner.run_pending_tasks().await;
        let (_, bytes) = c.usage();
        assert!(bytes <= 64 << 10, "cache holds {bytes} bytes");
    }

    #[tokio::test]
    async fn zero_ttl_bypasses() {
        let c = MokaCache::new(1 << 20);
        for _ in 0..2 {
            let (_, s) = c
                .get_or_compute(key(1, "t"), Duration::ZERO, Box::pin(async { Ok(pred(0)) }))
                .await
                .unwrap();
            assert_eq!(s, CacheStatus::Miss);
        }
    }
}
