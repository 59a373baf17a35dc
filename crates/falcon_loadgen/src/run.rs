//! The run itself: virtual users or an arrival-rate dispatcher produce
//! samples; one collector task folds them into HDR histograms, drives the
//! progress bar, and builds the [`RunReport`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::sleep_until;

use crate::config::{LoadConfig, Mode};
use crate::corpus::{Corpus, Picker};
use crate::http::{HttpClient, Outcome, client, post, target_uri};
use crate::report::{Latency, RunConfigRecord, RunReport, SCHEMA, SecondPoint, Summary};
use crate::{LoadgenError, procstat, prom};

/// Samples in flight between request tasks and the collector. Bounded so a
/// stalled collector slows the load rather than eating memory; at 64 Ki
/// samples it never fills in practice.
const SAMPLE_QUEUE: usize = 64 * 1024;

/// Latencies are recorded in microseconds, up to one hour, 3 significant
/// digits (0.1 % relative error).
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// One finished request.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// When the request was due: its slot in the arrival schedule (open
    /// loop) or the previous answer + think time (closed loop). Decides
    /// which window (warm-up, measured) the request belongs to.
    intended: Instant,
    /// Where the latency clock starts: `intended` in the open loop, the
    /// send in the closed loop (see [`virtual_user`]).
    clock: Instant,
    done: Instant,
    outcome: Outcome,
}

/// Everything the collector accumulates.
struct Tally {
    measure_start: Instant,
    end: Instant,
    all: Histogram<u64>,
    warmup_hist: Histogram<u64>,
    per_second: Vec<(Histogram<u64>, u64, u64, u64, u64)>,
    status: BTreeMap<String, u64>,
    requests: u64,
    failed: u64,
    hits: u64,
    misses: u64,
    warmup_requests: u64,
    sum_us: u128,
}

impl Tally {
    fn new(measure_start: Instant, end: Instant, seconds: usize) -> Self {
        Self {
            measure_start,
            end,
            all: histogram(),
            warmup_hist: histogram(),
            per_second: (0..seconds.max(1))
                .map(|_| (histogram(), 0, 0, 0, 0))
                .collect(),
            status: BTreeMap::new(),
            requests: 0,
            failed: 0,
            hits: 0,
            misses: 0,
            warmup_requests: 0,
            sum_us: 0,
        }
    }

