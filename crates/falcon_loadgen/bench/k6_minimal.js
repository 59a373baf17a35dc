// The cheapest k6 script that does what `falcon bench --think 0` does: each
// VU POSTs a pre-serialized {"text": ...} body from the held-out file in a
// tight loop, no checks, no JSON parsing of the answer. Used to compare the
// two load generators' ceilings on one machine (see compare_k6.sh).
//
//   BASE_URL=http://127.0.0.1:8000 VUS=50 DURATION=15s k6 run -q k6_minimal.js
import http from 'k6/http';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
// A plain per-VU array, not a SharedArray: indexing a SharedArray decodes
// the element on every access, which with 5 KB e-mails caps k6 near
// 300 req/s on this machine (measured) and would make k6 look worse than it is.
const bodies = open(__ENV.HELDOUT || '../../../bench/data/heldout.jsonl')
  .split('\n')
  .filter((l) => l.trim().length > 0)
  .map((l) => JSON.stringify({ text: JSON.parse(l).text }));
const params = { headers: { 'Content-Type': 'application/json' } };

export const options = {
  vus: parseInt(__ENV.VUS || '50', 10),
  duration: __ENV.DURATION || '15s',
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  http.post(`${BASE_URL}/predict`, bodies[Math.floor(Math.random() * bodies.length)], params);
}

export function handleSummary(data) {
  const m = data.metrics;
  const out = {
    requests: m.http_reqs.values.count,
    rps: m.http_reqs.values.rate,
    failed_rate: m.http_req_failed.values.rate,
    p95_ms: m.http_req_duration.values['p(95)'],
  };
  return { stdout: `${JSON.stringify(out)}\n` };
}
