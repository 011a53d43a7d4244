#!/usr/bin/env bash
# The test command: installs what the tool-based tests need (.ci/setup: apt packages, npm tools, helm, dockerd;
# idempotent, a few seconds when everything is already there), then runs the whole suite.
# Arguments go to `dotnet test`, e.g. ./test.sh --filter "FullyQualifiedName~SendTests".
# CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash .ci/setup
exec dotnet test Push.Grpc.sln "$@"
