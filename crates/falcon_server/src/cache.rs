//! The prediction cache, behind a trait so a shared tier (Redis, issue #4)
//! can be stacked on it without touching the handlers.
//!
//! **Key.** The process-unique id of the loaded model version, the input's
//! kind (a text, or a record's canonical encoding — see [`crate::input`]),
//! and the **SHA-256 of the input**, not the input itself. The request
//! path computes that digest once per input anyway (the shared tier's key
//! and the prediction log's `text_sha256` are the same digest), so the
//! in-process key costs nothing more, and an entry weighs ~200 bytes
//! instead of the whole 5 KB e-mail: the default 4 MiB holds ~20,000
//! answers rather than ~700, and hashing or comparing a key never touches
//! the text. Two different inputs share an entry only if they collide
//! under SHA-256, which nobody knows how to make happen (unlike a keyed
//! 64-bit hash, no per-process secret is needed for that). A reloaded model
//! never answers from its predecessor's entries (new uid).
//!
//! **Store.** [`QuickCache`]: `quick_cache`'s sharded S3-FIFO-style cache,
//! bounded in bytes by a weigher. New entries enter a small probationary
//! queue and only those asked for again are promoted, so a stream of
//! one-time texts (the usual miss traffic) churns through that small queue
//! without evicting the answers that repeat, and without the per-insert
//! frequency-sketch and write-buffer bookkeeping that `moka` (the previous
//! store) did on every miss. Expiry: each entry carries its deadline
//! (per-model `cache_ttl`) and a lookup that finds it past its deadline
//! removes it and computes anew; expired entries that nobody asks for are
//! evicted by the byte bound like any other. Concurrent misses on one key
//! are computed once: the first caller holds `quick_cache`'s placeholder
//! guard, the others wait for its value; if that computation fails, the
//! guard is dropped and one waiter computes in turn (errors are never
//! cached).

use std::sync::Arc;
use std::time::{Duration, Instant};

use falcon_engine::{Output, Prediction};
use futures_util::future::BoxFuture;

use crate::error::ServerError;
use crate::input::{InputKind, Item};

/// Model load + input kind + SHA-256 of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// [`crate::repository::LoadedModel::uid`].
    pub model_uid: u64,
    /// A text never shares an entry with a record spelling its encoding.
    pub kind: InputKind,
    /// [`crate::ports::text_sha256`] of [`Item::key`].
    pub digest: [u8; 32],
}

impl CacheKey {
    /// The key of `item` for model load `model_uid`, given the item's
    /// digest (computed once per input by the caller).
    pub fn new(model_uid: u64, item: &Item, digest: &[u8; 32]) -> Self {
        CacheKey {
            model_uid,
            kind: item.kind(),
            digest: *digest,
        }
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
/// misses once, and must never answer one input with another's prediction.
pub trait PredictionCache: Send + Sync + 'static {
    /// The cached prediction for `key`, or the result of `compute` (stored
    /// for `ttl` when it succeeds).
    fn get_or_compute<'a>(
        &'a self,
        key: CacheKey,
        ttl: Duration,
        compute: Compute<'a>,
    ) -> BoxFuture<'a, Result<(Arc<Output>, CacheStatus), ServerError>>;

    /// Whether this cache stores anything: when it does not, callers skip
    /// it (and the digest its key needs) entirely.
    fn stores(&self) -> bool {
        true
    }

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

    fn stores(&self) -> bool {
        false
    }

