//! The inference core shared by the JSON and OIP routes: admission, cache,
//! where the engine runs, per-model statistics and timings.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use falcon_engine::{Contribution, Output, Prediction};

use crate::cache::{Answer, CacheKey, CacheStatus};
use crate::error::ServerError;
use crate::input::Item;
use crate::ports::{
    PredictionEvent, RequestContext, SharedKey, Tier, plausible_output, text_sha256,
};
use crate::repository::LoadedModel;
use crate::state::AppState;

/// Response header names, parsed once: `insert("x-cache", …)` validates
/// and lower-cases the name on every request (it showed in instruction
/// profiles of the cache-hit path).
pub(crate) const X_CACHE: http::HeaderName = http::HeaderName::from_static("x-cache");
pub(crate) const X_CACHE_TIER: http::HeaderName = http::HeaderName::from_static("x-cache-tier");
pub(crate) const SERVER_TIMING: http::HeaderName = http::HeaderName::from_static("server-timing");
pub(crate) const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// Longest a batch runs on an async worker without yielding to others.
const YIELD_EVERY: Duration = Duration::from_micros(500);

/// Answers for a request's inputs, in order.
pub struct Outcome {
    pub predictions: Vec<Arc<Output>>,
    /// Every text was a cache hit.
    pub all_hits: bool,
    /// Texts answered by the in-process tier and by the shared tier.
    pub memory_hits: u32,
    pub shared_hits: u32,
    /// Arrival → inference start (body read, parse, scheduling).
    pub queue: Duration,
    /// Cache lookups + engine time.
    pub inference: Duration,
}

/// Checks the batch size against the server's and the model's limits.
pub fn check_batch(
    state: &AppState,
    model: &LoadedModel,
    len: usize,
    settings_max: Option<usize>,
) -> Result<(), ServerError> {
    let limit = settings_max.map_or(state.config().max_batch, |m| {
        m.min(state.config().max_batch)
    });
    if len > limit {
        return Err(ServerError::BatchTooLarge { len, limit });
    }
    if len == 0 {
        return Err(ServerError::Invalid(format!(
            "no text to predict for model {:?}",
            &*model.name
        )));
    }
    Ok(())
}

/// Runs the engine on one input: inline when short (tens of µs, cheaper
/// than a thread hop), on the blocking pool when long, so one huge text
/// never stalls the other requests of an async worker. With `hash`, also
/// returns the input's SHA-256 (for the log), computed where the engine
/// runs: on the blocking pool, that keeps 3 µs per 5 KB text off the async
/// worker, which measured faster on one core than hashing on the worker.
async fn run_engine(
    state: &AppState,
    model: &Arc<LoadedModel>,
    item: &Item,
    hash: bool,
) -> Result<(Output, Option<[u8; 32]>), ServerError> {
    let started = Instant::now();
    let work = move |m: &LoadedModel, t: &Item| {
        let output = t.with_input(|i| m.model.predict_output(i));
        (output, hash.then(|| text_sha256(t.key())))
    };
    let (result, sha256) = if item.len() <= state.config().inline_max_bytes {
        work(model, item)
    } else {
        let (m, t) = (model.clone(), item.clone());
        tokio::task::spawn_blocking(move || work(&m, &t))
            .await
            .map_err(|e| ServerError::Internal(format!("inference task failed: {e}")))?
    };
    let elapsed = started.elapsed();
    model.inference_hist.observe(elapsed.as_secs_f64());
    model.stats.compute_count.fetch_add(1, Relaxed);
    model
        .stats
        .compute_ns
        .fetch_add(elapsed.as_nanos() as u64, Relaxed);
    Ok((result?, sha256))
}