    fn add(&mut self, s: Sample) {
        let us = (s.done.saturating_duration_since(s.clock).as_micros() as u64).max(1);
        if s.intended < self.measure_start {
            self.warmup_requests += 1;
            self.warmup_hist.saturating_record(us);
            return;
        }
        if s.intended >= self.end {
            return;
        }
        self.requests += 1;
        self.sum_us += us as u128;
        self.all.saturating_record(us);
        *self.status.entry(s.outcome.key()).or_default() += 1;
        let ok = s.outcome.is_ok();
        if !ok {
            self.failed += 1;
        }
        let sec = (s
            .done
            .saturating_duration_since(self.measure_start)
            .as_secs() as usize)
            .min(self.per_second.len() - 1);
        let slot = &mut self.per_second[sec];
        slot.0.saturating_record(us);
        slot.1 += 1;
        if !ok {
            slot.2 += 1;
        }
        if let Outcome::Status {
            cache: Some(hit), ..
        } = s.outcome
        {
            if hit {
                self.hits += 1;
                slot.3 += 1;
            } else {
                self.misses += 1;
                slot.4 += 1;
            }
        }
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn latency(h: &Histogram<u64>, sum_us: u128) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    Latency {
        avg: sum_us as f64 / h.len() as f64 / 1000.0,
        min: ms(h.min()),
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn progress_bar(cfg: &LoadConfig) -> ProgressBar {
    let total = (cfg.warmup + cfg.duration).as_millis() as u64;
    let target = if cfg.progress {
        ProgressDrawTarget::stderr_with_hz(4)
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {msg}")
            .expect("valid template"),
    );
    bar
}

/// Runs the load described by `cfg` with texts from `corpus`.
pub async fn run(cfg: &LoadConfig, corpus: Arc<Corpus>) -> Result<RunReport, LoadgenError> {
    let uri = target_uri(&cfg.url, &cfg.path)?;
    match cfg.mode {
        Mode::Closed { vus: 0, .. } => {
            return Err(LoadgenError::Config("at least one virtual user".into()));
        }
        Mode::Open {
            rate,
            max_in_flight,
        } if rate.is_nan() || rate <= 0.0 || max_in_flight == 0 => {
            return Err(LoadgenError::Config(
                "the arrival rate and max in-flight must be positive".into(),
            ));
        }
        _ => {}
    }
    if cfg.duration.is_zero() {
        return Err(LoadgenError::Config("the duration must be positive".into()));
    }
    let pool = match cfg.mode {
        Mode::Closed { vus, .. } => vus,
        Mode::Open { max_in_flight, .. } => max_in_flight,
    };
    let http = client(pool);
    let picker = Arc::new(Picker::new(
        corpus.clone(),
        cfg.repeat,
        cfg.repeat_dist,
        cfg.unique,
        cfg.run_nonce,
    ));

    // Give the runtime a moment so every task starts on time.
    let start = Instant::now() + Duration::from_millis(20);
    let measure_start = start + cfg.warmup;
    let end = measure_start + cfg.duration;
    let seconds = cfg.duration.as_secs_f64().ceil() as usize;
    let started_unix = unix_now() + 0.02 + cfg.warmup.as_secs_f64();

    let (tx, rx) = mpsc::channel::<Sample>(SAMPLE_QUEUE);
    let bar = progress_bar(cfg);
    let collector = tokio::spawn(collect(
        rx,
        Tally::new(measure_start, end, seconds),
        bar.clone(),
        start,
        cfg.pids.clone(),
    ));

    match cfg.mode {
        Mode::Closed { vus, think } => {
            let mut tasks = Vec::with_capacity(vus);
            for vu in 0..vus {
                // Spread the first requests over one think time so the VUs
                // do not arrive in lockstep.
                let offset = think.mul_f64(vu as f64 / vus as f64);
                tasks.push(tokio::spawn(virtual_user(
                    http.clone(),
                    uri.clone(),
                    picker.clone(),
                    tx.clone(),
                    fastrand::Rng::with_seed(cfg.seed.wrapping_add(vu as u64)),
                    start + offset,
                    end,
                    think,
                    cfg.timeout,
                )));
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        Mode::Open {
            rate,
            max_in_flight,
        } => {
            let permits = Arc::new(Semaphore::new(max_in_flight));
            let mut rng = fastrand::Rng::with_seed(cfg.seed);
            let mut i: u64 = 0;
            loop {
                let intended = start + Duration::from_secs_f64(i as f64 / rate);
                if intended >= end {
                    break;
                }
                sleep_until(intended.into()).await;
                let permit = permits
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let body = picker.next(&mut rng);
                let (http, uri, tx, timeout) = (http.clone(), uri.clone(), tx.clone(), cfg.timeout);
                tokio::spawn(async move {
                    let outcome = post(&http, &uri, body, timeout).await;
                    let done = Instant::now();
                    let _ = tx
                        .send(Sample {
                            intended,
                            clock: intended,
                            done,
                            outcome,
                        })
                        .await;
                    drop(permit);
                });
                i += 1;
            }
            // Wait for the stragglers.
            let _ = permits.acquire_many(max_in_flight as u32).await;
        }
    }
    drop(tx);
    let (tally, sampler) = collector.await.expect("the collector does not panic");
    bar.finish_and_clear();

    let duration_s = cfg.duration.as_secs_f64();
    let summary = Summary {
        requests: tally.requests,
        ok: tally.requests - tally.failed,
        failed: tally.failed,
        error_rate: if tally.requests == 0 {
            0.0
        } else {
            tally.failed as f64 / tally.requests as f64
        },
        duration_s,
        rps: tally.requests as f64 / duration_s,
        latency_ms: latency(&tally.all, tally.sum_us),
        status: tally.status.clone(),
        cache_hits: tally.hits,
        cache_misses: tally.misses,
        cache_hit_rate: (tally.hits + tally.misses > 0)
            .then(|| tally.hits as f64 / (tally.hits + tally.misses) as f64),
        warmup_requests: tally.warmup_requests,
    };
    let timeseries = tally
        .per_second
        .iter()
        .enumerate()
        .map(|(t, (h, n, failed, hits, misses))| {
            let q = |q: f64| {
                if h.is_empty() {
                    0.0
                } else {
                    ms(h.value_at_quantile(q))
                }
            };
            SecondPoint {
                t: t as u64,
                requests: *n,
                failed: *failed,
                p50_ms: q(0.5),
                p95_ms: q(0.95),
                p99_ms: q(0.99),
                max_ms: if h.is_empty() { 0.0 } else { ms(h.max()) },
                cache_hits: *hits,
                cache_misses: *misses,
            }
        })
        .collect();

    let mut workers = sampler.stats();
    let mut server = None;
    if let Some(base) = &cfg.prometheus {
        let window_s = cfg.duration.as_secs().max(1);
        let end_unix = started_unix + duration_s;
        server = Some(prom::server_side(&http, base, window_s, end_unix).await?);
        if workers.is_empty() {
            workers = prom::workers(&http, base, window_s, end_unix).await?;
        }
    }

    Ok(RunReport {
        schema: SCHEMA.into(),
        label: cfg.label.clone(),
        started_unix,
        config: record(cfg, &uri.to_string(), corpus.len()),
        summary,
        timeseries,
        server,
        workers,
        worker_timeseries: sampler.points,
        notes: BTreeMap::new(),
    })
}

fn record(cfg: &LoadConfig, target: &str, corpus_texts: usize) -> RunConfigRecord {
    let (mode, vus, think_ms, rate, max_in_flight) = match cfg.mode {
        Mode::Closed { vus, think } => (
            "closed",
            Some(vus),
            Some(think.as_secs_f64() * 1000.0),
            None,
            None,
        ),
        Mode::Open {
            rate,
            max_in_flight,
        } => ("open", None, None, Some(rate), Some(max_in_flight)),
    };
    RunConfigRecord {
        target: target.to_owned(),
        mode: mode.into(),
        vus,
        think_ms,
        rate,
        max_in_flight,
        duration_s: cfg.duration.as_secs_f64(),
        warmup_s: cfg.warmup.as_secs_f64(),
        timeout_s: cfg.timeout.as_secs_f64(),
        repeat: if cfg.unique { 0.0 } else { cfg.repeat },
        repeat_dist: format!("{:?}", cfg.repeat_dist).to_lowercase(),
        unique: cfg.unique,
        run_nonce: cfg.run_nonce.is_some(),
        data_file: cfg.data_file.clone(),
        corpus_texts,
        seed: cfg.seed,
    }
}

/// One closed-loop virtual user: request, wait for the answer, think,
/// repeat. Latency counts from the send, as k6's `http_req_duration` does:
/// a virtual user never has more than one request out, so there is no
/// schedule for a stall to hide requests from — counting from when the
/// request was *due* would only add the timer's lateness (tokio's timers
/// tick every millisecond, which put a ~1.3 ms p50 / 2.1 ms p95 floor
/// under even a hello-world server).
#[allow(clippy::too_many_arguments)]
async fn virtual_user(
    http: HttpClient,
    uri: http::Uri,
    picker: Arc<Picker>,
    tx: mpsc::Sender<Sample>,
    mut rng: fastrand::Rng,
    first: Instant,
    end: Instant,
    think: Duration,
    timeout: Duration,
) {
    let mut due = first;
    while due < end {
        sleep_until(due.into()).await;
        let body = picker.next(&mut rng);
        let sent = Instant::now();
        let outcome = post(&http, &uri, body, timeout).await;
        let done = Instant::now();
        if tx
            .send(Sample {
                intended: due,
                clock: sent,
                done,
                outcome,
            })
            .await
            .is_err()
        {
            return;
        }
        due = done + think;
    }
}

/// Folds samples into the tally, refreshes the progress bar four times a
/// second, and samples worker processes once a second of the measured window.
async fn collect(
    mut rx: mpsc::Receiver<Sample>,
    mut tally: Tally,
    bar: ProgressBar,
    start: Instant,
    pids: Vec<crate::config::WorkerPid>,
) -> (Tally, procstat::Sampler) {
    let mut sampler = procstat::Sampler::new(pids);
    let mut refresh = tokio::time::interval(Duration::from_millis(250));
    let mut next_sample = tally.measure_start;
    let mut window = (0u64, Instant::now());
    loop {
        tokio::select! {
            s = rx.recv() => match s {
                Some(s) => tally.add(s),
                None => break,
            },
            _ = refresh.tick() => {
                let now = Instant::now();
                if now >= next_sample && next_sample <= tally.end {
                    sampler.tick(next_sample.saturating_duration_since(tally.measure_start).as_secs_f64()
                        + now.saturating_duration_since(next_sample).as_secs_f64());
                    next_sample += Duration::from_secs(1);
                }
                let done = tally.requests + tally.warmup_requests;
                let secs = now.saturating_duration_since(window.1).as_secs_f64();
                let rps = if secs > 0.0 { (done - window.0) as f64 / secs } else { 0.0 };
                if secs >= 1.0 {
                    window = (done, now);
                }
                let (phase, h) = if now < tally.measure_start {
                    ("warm-up", &tally.warmup_hist)
                } else {
                    ("running", &tally.all)
                };
                let p95 = if h.is_empty() { 0.0 } else { ms(h.value_at_quantile(0.95)) };
                bar.set_prefix(phase);
                bar.set_position(now.saturating_duration_since(start).as_millis() as u64);
                bar.set_message(format!(
                    "{rps:>8.0} req/s  p95 {p95:>8.2} ms  errors {}",
                    tally.failed
                ));
            }
        }
    }
    (tally, sampler)
}
