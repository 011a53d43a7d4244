#!/usr/bin/env bash
# Builds the push image (or the Python example worker's image) without pulling any base image:
#
#   deploy/build-image.sh TAG                    # e.g. registry.example.com/push/push:0.1.0
#   deploy/build-image.sh --python-worker TAG    # e.g. registry.example.com/push/push-worker-python:0.1.0
#
# The same image as the root Dockerfile (user 1654, /app/push.dll run by `dotnet`, the same labels, ports and
# environment), assembled from this machine instead of mcr.microsoft.com: `dotnet publish` runs here, then the
# .NET runtime it uses, the shared libraries `ldd` lists for it (glibc, libstdc++, libgcc_s, zlib), the ones .NET
# loads at run time (OpenSSL; no ICU: InvariantGlobalization=true), the CA bundle, and /bin/sh + tr (the chart's
# internalTls wrapper) go into a FROM scratch image (deploy/push.Dockerfile; deploy/python-worker.Dockerfile for the worker). Works with the legacy builder
# (DOCKER_BUILDKIT=0) and with BuildKit. Needs: a glibc Linux host (Debian/Ubuntu), the .NET SDK of global.json,
# docker; for --python-worker also /usr/bin/python3 with python3-grpcio, python3-protobuf and python3-grpc-tools.
#
# The Python worker image holds examples/python/worker.py with its push.v1 stubs generated at build time (/app/gen),
# /usr/bin/python3 and exactly the files of the Debian packages it needs (python3-grpcio, python3-protobuf and their
# dependencies, without docs). ENTRYPOINT ["/usr/bin/python3", "/app/worker.py"]; it reads PUSH_REGISTRY and
# PUSH_SECRET and takes --listen/--advertise (charts/push/ci/custom-worker-values.yaml runs it from the chart).
#
# Prints the build time. PUSH_IMAGE_VERSION sets the version label (default: the chart's appVersion).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind=push
if [[ "${1:-}" == "--python-worker" ]]; then kind=python-worker; shift; fi
if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: deploy/build-image.sh [--python-worker] TAG   (e.g. deploy/build-image.sh registry.example.com/push/push:0.1.0)" >&2
  exit 2
fi
tag="$1"
version="${PUSH_IMAGE_VERSION:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/charts/push/Chart.yaml")}"
revision="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
command -v docker >/dev/null || { echo "build-image: docker not found (apt-get install docker.io; .ci/setup does)" >&2; exit 1; }
# No BuildKit (Debian's docker.io has no buildx): use the legacy builder, which builds this Dockerfile as well.
if ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi

started=$SECONDS
stage="$(mktemp -d "${TMPDIR:-/tmp}/push-image.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
rootfs="$stage/rootfs"
mkdir -p "$rootfs"/{app,tmp,etc,home/app,usr/bin,usr/lib,lib64}
chmod 1777 "$rootfs/tmp"
# usrmerge layout, as Debian 12: /bin, /lib -> usr/.
ln -s usr/bin "$rootfs/bin"
ln -s usr/lib "$rootfs/lib"