/// The answer for one input through the tiers: memory → shared tier →
/// engine. Runs as the in-process cache's computation, so concurrent
/// identical misses ask the shared tier (and the engine) once. Sets
/// `from_shared` when the shared tier answered.
async fn lookup_or_run(
    state: &AppState,
    model: &Arc<LoadedModel>,
    item: Item,
    ttl: Duration,
    needs_sha256: bool,
    from_shared: &mut bool,
) -> Result<Answer, ServerError> {
    let Some(tier) = state.shared_tier().filter(|_| !ttl.is_zero()) else {
        let (output, sha256) = run_engine(state, model, &item, needs_sha256).await?;
        return Ok(Answer {
            output: Arc::new(output),
            text_sha256: sha256,
        });
    };
    // The shared tier's key: computed before asking it.
    let digest = text_sha256(item.key());
    let answer = |output| Answer {
        output: Arc::new(output),
        text_sha256: Some(digest),
    };
    let digest = &digest;
    let key = SharedKey {
        model: &model.name,
        version: &model.cache_version,
        kind: item.kind(),
        text: item.key(),
        text_sha256: digest,
    };
    if let Some(p) = tier.get(key).await {
        if plausible_output(
            &p,
            model.output_kind,
            &model.output_classes,
            model.model.decision_per_pair(),
        ) {
            *from_shared = true;
            return Ok(answer(p));
        }
        // Debug, not warn: a poisoned tier would otherwise log per request.
        tracing::debug!(
            model = &*model.name,
            "implausible shared-tier entry; recomputing"
        );
    }
    let (p, _) = run_engine(state, model, &item, false).await?;
    tier.put(key, &p, ttl);
    Ok(answer(p))
}

/// Predicts `items` with `model` through the cache tiers. Takes an
/// inference slot first (503 when none is free). With a prediction sink,
/// records every input of a successful request.
pub async fn predict(
    state: &AppState,
    model: &Arc<LoadedModel>,
    items: Vec<Item>,
    arrival: Instant,
    ctx: &RequestContext,
) -> Result<Outcome, ServerError> {
    let _permit = state.admit()?;
    let begin = Instant::now();
    let queue = begin.saturating_duration_since(arrival);
    let ttl = state
        .repo()
        .snapshot()
        .models
        .get(&*model.name)
        .map_or(state.config().cache_ttl, |e| {
            e.settings.cache_ttl.unwrap_or(state.config().cache_ttl)
        });
    let mut predictions = Vec::with_capacity(items.len());
    let (mut memory_hits, mut shared_hits) = (0u32, 0u32);
    let n = items.len();
    let sink = state.sink();
    // Only with a sink: what the log needs once the request succeeded.
    let mut logged: Vec<(Item, Tier, Duration, [u8; 32])> = Vec::new();
    if sink.is_some() {
        logged.reserve_exact(n);
    }
    let mut result = Ok(());
    let mut last_yield = begin;
    // The in-process key is a cheap keyed hash; the SHA-256 that the log
    // and the shared tier need is computed on a miss and comes back from
    // the cache with every hit.
    let cache = state.cache();
    let needs_sha256 = sink.is_some() || state.shared_tier().is_some();
    // One clock read per text: a text starts when the previous one ended
    // (the first when the request did), and the request's inference time
    // ends with its last text. At cache-hit rates each read is a few
    // tenths of a percent of a request.
    let mut t0 = begin;
    let mut end = begin;
    for item in items {
        let for_log = sink.is_some().then(|| item.clone());
        let mut from_shared = false;
        let key = cache.stores().then(|| CacheKey::new(model.uid, &item));
        let compute = lookup_or_run(state, model, item, ttl, needs_sha256, &mut from_shared);
        let outcome = match key {
            Some(key) => cache.get_or_compute(key, ttl, Box::pin(compute)).await,
            None => compute.await.map(|a| (a, CacheStatus::Miss)),
        };
        match outcome {
            Ok((p, status)) => {
                end = Instant::now();
                let elapsed = end.saturating_duration_since(t0);
                let ns = elapsed.as_nanos() as u64;
                let tier = match status {
                    CacheStatus::Hit => Tier::Memory,
                    CacheStatus::Miss if from_shared => Tier::Shared,
                    CacheStatus::Miss => Tier::Computed,
                };
                match tier {
                    Tier::Memory | Tier::Shared => {
                        if tier == Tier::Memory {
                            memory_hits += 1;
                            model.memory_hits.inc();
                        } else {
                            shared_hits += 1;
                            model.shared_hits.inc();
                        }
                        model.cache_hits.inc();
                        model.stats.cache_hit_count.fetch_add(1, Relaxed);
                        model.stats.cache_hit_ns.fetch_add(ns, Relaxed);
                    }
                    Tier::Computed => {
                        model.cache_misses.inc();
                        model.stats.cache_miss_count.fetch_add(1, Relaxed);
                        model.stats.cache_miss_ns.fetch_add(ns, Relaxed);
                    }
                }
                if let Some(t) = for_log {
                    let digest = p.text_sha256.unwrap_or_else(|| text_sha256(t.key()));
                    logged.push((t, tier, elapsed, digest));
                }
                predictions.push(p.output);
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        t0 = end;
        if n > 1 && end.saturating_duration_since(last_yield) > YIELD_EVERY {
            // Let the other tasks of this worker (accepts, short requests)
            // run between the texts of a long batch; also where the request
            // deadline can cut a batch short.
            tokio::task::yield_now().await;
            last_yield = Instant::now();
            t0 = last_yield;
        }
    }
    // A failed text ends the request now.
    let inference =
        if result.is_ok() { end } else { Instant::now() }.saturating_duration_since(begin);
    record(model, queue, inference, n as u64, result.is_ok());
    result?;
    state.metrics().batch_size.observe(n as f64);
    if let Some(sink) = sink {
        for (i, ((item, tier, latency, digest), p)) in logged.iter().zip(&predictions).enumerate() {
            sink.record(event(model, ctx, i, p, *latency, *tier, item.key(), digest));
        }
    }
    Ok(Outcome {
        predictions,
        all_hits: (memory_hits + shared_hits) as usize == n,
        memory_hits,
        shared_hits,
        queue,
        inference,
    })
}

#[allow(clippy::too_many_arguments)]
fn event<'a>(
    model: &'a LoadedModel,
    ctx: &'a RequestContext,
    item: usize,
    prediction: &'a Output,
    latency: Duration,
    tier: Tier,
    text: &'a str,
    text_sha256: &'a [u8; 32],
) -> PredictionEvent<'a> {
    /// A context without an id (no middleware set one: tests, or a sink
    /// added without the observe layer) logs the empty id.
    static NO_REQUEST_ID: std::sync::LazyLock<Arc<str>> =
        std::sync::LazyLock::new(|| Arc::from(""));
    PredictionEvent {
        request_id: ctx.request_id.as_ref().unwrap_or(&NO_REQUEST_ID),
        item: u32::try_from(item).unwrap_or(u32::MAX),
        model: &model.name,
        version: &model.version_str,
        classes: model.model.classes(),
        class_names: &model.class_names,
        output_classes: &model.output_classes,
        prediction,
        latency,
        tier,
        api_key_id: ctx.caller.as_ref().map(|c| &c.key_id),
        text,
        text_sha256,
    }
}

