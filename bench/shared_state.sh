#!/usr/bin/env bash
# What shared state costs (issue #4), in one run on one machine:
#
#   1. wrk saturation of `falcon serve` in two configurations —
#        memory : in-process cache only, no prediction log (--no-log);
#        shared : in-process cache + Redis L2 (--redis-url) + Postgres
#                 prediction log (--database-url);
#      each with (i) a unique text per request (every request misses the
#      in-process cache: Redis GET + engine + Redis SET + one log row) and
#      (ii) the realistic repeat mix of tests/load/baseline.js (half the
#      requests from the 50 hottest e-mails). Fresh server per run; the
#      runs alternate memory/shared, ROUNDS times, and the ratio
#      shared/memory is taken per round (target >= 70 %).
#   2. The log writer's sustained rows/s into Postgres: `falcon-log-load`
#      (the whole writer: channel -> batches -> COPY; LOG_ROWS rows, flushed
#      every 8,192) timed end to end, plus the rows/s the server's own writer
#      kept up with during the unique-text saturation run (target >= 20,000).
#   3. k6 at the seed's load shape (tests/load/baseline.js, VUS VUs,
#      THINK_TIME s think, DURATION): memory only, + Redis L2, + Redis and
#      the Postgres log — the p95 that Redis (and the log) add.
#
# Also records CPU seconds used by falcon, redis-server and Postgres during
# each saturation run (per 1,000 requests), to explain the ratio.
#
# Requirements: a release build (the script runs `cargo build --release`),
# wrk, k6 (K6, default `k6` on PATH), redis-server (a private one is started
# on a free port, no persistence), Postgres reachable at ADMIN_URL (a fresh
# database falcon_bench_<pid> is created and dropped), psql, python3.
#
#   bench/shared_state.sh
#   ROUNDS=3 WRK_DURATION=30s DURATION=1m bench/shared_state.sh
#
# Env: ADMIN_URL (postgres://root@127.0.0.1:5432/test), ROUNDS (2),
# WRK_DURATION (20s), WRK_CONNS (64), WRK_THREADS (1: the load generator
# shares the cores), DURATION (30s), VUS (50), THINK_TIME (0.25),
# LOG_ROWS (200000), REDIS_POOL (unset: falcon's default), SHARED_EXTRA
# (more flags for the shared configuration), OUT (result
# directory, default a temp dir), RESULTS (also copy results.json there).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ADMIN_URL="${ADMIN_URL:-postgres://root@127.0.0.1:5432/test}"
ROUNDS="${ROUNDS:-2}"
WRK_DURATION="${WRK_DURATION:-20s}"
WRK_CONNS="${WRK_CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-1}"
DURATION="${DURATION:-30s}"
VUS="${VUS:-50}"
THINK_TIME="${THINK_TIME:-0.25}"
LOG_ROWS="${LOG_ROWS:-200000}"
K6="${K6:-k6}"
OUT="${OUT:-$(mktemp -d /tmp/falcon-shared.XXXXXX)}"
mkdir -p "$OUT"
for tool in wrk "$K6" redis-server psql python3 curl; do
  command -v "$tool" > /dev/null || { echo "$tool not found" >&2; exit 1; }
done

echo "results in $OUT" >&2
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
cargo build --release -q -p falcon -p falcon_log --bin falcon --bin falcon-log-load
FALCON="$TARGET/release/falcon"
LOGLOAD="$TARGET/release/falcon-log-load"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PIDS=()
DB="falcon_bench_$$"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" > /dev/null 2>&1 || true
}
trap cleanup EXIT

# A private Redis and a fresh database.
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --loglevel warning --dir "$OUT" > "$OUT/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break; sleep 0.1; done
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" > /dev/null
DB_URL="$(python3 - "$ADMIN_URL" "$DB" << 'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], "application_name=" + sys.argv[2], "")))
PY
)"

