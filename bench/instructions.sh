#!/usr/bin/env bash
# Instructions per request of `falcon serve`, counted by valgrind's
# callgrind: a deterministic measure of the CPU work a request path does,
# for comparing two builds on a machine too noisy for throughput A/B tests
# (issue #15: a 3 % change is inside wrk's run-to-run spread here, but not
# inside callgrind's).
#
#   bench/instructions.sh [MODE] [-- serve flags...]
#   FALCON=/tmp/falcon-before bench/instructions.sh hit -- --no-log
#
# MODE: hit (the same 50 e-mails in rotation: cache hits after the first
# pass) or unique (every text new: a miss and the engine), as in
# tests/load/wrk_predict.lua. The server runs under callgrind with
# instrumentation off while the model loads and a warm-up runs; only the
# measured window (wrk -t1 -c4, MEASURE, default 10s) is counted, every
# thread included (the log writer's SQLite work too). Prints the requests
# served, the instructions counted, and their ratio. KEEP=FILE keeps the
# callgrind profile for `callgrind_annotate --inclusive=yes FILE`.
#
# Not a throughput measure: callgrind runs the server ~50× slower, so the
# log writer's batches are smaller than at saturation, and cache misses,
# wake-ups and syscalls cost no time here. Valgrind's CPU also hides
# SHA-NI, so the log's SHA-256 of each missed text runs in software
# (~107k instructions for a 5.5 KB e-mail, against ~3 µs natively): in
# `unique` mode with the log on, that dominates the difference. Compare
# builds with the same MODE and flags, in the same run.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODE="${1:-hit}"
shift || true
[ "${1:-}" = -- ] && shift
FALCON="${FALCON:-$ROOT/target/release/falcon}"
MEASURE="${MEASURE:-10s}"
VENV="${VENV:-}"
PY="${VENV:+$VENV/bin/}python3"

command -v valgrind > /dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
command -v wrk > /dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
[ -x "$FALCON" ] || { echo "$FALCON not found: cargo build --release -p falcon" >&2; exit 1; }

DIR="$(mktemp -d /tmp/falcon-instructions.XXXXXX)"
trap 'rm -rf "$DIR"' EXIT
"$PY" - "$ROOT/bench/data/heldout.jsonl" > "$DIR/bodies.txt" << 'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.dumps({"text": "__ID__" + json.loads(line)["text"]}))
PY

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# MALLOC_ARENA_MAX set: `falcon serve` would otherwise re-execute itself
# with it, and callgrind would follow the exec under another pid.
MALLOC_ARENA_MAX=1 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$DIR/cg.out" "$FALCON" serve --data-dir "$DIR" \
  --addr "127.0.0.1:$PORT" "$@" > "$DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 900); do
  curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break
  kill -0 "$SERVER" 2> /dev/null || { cat "$DIR/server.log" >&2; exit 1; }
  sleep 0.2
done
load() { # duration
  (cd "$ROOT" && BODIES="$DIR/bodies.txt" MODE="$MODE" wrk -t1 -c4 -d"$1" \
    -s tests/load/wrk_predict.lua "http://127.0.0.1:$PORT")
}
load 3s > /dev/null 2>&1
callgrind_control -i on "$SERVER" > /dev/null 2>&1
load "$MEASURE" > "$DIR/wrk.out" 2>&1
callgrind_control -i off "$SERVER" > /dev/null 2>&1
callgrind_control -d "$SERVER" > /dev/null 2>&1
sleep 1
kill -TERM "$SERVER"
wait "$SERVER" 2> /dev/null || true

requests="$(awk '/requests in/ {print $1}' "$DIR/wrk.out")"
errors="$(awk '/Non-2xx/ {print $NF}' "$DIR/wrk.out")"
[ -n "$requests" ] && [ "$requests" -gt 0 ] || { cat "$DIR/wrk.out" >&2; exit 1; }
[ -z "$errors" ] || { echo "non-2xx responses: $errors" >&2; exit 1; }
# The dump taken right after the window (cg.out.1) holds it; the final
# file at exit only what ran with instrumentation off (nothing).
instructions="$(awk '/^totals:/ {s += $2} END {print s}' "$DIR"/cg.out.*)"
[ -n "${KEEP:-}" ] && cp "$DIR/cg.out.1" "$KEEP"
echo "mode=$MODE flags=[$*] requests=$requests instructions=$instructions per_request=$((instructions / requests))"