# copy_file SRC: copies SRC to the same path in the image, keeping symlinks (their targets too).
copy_file() {
  local f="$1"
  [[ -e "$rootfs$f" || -L "$rootfs$f" ]] && return 0
  local dir; dir="$(dirname "$f")"
  # Paths under /lib, /bin (usrmerge symlinks on the host) are stored under /usr.
  case "$dir" in /lib|/lib/*|/bin|/bin/*|/sbin|/sbin/*) dir="/usr$dir"; f="/usr$f" ;; esac
  [[ -e "$rootfs$f" || -L "$rootfs$f" ]] && return 0
  mkdir -p "$rootfs$dir"
  cp -a "$1" "$rootfs$f"
  if [[ -L "$1" ]]; then
    local target; target="$(readlink -f "$1")"
    copy_file "$target"
  fi
}
# copy_libs FILE...: the shared libraries ldd lists for each file (and the dynamic loader).
copy_libs() {
  local lib
  for lib in $(ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*[^:]$/ {print $1}' | sort -u); do
    copy_file "$lib"
  done
}
users() {
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\napp:x:1654:1654:app:/home/app:/usr/sbin/nologin\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\napp:x:1654:\n' > "$rootfs/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
}
ca_bundle() {
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/usr/lib/ssl"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
    ln -s /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/lib/ssl/cert.pem"
    ln -s /etc/ssl/certs "$rootfs/usr/lib/ssl/certs"
  fi
}

if [[ "$kind" == push ]]; then
  echo "build-image: dotnet publish services/Push.Cli"
  dotnet publish "$ROOT/services/Push.Cli/Push.Cli.csproj" --configuration Release --output "$rootfs/app" \
    -p:UseAppHost=false -p:DebugType=none --nologo --verbosity quiet
  dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
  # The runtime versions push.dll was built against (the newest installed of its major version).
  tfm_major="$(sed -n 's/.*"version": *"\([0-9]*\)\..*/\1/p' "$rootfs/app/push.runtimeconfig.json" | head -n 1)"
  mkdir -p "$rootfs/usr/share/dotnet/shared"
  cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$rootfs/usr/share/dotnet/"
  for fw in Microsoft.NETCore.App Microsoft.AspNetCore.App; do
    v="$(ls "$dotnet_root/shared/$fw" | grep "^$tfm_major\." | sort -V | tail -n 1)"
    [[ -n "$v" ]] || { echo "build-image: no $fw $tfm_major.x runtime under $dotnet_root/shared" >&2; exit 1; }
    mkdir -p "$rootfs/usr/share/dotnet/shared/$fw"
    cp -a "$dotnet_root/shared/$fw/$v" "$rootfs/usr/share/dotnet/shared/$fw/"
  done
  ln -s ../share/dotnet/dotnet "$rootfs/usr/bin/dotnet"
  # Libraries: what the runtime links, and OpenSSL, which System.Security.Cryptography.Native dlopens.
  copy_libs "$rootfs/usr/share/dotnet/dotnet" $(find "$rootfs/usr/share/dotnet" "$rootfs/app" -name '*.so')
  for l in libssl.so.3 libcrypto.so.3; do
    p="$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64|x32|AArch64|64bit/ {print $NF; exit}')"
    [[ -n "$p" ]] || p="$(ldconfig -p | awk -v l="$l" '$1 == l {print $NF; exit}')"
    [[ -n "$p" ]] || { echo "build-image: $l not found (apt-get install libssl3)" >&2; exit 1; }
    copy_file "$p"
    copy_libs "$p"
  done
  # /bin/sh and tr for the chart's $(POD_IP_DASHED) wrapper (internalTls).
  copy_file "$(readlink -f /bin/sh)"
  [[ -e "$rootfs/usr/bin/sh" ]] || ln -s "$(basename "$(readlink -f /bin/sh)")" "$rootfs/usr/bin/sh"
  copy_file "$(command -v tr)"
  copy_libs "$(readlink -f /bin/sh)" "$(command -v tr)"
  users
  ca_bundle
  dockerfile="$ROOT/deploy/push.Dockerfile"
else
  python=/usr/bin/python3
  [[ -x "$python" ]] && "$python" -c 'import grpc, google.protobuf, grpc_tools' 2>/dev/null \
    || { echo "build-image: /usr/bin/python3 with python3-grpcio, python3-protobuf and python3-grpc-tools is needed (.ci/setup installs them)" >&2; exit 1; }
  echo "build-image: generating the push.v1 Python stubs"
  cp "$ROOT/examples/python/worker.py" "$ROOT/examples/python/push_stubs.py" "$rootfs/app/"
  PUSH_PY_GEN="$rootfs/app/gen" PUSH_PROTOS="$ROOT/protos" "$python" -c \
    'import sys; sys.path.insert(0, sys.argv[1]); import push_stubs; push_stubs.ensure_stubs()' "$ROOT/examples/python"
  # The Debian packages the worker needs and everything they depend on (installed ones), minus documentation.
  # Files of "Essential" packages the interpreter does not use (coreutils, bash, ...) are left out: only these.
  packages=(python3-grpcio python3-protobuf python3.11-minimal)
  installed() { dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' "$@" 2>/dev/null | awk '$1 == "ii" {print $2}' || true; }
  closure="$(installed "${packages[@]}" | sed 's/:.*//' | sort -u)"
  while :; do
    deps="$(for p in $closure; do dpkg-query -W -f='${Depends},${Pre-Depends}\n' "$p"; done \
      | tr ',|' '\n\n' | sed -E 's/\(.*\)//; s/:any//; s/^ +//; s/ +$//' | grep -v '^$' | sort -u)"
    next="$( (echo "$closure"; for d in $deps; do installed "$d"; done) \
      | sed 's/:.*//' | grep -vxE 'debconf|dpkg|tar|perl-base|libc-bin|media-types|tzdata|readline-common|libreadline8' | sort -u)"
    [[ "$next" == "$closure" ]] && break
    closure="$next"
  done
  echo "build-image: Debian packages in the image: $(echo $closure)"
  for p in $closure; do
    dpkg -L "$p" | while read -r f; do
      [[ -f "$f" || -L "$f" ]] || continue
      case "$f" in /usr/share/doc/*|/usr/share/man/*|/usr/share/lintian/*|/usr/share/info/*|*/__pycache__/*) continue ;; esac
      copy_file "$f"
    done
  done
  copy_libs "$python" $(find "$rootfs/usr/lib" -name '*.so*' -type f)
  users
  ca_bundle
  dockerfile="$ROOT/deploy/python-worker.Dockerfile"
fi

echo "build-image: docker build $tag ($(basename "$dockerfile"), $(du -sh "$rootfs" | cut -f1))"
docker build --quiet --file "$dockerfile" --tag "$tag" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" "$stage" >/dev/null
echo "build-image: built $tag in $((SECONDS - started)) s"
