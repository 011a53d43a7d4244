// @ts-check
// dist/push-client.js (the browser build, one file) exports what dist/index.js does and works on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import * as modular from '../dist/index.js';
import * as bundle from '../dist/push-client.js';
import { FakeGateway, messages } from './fake-gateway.mjs';

test('the single-file build has the same exports and no imports', () => {
  assert.deepEqual(Object.keys(bundle).sort(), Object.keys(modular).sort());
  const source = readFileSync(new URL('../dist/push-client.js', import.meta.url), 'utf8');
  assert.doesNotMatch(source, /^\s*import\s/m);
});

test('the single-file build connects and receives', async (t) => {
  const gw = await FakeGateway.start();
  const client = new bundle.PushClient({ url: gw.url, WebSocket });
  t.after(async () => {
    await client.close();
    await gw.stop();
  });
  const open = await client.connect();
  const got = messages(/** @type {any} */ (client), 1);
  gw.push(open.clientId, 'from the bundle');
  assert.deepEqual((await got).map((m) => [m.seq, m.data]), [[1, 'from the bundle']]);
});