    fn usage(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// A stored answer and when it stops being one.
#[derive(Clone)]
struct Cached {
    prediction: Arc<Output>,
    expires: Instant,
}

/// Bytes charged per entry on top of the answer's vectors: the key and
/// value in `quick_cache`'s slot (~88 bytes), its hash-table index and
/// queue bookkeeping (~24), and the `Arc<Output>` allocation's header and
/// enum (~64).
const ENTRY_OVERHEAD: u64 = (std::mem::size_of::<CacheKey>()
    + std::mem::size_of::<Cached>()
    + 24
    + 16
    + std::mem::size_of::<Output>()) as u64;

/// Typical entry, to size the table up front: a two-class answer with
/// probabilities and a decision value.
const TYPICAL_ENTRY: u64 = ENTRY_OVERHEAD + 3 * 8;

#[derive(Clone)]
struct Weigher;

impl quick_cache::Weighter<CacheKey, Cached> for Weigher {
    fn weight(&self, _k: &CacheKey, v: &Cached) -> u64 {
        ENTRY_OVERHEAD + output_bytes(&v.prediction) as u64
    }
}

/// The in-process tier.
pub struct QuickCache {
    inner: quick_cache::sync::Cache<CacheKey, Cached, Weigher, foldhash::fast::RandomState>,
}

impl QuickCache {
    pub fn new(max_bytes: u64) -> Self {
        let estimated = usize::try_from(max_bytes / TYPICAL_ENTRY).unwrap_or(usize::MAX);
        let inner = quick_cache::sync::Cache::with(
            estimated.max(16),
            max_bytes,
            Weigher,
            foldhash::fast::RandomState::default(),
            Default::default(),
        );
        QuickCache { inner }
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

/// `ttl` from now; a TTL too long to represent (a config of centuries)
/// never expires in practice either.
fn deadline(ttl: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(ttl)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

impl PredictionCache for QuickCache {
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
            let mut compute = Some(compute);
            loop {
                match self.inner.get_value_or_guard_async(&key).await {
                    Ok(hit) if hit.expires > Instant::now() => {
                        return Ok((hit.prediction, CacheStatus::Hit));
                    }
                    Ok(_) => {
                        // Past its deadline: drop it (unless a fresh one
                        // replaced it meanwhile) and look again, which
                        // makes this caller, or a concurrent one, compute.
                        self.inner.remove_if(&key, |c| c.expires <= Instant::now());
                    }
                    Err(guard) => {
                        let Some(compute) = compute.take() else {
                            // Unreachable: a guard is only handed out once
                            // per call, as the call returns right after.
                            return Err(ServerError::Internal(
                                "cache guard handed out twice".into(),
                            ));
                        };
                        let prediction = Arc::new(compute.await?);
                        let _ = guard.insert(Cached {
                            prediction: prediction.clone(),
                            expires: deadline(ttl),
                        });
                        return Ok((prediction, CacheStatus::Miss));
                    }
                }
            }
        })
    }

    fn usage(&self) -> (u64, u64) {
        (self.inner.len() as u64, self.inner.weight())
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
        let item = Item::text(text.to_string());
        CacheKey::new(uid, &item, &crate::ports::text_sha256(item.key()))
    }

    fn record_key(uid: u64, columns: &[(&str, &str)]) -> CacheKey {
        let r = crate::input::Record::from_columns(
            columns
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap();
        let item = Item::Record(Arc::new(r));
        CacheKey::new(uid, &item, &crate::ports::text_sha256(item.key()))
    }

    #[tokio::test]
    async fn records_never_share_entries_with_texts_or_other_records() {
        let c = QuickCache::new(1 << 20);
        let ttl = Duration::from_secs(60);
        let rec = record_key(1, &[("a", "x"), ("b", "y")]);
        let (_, s) = c
            .get_or_compute(rec, ttl, Box::pin(async { Ok(pred(1)) }))
            .await
            .unwrap();
        assert_eq!(s, CacheStatus::Miss);
        // The text spelling the record's canonical encoding is another entry.
        let spelled = key(1, r#"{"a":"x","b":"y"}"#);
        assert_eq!(spelled.digest, rec.digest, "same encoding, same digest");
        assert_ne!(spelled, rec, "but another kind");
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
        let c = QuickCache::new(1 << 20);
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
        let c = QuickCache::new(1 << 20);
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
        let c = QuickCache::new(1 << 20);
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
        let c = Arc::new(QuickCache::new(1 << 20));
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
    async fn bounded_in_bytes_whatever_the_text() {
        let c = QuickCache::new(64 << 10);
        let big = "x".repeat(4096);
        for i in 0..2000 {
            let text = format!("{i}{big}");
            c.get_or_compute(
                key(1, &text),
                Duration::from_secs(60),
                Box::pin(async { Ok(pred(0)) }),
            )
            .await
            .unwrap();
        }
        let (entries, bytes) = c.usage();
        assert!(bytes <= 64 << 10, "cache holds {bytes} bytes");
        // Entries weigh the same for a 4 KB text as for a word: the key is
        // its digest.
        let each = ENTRY_OVERHEAD + 16;
        assert_eq!(bytes, entries * each, "{entries} entries");
        assert!(entries > 200 && entries < 2000, "{entries} entries");
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let c = QuickCache::new(1 << 20);
        let ttl = Duration::from_millis(40);
        let (_, s) = c
            .get_or_compute(key(1, "t"), ttl, Box::pin(async { Ok(pred(1)) }))
            .await
            .unwrap();
        assert_eq!(s, CacheStatus::Miss);
        let (p, s) = c
            .get_or_compute(key(1, "t"), ttl, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!((label(&p), s), (1, CacheStatus::Hit));
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (p, s) = c
            .get_or_compute(key(1, "t"), ttl, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!((label(&p), s), (0, CacheStatus::Miss), "expired");
        // A TTL too long for `Instant` is stored, not a panic.
        let (_, s) = c
            .get_or_compute(key(1, "u"), Duration::MAX, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!(s, CacheStatus::Miss);
        let (_, s) = c
            .get_or_compute(key(1, "u"), Duration::MAX, Box::pin(async { Ok(pred(1)) }))
            .await
            .unwrap();
        assert_eq!(s, CacheStatus::Hit);
    }

    #[tokio::test]
    async fn zero_ttl_bypasses() {
        let c = QuickCache::new(1 << 20);
        for _ in 0..2 {
            let (_, s) = c
                .get_or_compute(key(1, "t"), Duration::ZERO, Box::pin(async { Ok(pred(0)) }))
                .await
                .unwrap();
            assert_eq!(s, CacheStatus::Miss);
        }
    }
}
