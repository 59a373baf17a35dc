//! The prediction cache, behind a trait so a shared tier (Redis, issue #4)
//! can be stacked on it without touching the handlers.
//!
//! **Key.** The process-unique id of the loaded model version, the input's
//! kind (a text, or a record's canonical encoding — see [`crate::input`]),
//! and a **128-bit HighwayHash of the input under a 256-bit secret key
//! drawn from the OS when the process starts**, not the input itself. An
//! entry weighs ~150 bytes instead of the whole 5 KB e-mail (the default
//! 4 MiB holds ~25,000 answers rather than ~700), and hashing or comparing
//! a key never touches the text again. Two different inputs could share an
//! entry only by colliding in 128 bits under a key nobody outside the
//! process knows (and the hashes never leave it): by chance that takes
//! ~2⁶⁴ distinct inputs, and it cannot be arranged on purpose without the
//! key. HighwayHash (Google, 2016) is a keyed hash built to be a strong
//! pseudo-random function with SIMD lanes; the `highway` crate picks AVX2,
//! SSE4.1 or portable code at run time. Per 5.5 KB e-mail it measured
//! ~2,100 instructions against ~9,000 for SipHash-1-3-128, the keyed hash
//! used before (the one Rust's `HashMap` trusts with attacker-chosen
//! keys), which made it the largest single cost of a cache hit after the
//! body's JSON (issue #15). SipHash-2-4-128 and SHA-256 cost more still
//! (2.2 and 3.2 µs against SipHash-1-3's 1.2 µs).
//! The prediction log and the Redis tier need the text's SHA-256 (stable
//! across processes); it is computed on a miss, stored in the entry, and
//! handed back with every hit, so a hit hashes the text once, cheaply. A
//! reloaded model never answers from its predecessor's entries (new uid).
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

/// Model load + input kind + keyed 128-bit hash of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// [`crate::repository::LoadedModel::uid`].
    pub model_uid: u64,
    /// A text never shares an entry with a record spelling its encoding.
    pub kind: InputKind,
    /// [`keyed_hash`] of [`Item::key`].
    pub hash: u128,
}

impl CacheKey {
    /// The key of `item` for model load `model_uid`.
    pub fn new(model_uid: u64, item: &Item) -> Self {
        CacheKey {
            model_uid,
            kind: item.kind(),
            hash: keyed_hash(item.key()),
        }
    }
}

/// HighwayHash-128 of `text` under this process's secret key.
pub fn keyed_hash(text: &str) -> u128 {
    static SECRET: std::sync::LazyLock<[u64; 4]> = std::sync::LazyLock::new(|| {
        let mut k = [0u64; 4];
        for (i, w) in k.iter_mut().enumerate() {
            // No OS randomness (never seen on Linux): std's RandomState,
            // which is seeded from the OS too, or from the address space
            // and time, is the next best secret.
            *w = getrandom::u64().unwrap_or_else(|_| {
                use std::hash::BuildHasher;
                std::collections::hash_map::RandomState::new().hash_one(i)
            });
        }
        k
    });
    highway128(*SECRET, text)
}

/// HighwayHash-128 of `text` under `key`, as one number.
fn highway128(key: [u64; 4], text: &str) -> u128 {
    use highway::HighwayHash;
    let h = highway::HighwayHasher::new(highway::Key(key)).hash128(text.as_bytes());
    (u128::from(h[0]) << 64) | u128::from(h[1])
}

/// What the cache stores and returns: the answer, and the SHA-256 of its
/// input when the miss that computed it needed one (prediction log, shared
/// tier), so that hits need not hash the text again.
#[derive(Clone, Debug)]
pub struct Answer {
    pub output: Arc<Output>,
    pub text_sha256: Option<[u8; 32]>,
}

/// Whether an answer came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
}

/// The computation run on a miss.
pub type Compute<'a> = BoxFuture<'a, Result<Answer, ServerError>>;

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
    ) -> BoxFuture<'a, Result<(Answer, CacheStatus), ServerError>>;

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
    ) -> BoxFuture<'a, Result<(Answer, CacheStatus), ServerError>> {
        Box::pin(async move { Ok((compute.await?, CacheStatus::Miss)) })
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
    answer: Answer,
    expires: Instant,
}

/// Bytes charged per entry on top of the answer's vectors: the key and
/// value in `quick_cache`'s slot (~112 bytes with the SHA-256), its
/// hash-table index and queue bookkeeping (~24), and the `Arc<Output>`
/// allocation's header and enum (~64).
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
        ENTRY_OVERHEAD + output_bytes(&v.answer.output) as u64
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
    ) -> BoxFuture<'a, Result<(Answer, CacheStatus), ServerError>> {
        Box::pin(async move {
            if ttl.is_zero() {
                return Ok((compute.await?, CacheStatus::Miss));
            }
            let mut compute = Some(compute);
            loop {
                match self.inner.get_value_or_guard_async(&key).await {
                    Ok(hit) if hit.expires > Instant::now() => {
                        return Ok((hit.answer, CacheStatus::Hit));
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
                        let answer = compute.await?;
                        let _ = guard.insert(Cached {
                            answer: answer.clone(),
                            expires: deadline(ttl),
                        });
                        return Ok((answer, CacheStatus::Miss));
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

    fn pred(label: usize) -> Answer {
        Answer {
            output: Arc::new(Output::Single(Prediction {
                label,
                probabilities: Some(vec![0.25, 0.75]),
                decision: None,
            })),
            text_sha256: None,
        }
    }

    fn label(a: &Answer) -> usize {
        match &*a.output {
            Output::Single(p) => p.label,
            _ => unreachable!(),
        }
    }

    fn key(uid: u64, text: &str) -> CacheKey {
        CacheKey::new(uid, &Item::text(text.to_string()))
    }

    fn record_key(uid: u64, columns: &[(&str, &str)]) -> CacheKey {
        let r = crate::input::Record::from_columns(
            columns
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap();
        CacheKey::new(uid, &Item::Record(Arc::new(r)))
    }

    #[test]
    fn the_key_hash_is_keyed_and_covers_every_byte() {
        let text = "free money ".repeat(500);
        assert_eq!(keyed_hash(&text), keyed_hash(&text.clone()));
        // Not HighwayHash under the all-zero key: without this process's
        // secret nobody can compute (and so collide) keys.
        assert_ne!(keyed_hash(&text), highway128([0; 4], &text));
        // A change anywhere, even in the last byte, is another key.
        let mut other = text.clone();
        other.pop();
        other.push('!');
        assert_ne!(keyed_hash(&text), keyed_hash(&other));
        assert_ne!(keyed_hash(""), keyed_hash(" "));
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
        assert_eq!(spelled.hash, rec.hash, "same encoding, same hash");
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
        let stored = Answer {
            output: Arc::new(tags.clone()),
            text_sha256: Some(crate::ports::text_sha256("t")),
        };
        c.get_or_compute(key(3, "t"), ttl, Box::pin(async move { Ok(stored) }))
            .await
            .unwrap();
        let (p, s) = c
            .get_or_compute(key(3, "t"), ttl, Box::pin(async { Ok(pred(0)) }))
            .await
            .unwrap();
        assert_eq!((&*p.output, s), (&tags, CacheStatus::Hit));
        // The digest computed by the miss comes back with the hit.
        assert_eq!(p.text_sha256, Some(crate::ports::text_sha256("t")));
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
