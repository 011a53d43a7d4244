#!/usr/bin/python3
"""A Push.Grpc business worker in Python: serves push.v1.BusinessService/StreamEvents and registers with the registry.

    /usr/bin/python3 examples/python/worker.py --registry http://127.0.0.1:8283 [--listen 127.0.0.1:0]
        [--advertise http://HOST:PORT] [--secret S] [--lease-ttl 5]

Every gateway of the cluster finds this worker in the registry (role MEMBER_ROLE_WORKER) and opens one
StreamEvents stream to it. On that stream the worker receives batches of connection events and answers with
batches of commands for that gateway's clients. This one:
  - greets each new client with {"hello":"from python","clientId":"..."},
  - answers {"type":"join","group":"g"} by adding the client to the group (JoinGroupCommand),
  - answers {"type":"bind","uid":"u"} by binding the client to the uid (BindUidCommand),
  - echoes any other text upper-cased and any binary as it is (SendCommand), text followed by " (redelivered)" when
    the gateway redelivered the message (Event.redelivered: a worker that had it died before acknowledging it).
It acknowledges what it handled (StreamEventsResponse.ack, cumulative: a protocol requirement; a worker that never
acknowledges fills the gateway's Gateway:WorkerQueueBytes for its stream and the clients routed to it are held back),
once per batch, with the batch's commands. It skips a redelivered event it handled itself already (same client id,
Event.seq not above the last one handled), keeps a client that resumed (ResumeEvent carries the full session) and
forgets one that moved to another gateway (MovedEvent) without treating it as closed.
It prints "worker: listening on ADDRESS" and "worker: registered ID" on stdout.
"""

import argparse
import json
import os
import hmac
import secrets
import signal
import sys
import threading
from concurrent import futures

import push_stubs

push_stubs.ensure_stubs()

import grpc  # noqa: E402  (python3-grpcio)
from google.protobuf import duration_pb2  # noqa: E402
from push.v1 import business_service_pb2 as biz  # noqa: E402
from push.v1 import business_service_pb2_grpc as biz_grpc  # noqa: E402
from push.v1 import registry_service_pb2 as reg  # noqa: E402
from push.v1 import registry_service_pb2_grpc as reg_grpc  # noqa: E402


HANDLED_LIMIT = 100_000  # clients whose last handled Event.seq is kept for de-duplication


def log(text):
    print("worker: " + text, flush=True)


def send(client_id, text):
    return biz.Command(client_id=client_id, send=biz.SendCommand(text=text))


class Events(biz_grpc.BusinessServiceServicer):
    """The business logic: one call of StreamEvents per gateway, for as long as the gateway lives."""

    def __init__(self, secret):
        # Every value of a comma-separated PUSH_SECRET ("new,old" during a rotation) is accepted.
        self._accepted = ["Bearer " + s.strip() for s in secret.split(",") if s.strip()]
        # client id -> last Event.seq handled and answered, over every stream (a redelivery may come on another one);
        # a client's entry goes with its close or its move, the oldest beyond HANDLED_LIMIT (clients that went elsewhere)
        self._handled = {}
        self._handled_lock = threading.Lock()

    def already_handled(self, event):
        with self._handled_lock:
            return event.redelivered and event.seq != 0 and self._handled.get(event.client_id, 0) >= event.seq

    def record(self, done):
        """The answer to these events was handed to gRPC: remember their sequences (a closed client is forgotten)."""
        with self._handled_lock:
            for cid, seq, gone in done:
                if gone:
                    self._handled.pop(cid, None)
                elif seq > self._handled.get(cid, 0):
                    self._handled[cid] = seq
            while len(self._handled) > HANDLED_LIMIT:
                self._handled.pop(next(iter(self._handled)))

    def StreamEvents(self, request_iterator, context):
        sent = [v for k, v in context.invocation_metadata() if k == "authorization"]
        if self._accepted and not any(hmac.compare_digest(v, a) for v in sent for a in self._accepted):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong 'authorization: Bearer <secret>'")
        # The gateway waits for the response headers before it routes clients here: send them at once.
        context.send_initial_metadata(())
        gateway = "?"
        clients = {}  # client id -> {"uid": ..., "session": {...}} as the gateway last sent them
        received = 0  # events read on this stream: the gateway numbers them the same way, from 1
        for batch in request_iterator:
            if batch.gateway_id:
                gateway = batch.gateway_id
                log(f"stream from gateway {gateway} ({batch.gateway_address}) is open")
            commands = []
            done = []
            for event in batch.events:
                received += 1
                cid = event.client_id
                kind = event.WhichOneof("kind")
                done.append((cid, event.seq, kind in ("close", "moved")))
                if kind == "moved":
                    clients.pop(cid, None)  # it lives on another gateway now; nothing closed
                    continue
                if self.already_handled(event):
                    continue  # acknowledged below without answering twice
                # a resume may be the first event of a client on this stream (it came from another gateway)
                state = clients.setdefault(cid, {"uid": "", "session": {}})
                state["uid"] = event.uid
                if event.HasField("session"):
                    state["session"] = dict(event.session.values)
                if kind == "connect":
                    commands.append(send(cid, json.dumps({"hello": "from python", "clientId": cid}, separators=(",", ":"))))
                elif kind == "message":
                    commands.extend(self.on_message(cid, event.message, event.redelivered))
                elif kind == "resume":
                    log(f"client {cid} resumed from gateway {event.resume.from_gateway_id or gateway} after {event.resume.away_ms} ms")
                elif kind == "close":
                    clients.pop(cid, None)
            # Every event of the batch was handled: one message carries the answers and the cumulative ack.
            if commands or done:
                yield biz.StreamEventsResponse(commands=commands, ack=received)
                self.record(done)
        log(f"stream from gateway {gateway} ended")

    @staticmethod
    def on_message(cid, message, redelivered=False):
        if message.WhichOneof("data") == "binary":
            return [biz.Command(client_id=cid, send=biz.SendCommand(binary=message.binary))]
        text = message.text
        if text.startswith("{"):
            try:
                cmd = json.loads(text)
            except ValueError:
                cmd = None
            if isinstance(cmd, dict) and cmd.get("type") == "join" and cmd.get("group"):
                return [
                    biz.Command(client_id=cid, join_group=biz.JoinGroupCommand(group=cmd["group"])),
                    send(cid, json.dumps({"joined": cmd["group"]})),
                ]
            if isinstance(cmd, dict) and cmd.get("type") == "bind" and cmd.get("uid"):
                return [biz.Command(client_id=cid, bind_uid=biz.BindUidCommand(uid=cmd["uid"]))]
        return [send(cid, text.upper() + (" (redelivered)" if redelivered else ""))]


