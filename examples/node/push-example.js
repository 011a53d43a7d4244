#!/usr/bin/env node
// Push.Grpc control API from Node: binds a connected client to a uid, adds it to a group, pushes to the group,
// to the uid and to the client's id (SendToClients), and counts the group. The contract is read from protos/ at run time (no generated code).
//
//   node push-example.js GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]
//
// GRPC_ADDRESS is a gateway's gRPC endpoint ("127.0.0.1:8283" or "http://127.0.0.1:8283"; "https://" uses TLS).
// CLIENT_ID is a connected WebSocket client (the demo worker greets each client with {"clientId":"..."}).
// Prints one JSON line per step; exits 0 when every call succeeded, 1 otherwise.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function parseArgs(argv) {
  const positional = [];
  const options = { uid: 'node-user', group: 'node-room', text: 'hello from node', secret: process.env.PUSH_CONTROL_SECRET || process.env.PUSH_SECRET || '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const key = a.slice(2);
      if (!(key in options) || i + 1 >= argv.length) {
        throw new Error(`unknown option or missing value: ${a}`);
      }
      options[key] = argv[++i];
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 2) {
    throw new Error('usage: node push-example.js GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]');
  }
  return { address: positional[0], clientId: positional[1], ...options };
}

function loadGatewayService() {
  const protos = process.env.PUSH_PROTOS || path.resolve(__dirname, '..', '..', 'protos');
  const definition = protoLoader.loadSync(path.join(protos, 'push', 'v1', 'gateway_service.proto'), {
    includeDirs: [protos],
    keepCase: false, // fields in lowerCamelCase: clientId, excludeClientIds
    longs: Number, // int64 counts as JS numbers
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).push.v1.GatewayService;
}

function connect(GatewayService, address, secret) {
  const tls = address.startsWith('https://');
  const target = address.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  let credentials = tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
  if (secret && tls) {
    const bearer = grpc.credentials.createFromMetadataGenerator((_, cb) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${secret}`);
      cb(null, md);
    });
    credentials = grpc.credentials.combineChannelCredentials(credentials, bearer);
  }
  const client = new GatewayService(target, credentials);
  // On cleartext the secret travels as plain call metadata (grpc-js refuses call credentials without TLS).
  const metadata = new grpc.Metadata();
  if (secret && !tls) {
    metadata.set('authorization', `Bearer ${secret}`);
  }
  const call = (method, request) => new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 5000);
    client[method](request, metadata, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
  return { client, call };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { client, call } = connect(loadGatewayService(), args.address, args.secret);
  const print = (step, value) => console.log(JSON.stringify({ step, ...value }));
  try {
    await call('bindUid', { clientId: args.clientId, uid: args.uid });
    print('BindUid', { clientId: args.clientId, uid: args.uid });

    await call('joinGroup', { clientId: args.clientId, group: args.group });
    print('JoinGroup', { clientId: args.clientId, group: args.group });

    const toGroup = await call('sendToGroup', { groups: [args.group], text: `${args.text} (group ${args.group})` });
    print('SendToGroup', { group: args.group, delivered: toGroup.delivered });

    const toUid = await call('sendToUid', { uids: [args.uid], text: `${args.text} (uid ${args.uid})` });
    print('SendToUid', { uid: args.uid, delivered: toUid.delivered });

    // An explicit recipient list is SendToClients (an empty list is refused); SendToAll always means everyone.
    const toClients = await call('sendToClients', { clientIds: [args.clientId], text: `${args.text} (clients)` });
    print('SendToClients', { clientIds: [args.clientId], delivered: toClients.delivered });

    const count = await call('getClientCountByGroup', { group: args.group });
    print('GetClientCountByGroup', { group: args.group, count: count.count, gatewaysAnswered: count.reach ? count.reach.gatewaysAnswered : null });
    return 0;
  } finally {
    client.close();
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => {
    // A gRPC error carries its status code name and message; the gateway adds google.rpc.ErrorInfo details.
    const status = err && err.code !== undefined ? ` (${grpc.status[err.code] || err.code})` : '';
    console.error(`push-example: ${err && err.details ? err.details : err}${status}`);
    process.exitCode = 1;
  },
);