# Request bodies: {"text": "__ID__<email>"} per held-out e-mail.
python3 - "$ROOT/bench/data/heldout.jsonl" > "$OUT/bodies.txt" << 'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.dumps({"text": "__ID__" + json.loads(line)["text"]}))
PY

SERVER_PID=""
SERVER_URL=""
start_server() { # name args... ; sets SERVER_PID / SERVER_URL
  local name=$1
  shift
  local port
  port=$(free_port)
  local data="$OUT/data_$name"
  rm -rf "$data"
  mkdir -p "$data"
  "$FALCON" serve --addr "127.0.0.1:$port" --log warn --data-dir "$data" "$@" > "$OUT/falcon_$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  SERVER_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "$SERVER_URL/readyz" && return 0
    sleep 0.1
  done
  echo "falcon ($name) did not come up" >&2
  cat "$OUT/falcon_$name.log" >&2
  exit 1
}
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || { echo "falcon exited with $?" >&2; exit 1; }
}
metrics() { curl -sf "$SERVER_URL/metrics"; }
# Total CPU ticks (user + system) of the given pids.
cpu_ticks() {
  local t=0 p s
  for p in "$@"; do
    s=$(awk '{print $14 + $15}' "/proc/$p/stat" 2> /dev/null || echo 0)
    t=$((t + s))
  done
  echo "$t"
}
pg_pids() { pgrep -x postgres || pgrep postgres || true; }
# CPU ticks of falcon, redis-server and every postgres process, as JSON.
cpu_snapshot() { # falcon_pid
  printf '{"falcon": %d, "redis": %d, "postgres": %d}' \
    "$(cpu_ticks "$1")" "$(cpu_ticks "$REDIS_PID")" "$(cpu_ticks $(pg_pids))"
}

MEMORY_ARGS=(--no-log)
SHARED_ARGS=(--redis-url "$REDIS_URL" --database-url "$DB_URL")
if [ -n "${REDIS_POOL:-}" ]; then SHARED_ARGS+=(--redis-pool "$REDIS_POOL"); fi
# Extra flags for the shared configuration, e.g. SHARED_EXTRA="--redis-timeout 50ms".
# shellcheck disable=SC2206
SHARED_ARGS+=(${SHARED_EXTRA:-})

wrk_run() { # config mode round
  local config=$1 mode=$2 round=$3 name="$1_$2_$3"
  if [ "$config" = memory ]; then
    start_server "$name" "${MEMORY_ARGS[@]}" --redis-prefix "$name"
  else
    start_server "$name" "${SHARED_ARGS[@]}" --redis-prefix "bench_$name"
  fi
  # Warm the in-process cache with the mix (unmeasured), as a running server would be.
  if [ "$mode" = mix ]; then
    BODIES="$OUT/bodies.txt" MODE=mix wrk -t1 -c8 -d3s -s tests/load/wrk_predict.lua "$SERVER_URL" > /dev/null 2>&1
  fi
  echo "== wrk $name: $WRK_CONNS connections, $WRK_DURATION" >&2
  metrics > "$OUT/metrics_${name}_before.txt"
  cpu_snapshot "$SERVER_PID" > "$OUT/cpu_${name}_before.json"
  BODIES="$OUT/bodies.txt" MODE="$mode" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" \
    -s tests/load/wrk_predict.lua "$SERVER_URL" > "$OUT/wrk_$name.out" 2>&1
  cpu_snapshot "$SERVER_PID" > "$OUT/cpu_${name}_after.json"
  metrics > "$OUT/metrics_${name}_after.txt"
  # Let the log writer catch up, then record where it stands.
  sleep 2
  metrics > "$OUT/metrics_${name}_settled.txt"
  grep WRK_JSON "$OUT/wrk_$name.out" | sed 's/^WRK_JSON //' > "$OUT/wrk_$name.json"
  stop_server
}