class Membership(threading.Thread):
    """Registers with one registry and renews the lease every lease/4; re-registers when the registry forgot us."""

    def __init__(self, registry, member, secret, stop):
        super().__init__(daemon=True, name="registry " + registry)
        target, tls = push_stubs.grpc_target(registry)
        self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials()) if tls else grpc.insecure_channel(target)
        self._stub = reg_grpc.RegistryServiceStub(self._channel)
        self._registry = registry
        self._member = member
        self._md = push_stubs.call_metadata(secret.split(",")[0].strip())  # the first value is the current one
        self._token = ""  # the lease token the registry returned: KeepAlive and Deregister need it
        self._stop = stop
        self.registered = threading.Event()

    def _register(self):
        r = self._stub.Register(reg.RegisterRequest(member=self._member, lease_token=self._token), metadata=self._md, timeout=2)
        self._token = r.lease_token
        if not self.registered.is_set():
            log(f"registered {self._member.id} as {self._member.address} with {self._registry}")
            self.registered.set()
        return r.lease_ttl.ToTimedelta().total_seconds()

    def run(self):
        lease = None
        while not self._stop.is_set():
            try:
                if lease is None:
                    lease = self._register()
                else:
                    try:
                        lease = self._stub.KeepAlive(reg.KeepAliveRequest(id=self._member.id, lease_token=self._token), metadata=self._md, timeout=2).lease_ttl.ToTimedelta().total_seconds()
                    except grpc.RpcError as e:
                        if e.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                            raise
                        lease = self._register()  # the registry restarted or our lease lapsed
                self._stop.wait(max(lease / 4, 0.1))
            except grpc.RpcError as e:
                log(f"registry {self._registry} unreachable ({e.code().name}); retrying in 1 s")
                lease = None
                self._stop.wait(1)

    def deregister(self):
        try:
            self._stub.Deregister(reg.DeregisterRequest(id=self._member.id, lease_token=self._token), metadata=self._md, timeout=2)
        except grpc.RpcError:
            pass  # the lease lapses anyway
        self._channel.close()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--registry", action="append", default=[], help="registry gRPC URL (repeatable); default $PUSH_REGISTRY")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to serve BusinessService on (port 0: any free port)")
    p.add_argument("--advertise", default="", help="address the gateways use to reach this worker (default http://LISTEN)")
    p.add_argument("--secret", default=os.environ.get("PUSH_SECRET", ""))
    p.add_argument("--lease-ttl", type=float, default=5.0, help="lease time to live in seconds")
    a = p.parse_args(argv)
    registries = a.registry or [r for r in os.environ.get("PUSH_REGISTRY", "").split(",") if r]
    if not registries:
        p.error("--registry is required (or set PUSH_REGISTRY)")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))  # one thread per open gateway stream
    biz_grpc.add_BusinessServiceServicer_to_server(Events(a.secret), server)
    host = a.listen.rsplit(":", 1)[0]
    port = server.add_insecure_port(a.listen)
    if port == 0:
        log(f"cannot listen on {a.listen}")
        return 1
    server.start()
    advertise = a.advertise or f"http://{host}:{port}"
    log(f"listening on {advertise}")

    member = reg.Member(
        id=secrets.token_hex(8),
        role=reg.MEMBER_ROLE_WORKER,
        address=advertise,
        lease_ttl=duration_pb2.Duration(seconds=int(a.lease_ttl), nanos=int((a.lease_ttl % 1) * 1e9)),
        metadata={"lang": "python"},
    )
    stop = threading.Event()
    loops = [Membership(r, member, a.secret, stop) for r in registries]
    for loop in loops:
        loop.start()

    def on_signal(signum, _frame):
        log(f"signal {signum}: deregistering and stopping")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(1):
        pass
    for loop in loops:
        loop.deregister()
    server.stop(grace=5).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
