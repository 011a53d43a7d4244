"""Makes the generated push.v1 Python stubs importable.

The stubs are never checked in: they are generated from protos/ with grpc_tools.protoc into a folder that is
ignored by git (examples/python/gen/ by default, or $PUSH_PY_GEN). If that folder already holds them (CI generates
them into a temporary folder first), they are used as they are.

Run with Debian's interpreter (/usr/bin/python3) where python3-grpcio and python3-grpc-tools are installed.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS = os.environ.get("PUSH_PROTOS") or os.path.normpath(os.path.join(_HERE, "..", "..", "protos"))
GEN = os.environ.get("PUSH_PY_GEN") or os.path.join(_HERE, "gen")


def ensure_stubs():
    """Generates the stubs into GEN when they are missing or older than a .proto, and puts GEN first on sys.path."""
    marker = os.path.join(GEN, "push", "v1", "gateway_service_pb2_grpc.py")
    newest = max((os.path.getmtime(os.path.join(d, f)) for d, _, names in os.walk(PROTOS) for f in names if f.endswith(".proto")), default=0)
    if not os.path.exists(marker) or os.path.getmtime(marker) < newest:
        from grpc_tools import protoc  # python3-grpc-tools

        os.makedirs(GEN, exist_ok=True)
        # every .proto under protos/, so that vendored imports (google/api/annotations.proto) are generated too
        files = sorted(os.path.join(d, f) for d, _, names in os.walk(PROTOS) for f in names if f.endswith(".proto"))
        # the well-known types (google/protobuf/duration.proto) ship with grpc_tools
        well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        args = ["protoc", "-I", PROTOS, "-I", well_known, "--python_out=" + GEN, "--grpc_python_out=" + GEN, *files]
        if protoc.main(args) != 0:
            raise RuntimeError("grpc_tools.protoc failed for " + " ".join(files))
    if GEN not in sys.path:
        sys.path.insert(0, GEN)


def grpc_target(address):
    """'http://127.0.0.1:8283' or '127.0.0.1:8283' -> ('127.0.0.1:8283', tls?)."""
    tls = address.startswith("https://")
    for scheme in ("http://", "https://"):
        if address.startswith(scheme):
            address = address[len(scheme):]
    return address.rstrip("/"), tls


def call_metadata(secret):
    """The cluster secret travels as 'authorization: Bearer SECRET' on every call."""
    return (("authorization", "Bearer " + secret),) if secret else ()