for round in $(seq 1 "$ROUNDS"); do
  for mode in unique mix; do
    wrk_run memory "$mode" "$round"
    wrk_run shared "$mode" "$round"
  done
done

# The log writer alone: LOG_ROWS rows through channel -> batches -> COPY.
echo "== falcon-log-load: $LOG_ROWS rows into Postgres" >&2
mkdir -p "$OUT/logload"
t0=$(date +%s.%N)
"$LOGLOAD" "$DB_URL" "$OUT/logload" bench "$LOG_ROWS" 8192 > "$OUT/logload.out"
t1=$(date +%s.%N)
echo "{\"rows\": $LOG_ROWS, \"seconds\": $(python3 -c "print($t1 - $t0)"), \"last\": \"$(tail -1 "$OUT/logload.out")\"}" > "$OUT/logload.json"

k6_run() { # name args...
  local name=$1
  shift
  start_server "k6_$name" "$@" --redis-prefix "bench_k6_$name"
  echo "== k6 $name: $VUS VUs, think $THINK_TIME s, $DURATION" >&2
  (cd tests/load && BASE_URL="$SERVER_URL" VUS="$VUS" DURATION="$DURATION" THINK_TIME="$THINK_TIME" \
    SUMMARY="$OUT/k6_$name.json" "$K6" run --quiet baseline.js > "$OUT/k6_$name.out" 2>&1) || true
  metrics > "$OUT/metrics_k6_$name.txt"
  stop_server
}
k6_run memory "${MEMORY_ARGS[@]}"
k6_run redis --no-log --redis-url "$REDIS_URL"
k6_run shared "${SHARED_ARGS[@]}"

python3 - "$OUT" "$ROUNDS" "$(getconf CLK_TCK)" "$(cut -d' ' -f1-3 /proc/loadavg)" << 'PY'
import json, os, re, statistics, sys
out, rounds, hz, loadavg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
load = lambda n: json.load(open(os.path.join(out, n)))

def metric(name, text, labels=()):
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(1) == name and all(f'{k}="{v}"' in (m.group(2) or "") for k, v in labels):
            total += float(m.group(3))
    return total

runs = {}
for r in range(1, rounds + 1):
    for mode in ("unique", "mix"):
        for cfg in ("memory", "shared"):
            n = f"{cfg}_{mode}_{r}"
            w = load(f"wrk_{n}.json")
            before, after = load(f"cpu_{n}_before.json"), load(f"cpu_{n}_after.json")
            req = max(w["requests"], 1)
            cpu = {k: (after[k] - before[k]) / hz * 1000 / req * 1000 for k in after}  # ms per 1,000 requests
            mb = open(os.path.join(out, f"metrics_{n}_before.txt")).read()
            ma = open(os.path.join(out, f"metrics_{n}_after.txt")).read()
            ms = open(os.path.join(out, f"metrics_{n}_settled.txt")).read()
            secs = w["requests"] / w["rps"] if w["rps"] else 0
            written = metric("falcon_log_rows_total", ma, [("outcome", "written")]) - metric("falcon_log_rows_total", mb, [("outcome", "written")])
            runs[n] = {
                **w,
                "cpu_ms_per_1000_requests": cpu,
                "log_rows_per_s": written / secs if secs else 0,
                "log_dropped": metric("falcon_log_dropped_rows_total", ms),
                "log_queue_rows_at_end": metric("falcon_log_queue_rows", ma),
                "log_accepted": metric("falcon_log_rows_total", ms, [("outcome", "accepted")]),
                "log_written": metric("falcon_log_rows_total", ms, [("outcome", "written")]),
                "log_spooled": metric("falcon_log_rows_total", ms, [("outcome", "spooled")]),
                "redis_hits": metric("redis_cache_hits_total", ma) - metric("redis_cache_hits_total", mb),
                "redis_misses": metric("redis_cache_misses_total", ma) - metric("redis_cache_misses_total", mb),
                "redis_errors": metric("redis_cache_errors_total", ma) - metric("redis_cache_errors_total", mb),
                "redis_timeouts": metric("redis_cache_errors_total", ma, [("kind", "timeout")]) - metric("redis_cache_errors_total", mb, [("kind", "timeout")]),
                "redis_unavailable": metric("redis_cache_errors_total", ma, [("kind", "unavailable")]) - metric("redis_cache_errors_total", mb, [("kind", "unavailable")]),
                "redis_sets": metric("redis_cache_sets_total", ma) - metric("redis_cache_sets_total", mb),
                "redis_skipped_writes": metric("redis_cache_skipped_writes_total", ma) - metric("redis_cache_skipped_writes_total", mb),
                "redis_lookup_mean_us": (
                    (metric("redis_cache_lookup_duration_seconds_sum", ma) - metric("redis_cache_lookup_duration_seconds_sum", mb))
                    / max(metric("redis_cache_lookup_duration_seconds_count", ma) - metric("redis_cache_lookup_duration_seconds_count", mb), 1) * 1e6
                ),
                "memory_hits": metric("inference_cache_tier_hits_total", ma, [("tier", "memory")]) - metric("inference_cache_tier_hits_total", mb, [("tier", "memory")])
                if "inference_cache_tier_hits_total" in ma else metric("inference_cache_hits_total", ma) - metric("inference_cache_hits_total", mb),
                "engine_misses": metric("inference_cache_misses_total", ma) - metric("inference_cache_misses_total", mb),
            }

