// The seed's load test: VUs posting held-out e-mails to POST /predict with a
// think time between requests. Texts are drawn from bench/data/heldout.jsonl
// with a skewed distribution (a hot set is repeated), so the cache hit rate
// resembles real traffic (the same newsletter/spam hits many inboxes).
//
//   k6 run tests/load/baseline.js                      # 50 VUs, 5 min, localhost:8000
//   BASE_URL=http://127.0.0.1:8001 VUS=50 DURATION=1m THINK_TIME=0.25 \
//     SUMMARY=/tmp/k6.json k6 run tests/load/baseline.js
//
// Env: BASE_URL, VUS, DURATION, THINK_TIME (seconds), HELDOUT (path),
// HOT_FRACTION (share of requests drawn from the 50 hottest texts, default
// 0.5), UNIQUE=1 (suffix every text to defeat the cache), P95_MS (threshold,
// default 500), SUMMARY (JSON summary path), STAGGER=0 (start every VU at
// the same instant, k6's default: with sub-ms answers the VUs then stay in
// lock-step, 50-request bursts every think time; default 1 spreads their
// first iteration over one think time).
import http from 'k6/http';
import { check, sleep } from 'k6';
import { SharedArray } from 'k6/data';
import { Rate } from 'k6/metrics';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const THINK = parseFloat(__ENV.THINK_TIME || '0.25');
const HOT = parseFloat(__ENV.HOT_FRACTION || '0.5');
const UNIQUE = __ENV.UNIQUE === '1';
const P95 = __ENV.P95_MS || '500';
const STAGGER = (__ENV.STAGGER || '1') !== '0';

const texts = new SharedArray('heldout', () =>
  open(__ENV.HELDOUT || '../../bench/data/heldout.jsonl')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l).text),
);

export const errors = new Rate('errors');

export const options = {
  vus: parseInt(__ENV.VUS || '50', 10),
  duration: __ENV.DURATION || '5m',
  thresholds: {
    http_req_duration: [`p(95)<${P95}`],
    errors: ['rate<0.01'],
    http_req_failed: ['rate<0.01'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// Reading a SharedArray element copies it out of shared memory on every
// access, and serialising a 5 KB e-mail per request costs as much again: at
// saturation that capped k6 near 300 req/s. Each VU keeps the request bodies
// it has built (at most one per held-out e-mail).
const bodies = {};

function pick() {
  const hot = Math.min(50, texts.length);
  if (Math.random() < HOT) return Math.floor(Math.random() * hot);
  return Math.floor(Math.random() * texts.length);
}

function body(i) {
  if (UNIQUE) return JSON.stringify({ text: `${texts[i]}\n${__VU}-${__ITER}-${Math.random()}` });
  let b = bodies[i];
  if (b === undefined) {
    b = JSON.stringify({ text: texts[i] });
    bodies[i] = b;
  }
  return b;
}

export default function () {
  if (STAGGER && __ITER === 0 && THINK > 0) {
    // k6 starts every VU at the same instant; with a constant think time
    // and sub-millisecond responses they would stay in lock-step for the
    // whole run — bursts of VUS simultaneous requests every THINK seconds,
    // whose tail is k6's own CPU. One offset per VU, spread over one think
    // time, gives the same users and the same think time, arriving the way
    // independent users do.
    sleep((THINK * (__VU - 1)) / options.vus);
  }
  const res = http.post(`${BASE_URL}/predict`, body(pick()), {
    headers: { 'Content-Type': 'application/json' },
  });
  const ok = check(res, {
    'status 200': (r) => r.status === 200,
    'has label': (r) => r.status === 200 && r.json('label') !== undefined,
  });
  errors.add(!ok);
  if (THINK > 0) sleep(THINK);
}

export function handleSummary(data) {
  const m = data.metrics;
  const d = m.http_req_duration.values;
  const summary = {
    base_url: BASE_URL,
    vus: options.vus,
    duration: options.duration,
    think_time_s: THINK,
    requests: m.http_reqs.values.count,
    rps: m.http_reqs.values.rate,
    error_rate: m.errors ? m.errors.values.rate : null,
    failed_rate: m.http_req_failed.values.rate,
    latency_ms: { avg: d.avg, med: d.med, p90: d['p(90)'], p95: d['p(95)'], p99: d['p(99)'], max: d.max },
    thresholds_ok: Object.values(data.metrics).every((x) => !x.thresholds || Object.values(x.thresholds).every((t) => t.ok)),
  };
  const out = { stdout: `${JSON.stringify(summary, null, 2)}\n` };
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(summary, null, 2);
  return out;
}