/// `x-cache` (`hit` when every text was a hit) and, on hits,
/// `x-cache-tier`: `memory`, the shared tier's name (e.g. `redis`), or
/// `mixed` when a batch was answered by both.
pub fn cache_headers(state: &AppState, out: &Outcome, headers: &mut http::HeaderMap) {
    use http::HeaderValue;
    if !out.all_hits {
        headers.insert(X_CACHE, HeaderValue::from_static("miss"));
        return;
    }
    headers.insert(X_CACHE, HeaderValue::from_static("hit"));
    let tier = match (out.memory_hits, out.shared_hits) {
        (_, 0) => "memory",
        (0, _) => state.shared_tier().map_or("shared", |t| t.name()),
        _ => "mixed",
    };
    headers.insert(X_CACHE_TIER, HeaderValue::from_static(tier));
}

/// Predictions with explanations; never cached (they are larger and rarer).
/// A multi-label or multi-output model is refused (400
/// `explain_unsupported`): an explanation covers one predicted class.
pub async fn explain(
    state: &AppState,
    model: &Arc<LoadedModel>,
    items: Vec<Item>,
    k: usize,
    arrival: Instant,
    ctx: &RequestContext,
) -> Result<(Vec<(Prediction, Vec<Contribution>)>, Duration, Duration), ServerError> {
    if k > state.config().max_explain {
        return Err(ServerError::Invalid(format!(
            "explain={k} exceeds the limit of {}",
            state.config().max_explain
        )));
    }
    let _permit = state.admit()?;
    let begin = Instant::now();
    let queue = begin.saturating_duration_since(arrival);
    let n = items.len() as u64;
    let (m, inline) = (
        model.clone(),
        items.iter().map(Item::len).sum::<usize>() <= state.config().inline_max_bytes,
    );
    let items = Arc::new(items);
    let for_log = state.sink().map(|_| items.clone());
    let work = move || -> Result<Vec<_>, ServerError> {
        items
            .iter()
            .map(|t| {
                t.with_input(|i| m.model.explain_input(i, k))
                    .map_err(ServerError::from)
            })
            .collect()
    };
    let result = if inline {
        work()
    } else {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ServerError::Internal(format!("inference task failed: {e}")))?
    };
    let inference = begin.elapsed();
    record(model, queue, inference, n, result.is_ok());
    let result = result?;
    if let (Some(sink), Some(items)) = (state.sink(), for_log) {
        // One computation for the whole batch: each input gets its share.
        let each = inference / u32::try_from(n.max(1)).unwrap_or(u32::MAX);
        for (i, ((p, _), item)) in result.iter().zip(items.iter()).enumerate() {
            let digest = text_sha256(item.key());
            // Explained models are single-label: the answer is a `Single`.
            let o = Output::Single(p.clone());
            sink.record(event(
                model,
                ctx,
                i,
                &o,
                each,
                Tier::Computed,
                item.key(),
                &digest,
            ));
        }
    }
    Ok((result, queue, inference))
}