ratios = {mode: [runs[f"shared_{mode}_{r}"]["rps"] / runs[f"memory_{mode}_{r}"]["rps"] for r in range(1, rounds + 1)] for mode in ("unique", "mix")}
k6 = {n: load(f"k6_{n}.json") for n in ("memory", "redis", "shared")}
ll = load("logload.json")
logload_rps = ll["rows"] / ll["seconds"]

print(f"\n### Shared state (Redis L2 + Postgres log) — {rounds} round(s), load average at the end {loadavg}\n")
print("| wrk saturation, req/s | memory only | memory + Redis + Postgres log | ratio | target |")
print("| --- | ---: | ---: | ---: | --- |")
for mode, label in (("unique", "unique text per request (all L1 misses)"), ("mix", "repeat mix (baseline.js hot set)")):
    for r in range(1, rounds + 1):
        a, b = runs[f"memory_{mode}_{r}"], runs[f"shared_{mode}_{r}"]
        print(f"| {label}, round {r} | {a['rps']:,.0f} (p99 {a['p99_ms']:.1f} ms) | {b['rps']:,.0f} (p99 {b['p99_ms']:.1f} ms) | {100 * b['rps'] / a['rps']:.0f} % | ≥ 70 % |")
print()
print("| CPU µs per request (same runs, mean of rounds) | falcon | redis-server | postgres (all backends) |")
print("| --- | ---: | ---: | ---: |")
for mode in ("unique", "mix"):
    for cfg in ("memory", "shared"):
        c = [runs[f"{cfg}_{mode}_{r}"]["cpu_ms_per_1000_requests"] for r in range(1, rounds + 1)]
        mean = {k: statistics.mean(x[k] for x in c) for k in c[0]}
        print(f"| {cfg}, {mode} | {mean['falcon']:.0f} | {mean['redis']:.0f} | {mean['postgres']:.0f} |")
print()
lr = [runs[f"shared_unique_{r}"] for r in range(1, rounds + 1)]
def each(key, fmt):
    return ", ".join(format(x[key], fmt) for x in lr)
print(f"Log writer: falcon-log-load {ll['rows']:,} rows in {ll['seconds']:.2f} s = **{logload_rps:,.0f} rows/s** (target ≥ 20,000); "
      f"in the server during the unique-text saturation runs: {each('log_rows_per_s', ',.0f')} rows/s written, "
      f"dropped {each('log_dropped', '.0f')}, spooled {each('log_spooled', '.0f')}.")
