#!/usr/bin/env bash
# Reproduces docs/tuning/: the seed's study at full length, with Prometheus
# scraping every cluster, Falcon and the Python reference side by side, and
# the Grafana dashboard drawn from the real Prometheus.
#
#   cargo build --release -p falcon
#   pip install -r bench/reference/requirements.txt
#   apt-get install -y nginx prometheus prometheus-nginx-exporter
#   docs/tuning/run-study.sh                  # ~70 min; OUT=docs/tuning
#
# Env: FALCON (target/release/falcon), OUT (docs/tuning), WORK (a temp dir:
# Prometheus config and TSDB, cluster run dirs), DURATION (5m), REF_DURATION
# (= DURATION), REPEAT (3), WORKERS (3,5), WARMUP (10s), KEEP_PROMETHEUS=1
# leaves Prometheus running (its URL is printed) for more `falcon report
# --dashboard` renders. Extra arguments go to `falcon tune`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
FALCON="${FALCON:-$ROOT/target/release/falcon}"
OUT="${OUT:-docs/tuning}"
WORK="${WORK:-$(mktemp -d /tmp/falcon-study.XXXXXX)}"
DURATION="${DURATION:-5m}"
REF_DURATION="${REF_DURATION:-$DURATION}"
REPEAT="${REPEAT:-3}"
WORKERS="${WORKERS:-3,5}"
WARMUP="${WARMUP:-10s}"
[ -x "$FALCON" ] || { echo "$FALCON not found: cargo build --release -p falcon" >&2; exit 1; }
command -v prometheus > /dev/null || { echo "prometheus not found: apt-get install -y prometheus" >&2; exit 1; }
mkdir -p "$WORK/targets"
WORK="$(cd "$WORK" && pwd)"
echo '[]' > "$WORK/targets/falcon.json"
echo '[]' > "$WORK/targets/nginx.json"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# deploy/prometheus/prometheus.yml's jobs and rules, with a 2 s scrape (a
# 5-minute run gets 150 points per series) and this study's target files.
cat > "$WORK/prometheus.yml" << EOF
global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files:
  - $ROOT/deploy/prometheus/rules/recording.yml
  - $ROOT/deploy/prometheus/rules/alerts.yml
scrape_configs:
  - job_name: falcon
    file_sd_configs: [{files: [$WORK/targets/falcon.json], refresh_interval: 2s}]
  - job_name: nginx
    file_sd_configs: [{files: [$WORK/targets/nginx.json], refresh_interval: 2s}]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PORT" > "$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
if [ "${KEEP_PROMETHEUS:-0}" != 1 ]; then
  trap 'kill "$PROM_PID" 2> /dev/null || true; wait "$PROM_PID" 2> /dev/null || true' EXIT
fi
PROM="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "$PROM/-/ready" && break
  sleep 0.2
done
curl -sf -o /dev/null "$PROM/-/ready" || { echo "Prometheus did not start: $WORK/prometheus.log" >&2; exit 1; }
echo "Prometheus: $PROM (pid $PROM_PID), work dir $WORK"

"$FALCON" tune --workers "$WORKERS" --repeat "$REPEAT" --vus 50 --think 250ms \
  --duration "$DURATION" --warmup "$WARMUP" --slo-p95 10ms \
  --reference --reference-duration "$REF_DURATION" \
  --prometheus "$PROM" \
  --prometheus-targets "$WORK/targets/falcon.json" \
  --prometheus-nginx-targets "$WORK/targets/nginx.json" \
  --dashboard deploy/grafana/dashboards/falcon.json \
  --quiet --out "$OUT" --run-dir "$WORK/run" "$@"
