#!/usr/bin/env bash
# Generates the Go code for protos/ and builds push_example.go with Debian 12's packages only: golang-go (1.19),
# protobuf-compiler, protoc-gen-go, protoc-gen-go-grpc, golang-google-grpc-dev (grpc-go 1.33),
# golang-google-protobuf-dev and golang-github-golang-protobuf-1-5-dev (.ci/setup installs them).
#
#   examples/go/build.sh [OUT]        # OUT defaults to examples/go/gen (git-ignored); the program is OUT/push-example
#
# Every .proto under protos/ (push/v1 and any vendored google/api) is generated; the protos set no go_package, so each
# file is mapped to a Go package here: push/v1/x.proto -> example.com/pushgen/push/v1 (package pushv1). The build runs
# in GOPATH mode against /usr/share/gocode (Debian's Go libraries), so no module download happens.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
protos="${PUSH_PROTOS:-$here/../../protos}"
out="${1:-$here/gen}"
for tool in go protoc protoc-gen-go protoc-gen-go-grpc; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found: run .ci/setup (apt golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc ...)" >&2; exit 2; }
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/go/src/example.com/pushgen"
mkdir -p "$out/go/src"

files=()
map=""
while IFS= read -r f; do
  files+=("$f")
  dir="$(dirname "$f")"
  map+="${map:+,}M$f=example.com/pushgen/$dir;${dir//\//}"
done < <(cd "$protos" && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)

protoc -I "$protos" \
  --go_out="$out/go/src" --go_opt="$map" \
  --go-grpc_out="$out/go/src" --go-grpc_opt="$map" \
  "${files[@]}"

cd "$here"
# go needs a build cache; without HOME (some CI shells) keep it next to the output
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then export GOCACHE="$out/go-build-cache"; fi
GO111MODULE=off GOPATH="$out/go:/usr/share/gocode" GOFLAGS= go build -o "$out/push-example" push_example.go
echo "$out/push-example"
