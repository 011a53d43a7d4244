// @ts-check
// PushClient against the scripted in-process gateway: which closes reconnect, close(), protocol errors, options
// (token, resume, timeouts, reconnect: false) and listeners that change the client from inside an event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { PushClient } from '../dist/index.js';
import { FakeGateway, connected, control, fast, messages, next, setup } from './fake-gateway.mjs';

/** @typedef {import('../dist/index.js').OpenEvent} OpenEvent */
/** @typedef {import('../dist/index.js').CloseEvent} CloseEvent */
/** @typedef {import('../dist/index.js').NotResumedEvent} NotResumedEvent */

for (const code of [1000, 1002, 1008, 4003]) {
  test(`a server close with ${code} ends the client for good`, async (t) => {
    const { gw, client } = await setup(t);
    const { id } = await connected(client);
    const closed = next(client, 'close');
    gw.close(id, code, 'bye');
    const close = /** @type {CloseEvent} */ (await closed);
    assert.deepEqual(close, { code, reason: 'bye', willReconnect: false });
    assert.equal(client.state, 'closed', 'no reconnect scheduled');
    assert.equal(client.resumeState, null, 'nothing to resume: the gateway released it');
  });
}

for (const code of [1001, 1011, 1012, 1013, 4000, 4001]) {
  test(`a server close with ${code} reconnects and resumes`, async (t) => {
    const { gw, client } = await setup(t);
    const { id } = await connected(client);
    const closed = next(client, 'close');
    const reopened = next(client, 'open');
    gw.close(id, code, 'later');
    assert.equal((/** @type {CloseEvent} */ (await closed)).willReconnect, true);
    const open = /** @type {OpenEvent} */ (await reopened);
    assert.equal(open.resumed, true);
    assert.equal(open.clientId, id);
  });
}

test('close() sends {"type":"close"} then closes with 1000, and never reconnects', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  const controlMessage = next(gw, 'control');
  const serverSaw = next(gw, 'clientClose');
  const closed = next(client, 'close');
  const done = client.close();
  assert.deepEqual((await controlMessage).message, { type: 'close' });
  assert.deepEqual(await serverSaw, { clientId: id, code: 1000, reason: 'client closed' });
  assert.deepEqual(await closed, { code: 1000, reason: 'closed by the application', willReconnect: false });
  await done;
  assert.equal(client.state, 'closed');
  assert.equal(gw.conns.get(id)?.released, true);
  assert.equal(client.send('x'), false);
});

test('close() before the welcome rejects connect()', async (t) => {
  const { client } = await setup(t);
  const opening = client.connect();
  await client.close();
  await assert.rejects(opening, /closed/);
});

test('frames that break the protocol drop the socket (4002) and the client resumes', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  /** @type {string[]} */
  const errors = [];
  client.on('error', (e) => errors.push(e.message));
  for (const bad of [Buffer.from([0x02, 1]), Buffer.from([0x01, 0x7b]), Buffer.alloc(0)]) {
    const closed = next(client, 'close');
    const reopened = next(client, 'open');
    gw.sendRaw(id, bad);
    assert.equal((/** @type {CloseEvent} */ (await closed)).code, 4002);
    assert.equal((/** @type {OpenEvent} */ (await reopened)).resumed, true);
  }
  assert.equal(errors.length, 3, errors.join('\n'));
  assert.match(errors[0] ?? '', /first byte 0x02/);
});

test('unknown control types are ignored', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  const got = messages(client, 1);
  gw.sendRaw(id, control({ type: 'from_the_future', x: 1 }));
  gw.push(id, 'still here');
  assert.deepEqual((await got).map((m) => [m.seq, m.data]), [[1, 'still here']]);
  assert.equal(client.state, 'open');
});

test('a server that does not choose push.v1 is an error, and the client keeps trying', async (t) => {
  const { gw, client } = await setup(t);
  gw.acceptProtocol = false;
  const error = next(client, 'error');
  const reconnecting = next(client, 'reconnecting');
  void client.connect();
  assert.match((/** @type {Error} */ (await error)).message, /failed/);
  assert.equal((/** @type {{ attempt: number }} */ (await reconnecting)).attempt, 1);
  assert.equal(client.state === 'waiting' || client.state === 'connecting', true);
});

test('the token goes in the query of every attempt', async (t) => {
  let calls = 0;
  const { gw, client } = await setup(t, { token: () => `tok ${++calls}` });
  const { id } = await connected(client);
  const reopened = next(client, 'open');
  gw.drop(id);
  await reopened;
  assert.deepEqual(gw.handshakes.map((h) => h.url), ['/?token=tok%201', '/?token=tok%202']);
});

