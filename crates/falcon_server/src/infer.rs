//! The inference core shared by the JSON and OIP routes: admission, cache,
//! where the engine runs, per-model statistics and timings.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use falcon_engine::{Contribution, Prediction};

use crate::cache::{CacheKey, CacheStatus};
use crate::error::ServerError;
use crate::repository::LoadedModel;
use crate::state::AppState;

/// Longest a batch runs on an async worker without yielding to others.
const YIELD_EVERY: Duration = Duration::from_micros(500);

/// Predictions for a request's texts, in order.
pub struct Outcome {
    pub predictions: Vec<Arc<Prediction>>,
    /// Every text was a cache hit.
    pub all_hits: bool,
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

/// Runs the engine on one text: inline when short (tens of µs, cheaper
/// than a thread hop), on the blocking pool when long, so one huge text
/// never stalls the other requests of an async worker.
async fn run_engine(
    state: &AppState,
    model: &Arc<LoadedModel>,
    text: &Arc<String>,
) -> Result<Prediction, ServerError> {
    let started = Instant::now();
    let result = if text.len() <= state.config().inline_max_bytes {
        model.model.predict(text)
    } else {
        let (m, t) = (model.clone(), text.clone());
        tokio::task::spawn_blocking(move || m.model.predict(&t))
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
    Ok(result?)
}

/// Predicts `texts` with `model` through the cache. Takes an inference
/// slot first (503 when none is free).
pub async fn predict(
    state: &AppState,
    model: &Arc<LoadedModel>,
    texts: Vec<String>,
    arrival: Instant,
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
    let mut predictions = Vec::with_capacity(texts.len());
    let mut hits = 0u64;
    let n = texts.len();
    let mut result = Ok(());
    let mut last_yield = begin;
    for text in texts {
        let text = Arc::new(text);
        let key = CacheKey {
            model_uid: model.uid,
            text: text.clone(),
        };
        let t0 = Instant::now();
        let compute = Box::pin(async move { run_engine(state, model, &text).await });
        match state.cache().get_or_compute(key, ttl, compute).await {
            Ok((p, status)) => {
                let ns = t0.elapsed().as_nanos() as u64;
                if status == CacheStatus::Hit {
                    hits += 1;
                    model.cache_hits.inc();
                    model.stats.cache_hit_count.fetch_add(1, Relaxed);
                    model.stats.cache_hit_ns.fetch_add(ns, Relaxed);
                } else {
                    model.cache_misses.inc();
                    model.stats.cache_miss_count.fetch_add(1, Relaxed);
                    model.stats.cache_miss_ns.fetch_add(ns, Relaxed);
                }
                predictions.push(p);
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        if n > 1 && last_yield.elapsed() > YIELD_EVERY {
            // Let the other tasks of this worker (accepts, short requests)
            // run between the texts of a long batch; also where the request
            // deadline can cut a batch short.
            tokio::task::yield_now().await;
            last_yield = Instant::now();
        }
    }
    let inference = begin.elapsed();
    record(model, queue, inference, n as u64, result.is_ok());
    result?;
    state.metrics().batch_size.observe(n as f64);
    Ok(Outcome {
        predictions,
        all_hits: hits == n as u64,
        queue,
        inference,
    })
}

/// Predictions with explanations; never cached (they are larger and rarer).
pub async fn explain(
    state: &AppState,
    model: &Arc<LoadedModel>,
    texts: Vec<String>,
    k: usize,
    arrival: Instant,
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
    let n = texts.len() as u64;
    let (m, inline) = (
        model.clone(),
        texts.iter().map(String::len).sum::<usize>() <= state.config().inline_max_bytes,
    );
    let work = move || -> Result<Vec<_>, ServerError> {
        texts
            .iter()
            .map(|t| m.model.explain(t, k).map_err(ServerError::from))
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
    Ok((result?, queue, inference))
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
    // Integer formatting: float formatting showed up in profiles of the
    // cache-hit path.
    let (q, i) = (queue.as_micros(), inference.as_micros());
    let v = format!(
        "queue;dur={}.{:03}, inference;dur={}.{:03}",
        q / 1000,
        q % 1000,
        i / 1000,
        i % 1000
    );
    http::HeaderValue::from_str(&v).expect("ASCII header")
}
