#!/usr/bin/env node
// Push.Bench's Node backend: pushes the way most backends do, one unary call per message, with @grpc/grpc-js.
// Started by the benchmark driver; reads one JSON command per line on stdin and answers one JSON line per command:
//   {"id":1,"target":"127.0.0.1:5001","op":"all"|"group","group":"bench","count":500,"inflight":32,"seq":0,"secret":""}
//   -> {"id":1,"ok":500,"errors":0,"firstError":null,"seconds":0.41}
// Every message is the benchmark's 64-byte timed payload, "ts=<16 hex ticks>;s=<8 hex seq>;xxx...", where the ticks
// are process.hrtime.bigint() (CLOCK_MONOTONIC in ns: the same clock and unit as .NET's Stopwatch on Linux), taken
// just before the call is made. One channel per target, kept for the life of the process (warm).
'use strict';

const path = require('node:path');
const readline = require('node:readline');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const protos = process.env.PUSH_PROTOS || path.resolve(__dirname, '..', '..', 'protos');
const definition = protoLoader.loadSync(path.join(protos, 'push', 'v1', 'gateway_service.proto'), {
  includeDirs: [protos], keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true,
});
const GatewayService = grpc.loadPackageDefinition(definition).push.v1.GatewayService;
const clients = new Map();
const PAD = 'x'.repeat(33);

function payload(seq) {
  const ticks = process.hrtime.bigint().toString(16).padStart(16, '0');
  return `ts=${ticks};s=${(seq >>> 0).toString(16).padStart(8, '0')};${PAD}`;
}

function client(target) {
  let c = clients.get(target);
  if (!c) {
    c = new GatewayService(target.replace(/^https?:\/\//, '').replace(/\/+$/, ''), grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 << 20,
      'grpc.max_receive_message_length': 64 << 20,
    });
    clients.set(target, c);
  }
  return c;
}

async function run(cmd) {
  const c = client(cmd.target);
  const metadata = new grpc.Metadata();
  if (cmd.secret) {
    metadata.set('authorization', `Bearer ${cmd.secret}`);
  }
  const method = cmd.op === 'group' ? 'sendToGroup' : 'sendToAll';
  let next = 0;
  let ok = 0;
  let errors = 0;
  let firstError = null;
  const started = process.hrtime.bigint();
  const one = (seq) => new Promise((resolve) => {
    const text = payload(seq);
    const request = cmd.op === 'group' ? { groups: [cmd.group], text } : { text };
    c[method](request, metadata, { deadline: new Date(Date.now() + 30000) }, (err) => {
      if (err) {
        errors++;
        firstError = firstError || `${grpc.status[err.code] || err.code}: ${err.details}`;
      } else {
        ok++;
      }
      resolve();
    });
  });
  const worker = async () => {
    while (next < cmd.count) {
      const i = next++;
      await one((cmd.seq || 0) + i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cmd.inflight || 32, cmd.count)) }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { id: cmd.id, ok, errors, firstError, seconds };
}

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) {
    return;
  }
  queue = queue.then(async () => {
    let answer;
    try {
      answer = await run(JSON.parse(line));
    } catch (err) {
      answer = { ok: 0, errors: 1, firstError: String(err && err.message ? err.message : err), seconds: 0 };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  });
});
rl.on('close', () => {
  queue.then(() => {
    for (const c of clients.values()) {
      c.close();
    }
    process.exit(0);
  });
});
