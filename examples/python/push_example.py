#!/usr/bin/python3
"""Push.Grpc control API from Python: binds a connected client to a uid, adds it to a group, pushes to the group,
to the uid and to the client's id (SendToClients), and counts the group.

    /usr/bin/python3 examples/python/push_example.py GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]

GRPC_ADDRESS is a gateway's gRPC endpoint ("127.0.0.1:8283" or "http://127.0.0.1:8283"; "https://" uses TLS).
CLIENT_ID is a connected WebSocket client (the demo worker greets each client with {"clientId":"..."}).
Prints one JSON line per step; exits 0 when every call succeeded, 1 otherwise.
"""

import argparse
import json
import os
import sys

import push_stubs

push_stubs.ensure_stubs()

import grpc  # noqa: E402  (python3-grpcio)
from push.v1 import gateway_service_pb2 as gw  # noqa: E402
from push.v1 import gateway_service_pb2_grpc as gw_grpc  # noqa: E402


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("address")
    p.add_argument("client_id")
    p.add_argument("--uid", default="python-user")
    p.add_argument("--group", default="python-room")
    p.add_argument("--text", default="hello from python")
    p.add_argument("--secret", default=os.environ.get("PUSH_CONTROL_SECRET") or os.environ.get("PUSH_SECRET", ""))
    a = p.parse_args(argv)

    target, tls = push_stubs.grpc_target(a.address)
    channel = grpc.secure_channel(target, grpc.ssl_channel_credentials()) if tls else grpc.insecure_channel(target)
    stub = gw_grpc.GatewayServiceStub(channel)
    md = push_stubs.call_metadata(a.secret)

    def out(step, **fields):
        print(json.dumps({"step": step, **fields}), flush=True)

    try:
        stub.BindUid(gw.BindUidRequest(client_id=a.client_id, uid=a.uid), metadata=md, timeout=5)
        out("BindUid", clientId=a.client_id, uid=a.uid)

        stub.JoinGroup(gw.JoinGroupRequest(client_id=a.client_id, group=a.group), metadata=md, timeout=5)
        out("JoinGroup", clientId=a.client_id, group=a.group)

        r = stub.SendToGroup(gw.SendToGroupRequest(groups=[a.group], text=f"{a.text} (group {a.group})"), metadata=md, timeout=5)
        out("SendToGroup", group=a.group, delivered=r.delivered)

        r = stub.SendToUid(gw.SendToUidRequest(uids=[a.uid], text=f"{a.text} (uid {a.uid})"), metadata=md, timeout=5)
        out("SendToUid", uid=a.uid, delivered=r.delivered)

        # An explicit recipient list is SendToClients (an empty list is refused); SendToAll always means everyone.
        r = stub.SendToClients(gw.SendToClientsRequest(client_ids=[a.client_id], text=f"{a.text} (clients)"), metadata=md, timeout=5)
        out("SendToClients", clientIds=[a.client_id], delivered=r.delivered)

        r = stub.GetClientCountByGroup(gw.GetClientCountByGroupRequest(group=a.group), metadata=md, timeout=5)
        out("GetClientCountByGroup", group=a.group, count=r.count, gatewaysAnswered=r.reach.gateways_answered)
        return 0
    except grpc.RpcError as e:
        print(f"push_example: {e.details()} ({e.code().name})", file=sys.stderr)
        return 1
    finally:
        channel.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