test('a URL with a query gets &token=, with a custom parameter name', async (t) => {
  const gw = await FakeGateway.start();
  const client = new PushClient({ url: gw.url + '?room=1', WebSocket, token: 'abc', tokenParam: 'jwt' });
  t.after(async () => {
    await client.close();
    await gw.stop();
  });
  await client.connect();
  assert.equal(gw.handshakes[0]?.url, '/?room=1&jwt=abc');
});

test('the resume option resumes a connection of an earlier client (a page reload)', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  const got = messages(client, 1);
  gw.push(id, 'before reload');
  await got;
  const saved = client.resumeState;
  assert.ok(saved);
  gw.drop(id); // the page goes away
  await client.close();
  const conn = gw.conns.get(id);
  assert.ok(conn);
  conn.released = false; // close() told the fake gateway to release; a reload would not have
  gw.push(id, 'while reloading');
  const second = new PushClient({ url: gw.url, WebSocket, resume: saved });
  t.after(() => second.close());
  const later = messages(second, 1);
  const open = await second.connect();
  assert.equal(open.resumed, true);
  assert.equal(open.clientId, id);
  assert.deepEqual((await later).map((m) => [m.seq, m.data]), [[2, 'while reloading']]);
});

test('no welcome within connectTimeoutMs: the attempt is dropped and retried', async (t) => {
  const { gw, client } = await setup(t, { connectTimeoutMs: 100 });
  gw.tweakWelcome = () => ({ type: 'not_a_welcome' });
  const error = next(client, 'error');
  void client.connect();
  assert.match((/** @type {Error} */ (await error)).message, /4004: no welcome within 100 ms/);
  gw.tweakWelcome = null;
  await next(client, 'open');
});

test('reconnect: false ends at a drop but keeps the resume state for a later connect()', async (t) => {
  const { gw, client } = await setup(t, { reconnect: false });
  const { id } = await connected(client);
  const closed = next(client, 'close');
  gw.drop(id);
  assert.equal((/** @type {CloseEvent} */ (await closed)).willReconnect, false);
  assert.equal(client.state, 'closed');
  assert.equal(client.resumeState?.clientId, id);
  const open = await client.connect();
  assert.equal(open.resumed, true);
});

test('a URL the WebSocket constructor refuses ends the client at once (no retry loop)', async (t) => {
  const client = new PushClient({ url: 'not a url', WebSocket, reconnect: fast });
  t.after(() => client.close());
  const closed = next(client, 'close');
  await assert.rejects(client.connect(), /ended for good/);
  const close = /** @type {CloseEvent} */ (await closed);
  assert.equal(close.willReconnect, false);
  assert.match(close.reason, /could not create the WebSocket for not a url/);
  assert.equal(client.state, 'closed');
});

test('connect() from a close listener after a final close starts a fresh connection', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  /** @type {Promise<OpenEvent> | null} */
  let again = null;
  client.once('close', () => { again = client.connect(); });
  const closed = next(client, 'close');
  gw.close(id, 1000, 'bye');
  await closed;
  assert.ok(again);
  const open = await /** @type {Promise<OpenEvent>} */ (again);
  assert.notEqual(open.clientId, id);
  assert.equal(open.resumed, false);
  assert.deepEqual(gw.handshakes.at(-1)?.protocols, ['push.v1'], 'nothing to resume after a 1000');
});

test('close() from a close listener stops the reconnect', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  /** @type {boolean[]} */
  const closes = [];
  client.on('close', (e) => closes.push(e.willReconnect));
  client.once('close', () => { void client.close(); });
  /** @type {unknown[]} */
  const reconnecting = [];
  client.on('reconnecting', (e) => reconnecting.push(e));
  const closed = next(client, 'close');
  gw.drop(id);
  await closed;
  assert.equal(client.state, 'closed');
  assert.deepEqual(closes, [true, false], 'the drop, then the end for good from close()');
  assert.deepEqual(reconnecting, [], 'no retry was scheduled');
});

test('a listener removed by an earlier one in the same emit is not called', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  let second = 0;
  let offSecond = () => {};
  client.once('message', () => offSecond());
  offSecond = client.on('message', () => { second += 1; });
  const got = messages(client, 2);
  gw.push(id, 'a');
  gw.push(id, 'b');
  await got;
  assert.equal(second, 0, 'removed by the first listener before its turn');
});