fn record(model: &LoadedModel, queue: Duration, total: Duration, n: u64, ok: bool) {
    let s = &model.stats;
    let ns = total.as_nanos() as u64;
    if ok {
        s.success_count.fetch_add(1, Relaxed);
        s.success_ns.fetch_add(ns, Relaxed);
        s.inference_count.fetch_add(n, Relaxed);
        s.execution_count.fetch_add(1, Relaxed);
    } else {
        s.fail_count.fetch_add(1, Relaxed);
        s.fail_ns.fetch_add(ns, Relaxed);
    }
    s.queue_ns.fetch_add(queue.as_nanos() as u64, Relaxed);
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    s.last_inference_ms.store(now_ms, Relaxed);
}

/// `Server-Timing: queue;dur=…, inference;dur=…` (milliseconds).
pub fn server_timing(queue: Duration, inference: Duration) -> http::HeaderValue {
    // Written into a stack buffer with `itoa`: `format!`, and before it
    // float formatting, showed up in profiles of the cache-hit path.
    // Longest value: two u128 millisecond counts (39 digits each), their
    // fractions and the fixed text, 110 bytes.
    struct Out {
        buf: [u8; 128],
        len: usize,
    }
    impl Out {
        fn put(&mut self, bytes: &[u8]) {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
        /// `<ms>.<µs as 3 digits>`.
        fn ms(&mut self, d: Duration) {
            let us = d.as_micros();
            self.put(itoa::Buffer::new().format(us / 1000).as_bytes());
            let frac = (us % 1000) as u16;
            self.put(&[
                b'.',
                b'0' + (frac / 100) as u8,
                b'0' + (frac / 10 % 10) as u8,
                b'0' + (frac % 10) as u8,
            ]);
        }
    }
    let mut out = Out {
        buf: [0; 128],
        len: 0,
    };
    out.put(b"queue;dur=");
    out.ms(queue);
    out.put(b", inference;dur=");
    out.ms(inference);
    http::HeaderValue::from_bytes(&out.buf[..out.len]).expect("ASCII header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_spells_milliseconds_with_three_decimals() {
        let v = server_timing(Duration::from_micros(7), Duration::from_micros(1_234_567));
        assert_eq!(v, "queue;dur=0.007, inference;dur=1234.567");
        let v = server_timing(Duration::ZERO, Duration::from_micros(1000));
        assert_eq!(v, "queue;dur=0.000, inference;dur=1.000");
        // The longest value fits (no panic, exact digits).
        let v = server_timing(Duration::MAX, Duration::MAX);
        let max_us = Duration::MAX.as_micros();
        assert_eq!(
            v,
            format!(
                "queue;dur={}.{:03}, inference;dur={}.{:03}",
                max_us / 1000,
                max_us % 1000,
                max_us / 1000,
                max_us % 1000
            )
            .as_str()
        );
    }
}
