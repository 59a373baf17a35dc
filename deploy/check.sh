#!/usr/bin/env bash
# Static checks of the monitoring stack (needs promtool: apt-get install prometheus):
# - promtool check config / rules, and the alert unit tests;
# - every PromQL expression of the Grafana dashboard parses (they are wrapped
#   as recording rules, with Grafana's $__rate_interval set to 1m, and handed
#   to promtool check rules);
# - provisioning files are valid YAML/JSON.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
promtool check config prometheus/prometheus.yml
promtool check rules prometheus/rules/*.yml
promtool test rules prometheus/tests/alerts_test.yml
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/dashboard_rules.yml" <<'PY'
import json, sys
d = json.load(open("grafana/dashboards/falcon.json"))
rules = []
for p in d["panels"]:
    assert p["datasource"]["uid"] == "falcon-prometheus", p["title"]
    for t in p["targets"]:
        expr = t["expr"].replace("$__rate_interval", "1m")
        rules.append({"record": f"dashboard:panel{p['id']}:{t['refId']}", "expr": expr})
assert len(rules) >= 10, len(rules)
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[1], "w"))
print(f"dashboard: {len(d['panels'])} panels, {len(rules)} expressions")
PY
promtool check rules "$tmp/dashboard_rules.yml"
python3 -c 'import json,sys; [json.load(open(f)) for f in sys.argv[1:]]' prometheus/targets/*.json
echo "deploy: all checks passed"