print(f"Redis in the unique-text runs: mean lookup {each('redis_lookup_mean_us', '.0f')} µs; "
      f"timeouts {each('redis_timeouts', '.0f')}; operations short-circuited without I/O (breaker open) {each('redis_unavailable', '.0f')}; "
      f"write-backs stored {each('redis_sets', '.0f')} of {each('requests', '.0f')} requests; skipped write-backs {each('redis_skipped_writes', '.0f')}.")
print()
print(f"| k6, {k6['memory']['vus']} VUs, {k6['memory']['think_time_s']} s think, {k6['memory']['duration']} | req/s | p50 ms | p95 ms | p99 ms | errors |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for n, label in (("memory", "memory only (--no-log)"), ("redis", "+ Redis L2 (--no-log)"), ("shared", "+ Redis L2 + Postgres log")):
    k = k6[n]
    print(f"| {label} | {k['rps']:.0f} | {k['latency_ms']['med']:.2f} | {k['latency_ms']['p95']:.2f} | {k['latency_ms']['p99']:.2f} | {k['failed_rate']:.4f} |")
def hist_q(text, name, quant, route):
    """Quantile of a Prometheus histogram (linear inside a bucket)."""
    b = {}
    for line in text.splitlines():
        m = re.match(r"^" + name + r"_bucket\{([^}]*)\} (\S+)$", line)
        if not m or f'route="{route}"' not in m.group(1):
            continue
        le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
        b[float("inf") if le == "+Inf" else float(le)] = float(m.group(2))
    les = sorted(b)
    if not les or not b[les[-1]]:
        return float("nan")
    target, prev_le, prev_c = quant * b[les[-1]], 0.0, 0.0
    for le in les:
        if b[le] >= target:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * ((target - prev_c) / (b[le] - prev_c) if b[le] > prev_c else 0)
        prev_le, prev_c = le, b[le]
server = {}
for n in ("memory", "redis", "shared"):
    t = open(os.path.join(out, f"metrics_k6_{n}.txt")).read()
    server[n] = {f"p{int(q * 100)}_ms": 1e3 * hist_q(t, "http_request_duration_seconds", q, "/predict") for q in (0.5, 0.95, 0.99)}
print()
print("| same k6 runs, server-side /predict latency (falcon's histogram) | p50 ms | p95 ms | p99 ms |")
print("| --- | ---: | ---: | ---: |")
for n in ("memory", "redis", "shared"):
    print(f"| {n} | {server[n]['p50_ms']:.3f} | {server[n]['p95_ms']:.3f} | {server[n]['p99_ms']:.3f} |")
for n in server:
    k6[n]["server_side"] = server[n]
print(f"\np95 added by Redis (k6 / server-side): {k6['redis']['latency_ms']['p95'] - k6['memory']['latency_ms']['p95']:+.2f} / "
      f"{server['redis']['p95_ms'] - server['memory']['p95_ms']:+.2f} ms; "
      f"by Redis + log: {k6['shared']['latency_ms']['p95'] - k6['memory']['latency_ms']['p95']:+.2f} / "
      f"{server['shared']['p95_ms'] - server['memory']['p95_ms']:+.2f} ms")
pct = lambda xs: ", ".join(f"{100 * x:.0f} %" for x in xs)
print(f"ratio shared/memory: unique {pct(ratios['unique'])}; mix {pct(ratios['mix'])}")
json.dump({"loadavg_end": loadavg, "rounds": rounds, "wrk": runs, "ratios": ratios, "k6": k6,
           "logload": {**ll, "rows_per_s": logload_rps}}, open(os.path.join(out, "results.json"), "w"), indent=2)
PY
if [ -n "${RESULTS:-}" ]; then cp "$OUT/results.json" "$RESULTS"; fi
