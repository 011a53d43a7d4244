// @ts-check
// PushClient against the scripted in-process gateway (fake-gateway.mjs). Every wait is on an event, bounded by a
// timeout; timers run with small intervals (heartbeat, ack, backoff) so the whole file takes a few seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { PushClient } from '../dist/index.js';
import { FakeGateway, control, messages, next, until } from './fake-gateway.mjs';

/** @typedef {import('../dist/index.js').OpenEvent} OpenEvent */
/** @typedef {import('../dist/index.js').CloseEvent} CloseEvent */
/** @typedef {import('../dist/index.js').NotResumedEvent} NotResumedEvent */

const fast = { minDelayMs: 5, maxDelayMs: 20 };

/**
 * A fake gateway and a client of it, both ended after the test.
 * @param {import('node:test').TestContext} t @param {Partial<import('../dist/index.js').PushClientOptions>} [options]
 */
async function setup(t, options = {}) {
  const gw = await FakeGateway.start();
  const client = new PushClient({ url: gw.url, WebSocket, reconnect: fast, ...options });
  t.after(async () => {
    await client.close();
    await gw.stop();
  });
  return { gw, client };
}

/** Connects and returns the open event and the connection's id. @param {PushClient} client */
async function connected(client) {
  const open = await client.connect();
  return { open, id: open.clientId };
}

test('the first connect offers push.v1 alone and reports the welcome', async (t) => {
  const { gw, client } = await setup(t);
  const { open } = await connected(client);
  assert.deepEqual(gw.handshakes.map((h) => h.protocols), [['push.v1']]);
  assert.match(open.clientId, /^[0-9a-f]{40}$/);
  assert.equal(open.resumed, false);
  assert.equal(open.resumeFailed, undefined);
  assert.equal(open.seq, 0);
  assert.equal(open.heartbeatMs, 25000, 'heartbeat_ms of the welcome');
  assert.equal(open.ackIntervalMs, 250, 'ack_interval_ms of the welcome');
  assert.equal(open.resumeWindowMs, 120000);
  assert.equal(client.clientId, open.clientId);
  assert.equal(client.state, 'open');
  assert.equal((await client.connect()).clientId, open.clientId, 'connect() while open resolves at once');
});

test('application frames are counted: text and binary (prefix removed) get seq 1, 2, 3', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  const got = messages(client, 3);
  gw.push(id, 'one');
  gw.push(id, new Uint8Array([1, 2, 3]));
  gw.sendRaw(id, control({ type: 'pong' })); // control frames do not count
  gw.push(id, 'three');
  const [a, b, c] = await got;
  assert.deepEqual([a?.seq, b?.seq, c?.seq], [1, 2, 3]);
  assert.equal(a?.data, 'one');
  assert.ok(b?.data instanceof Uint8Array);
  assert.deepEqual([...b.data], [1, 2, 3]);
  assert.equal(c?.data, 'three');
  assert.equal(client.lastSeq, 3);
});

test('acks are cumulative and batched: one per interval, at least every 256 messages', async (t) => {
  const { gw, client } = await setup(t, { ackIntervalMs: 40 });
  const { id } = await connected(client);
  for (let i = 1; i <= 3; i++) gw.push(id, `m${i}`);
  const first = await next(gw, 'ack');
  assert.equal(first.seq, 3, 'three messages, one ack');
  gw.push(id, 'm4');
  assert.equal((await next(gw, 'ack')).seq, 4);
  assert.equal(gw.acks.length, 2);

  // A burst: the 256 rule acks within it, the interval acks its end.
  const burst = 1000;
  for (let i = 0; i < burst; i++) gw.push(id, `b${i}`);
  await until(gw, 'ack', () => gw.acks.at(-1)?.seq === 4 + burst);
  const seqs = gw.acks.map((a) => a.seq);
  for (let i = 1; i < seqs.length; i++) {
    assert.ok(seqs[i] > seqs[i - 1], `acks increase: ${seqs}`);
    assert.ok(seqs[i] - seqs[i - 1] <= 256, `at most 256 messages between acks: ${seqs}`);
  }
  assert.ok(seqs.length <= 2 + Math.ceil(burst / 256) + 3, `few acks for ${burst} messages: ${seqs}`);
  assert.equal(gw.conns.get(id)?.tail.length, 0, 'the gateway freed everything');
});

test('pings every heartbeatMs; nothing received for 2 x heartbeat drops (4000) and resumes', async (t) => {
  const { gw, client } = await setup(t, { heartbeatMs: 30 });
  const { id } = await connected(client);
  await until(gw, 'ping', () => gw.pings >= 3);
  assert.equal(client.state, 'open', 'pongs keep it alive');
  gw.silent = true;
  const close = /** @type {CloseEvent} */ (await next(client, 'close'));
  assert.equal(close.code, 4000);
  assert.equal(close.willReconnect, true);
  const open = /** @type {OpenEvent} */ (await next(client, 'open'));
  assert.equal(open.resumed, true);
  assert.equal(open.clientId, id);
});

test('after an abrupt drop the client resumes with push.resume.<id>.<secret>.<lastSeq>; what was pushed meanwhile follows', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  const before = messages(client, 2);
  gw.push(id, 'a');
  gw.push(id, 'b');
  await before;
  const closed = next(client, 'close');
  const reopened = next(client, 'open');
  const after = messages(client, 3);
  gw.drop(id);
  gw.push(id, 'c'); // while away
  gw.push(id, 'd');
  const close = /** @type {CloseEvent} */ (await closed);
  assert.equal(close.code, 1006);
  assert.equal(close.willReconnect, true);
  const open = /** @type {OpenEvent} */ (await reopened);
  assert.equal(open.resumed, true);
  assert.equal(open.seq, 2);
  const secret = gw.conns.get(id)?.secret;
  assert.match(secret ?? '', /^[0-9a-f]{32}$/);
  assert.deepEqual(gw.handshakes[1]?.protocols, ['push.v1', `push.resume.${id}.${secret}.2`]);
  gw.push(id, 'e'); // live again
  assert.deepEqual((await after).map((m) => [m.seq, m.data]), [[3, 'c'], [4, 'd'], [5, 'e']]);
});

test('a URL list is tried in turn: after a drop the next URL first, failed attempts move on too', async (t) => {
  const a = await FakeGateway.start();
  const b = await FakeGateway.start();
  const dead = await FakeGateway.start();
  const deadUrl = dead.url;
  await dead.stop();
  const client = new PushClient({ url: [a.url, deadUrl, b.url], WebSocket, reconnect: fast });
  t.after(async () => {
    await client.close();
    await a.stop();
    await b.stop();
  });
  /** @type {string[]} */
  const errors = [];
  client.on('error', (e) => errors.push(e.message));
  const { id } = await connected(client);
  assert.equal(a.handshakes.length, 1);
  const reopened = next(client, 'open');
  a.drop(id);
  const open = /** @type {OpenEvent} */ (await reopened);
  assert.equal(b.handshakes.length, 1, 'went to b after the dead URL');
  assert.ok(errors.some((m) => m.includes(deadUrl)), `the failed attempt was reported: ${errors}`);
  assert.equal(b.handshakes[0]?.resume?.clientId, id, 'b was asked to resume');
  assert.equal(open.resumed, false, 'b does not know the connection');
  const back = next(client, 'open');
  b.drop(open.clientId);
  await back;
  assert.equal(a.handshakes.length, 2, 'then a again');
});

test('send: text as text, bytes with the 0x00 prefix; false when not connected', async (t) => {
  const { gw, client } = await setup(t);
  assert.equal(client.send('too early'), false);
  await connected(client);
  const got = until(gw, 'message', () => gw.received.length === 4);
  assert.equal(client.send('hi'), true);
  assert.equal(client.send(new Uint8Array([7, 8, 9])), true);
  assert.equal(client.send(new Uint8Array([0, 1, 2, 3, 4]).subarray(2, 4)), true);
  assert.equal(client.send(new Uint8Array([0xff]).buffer), true);
  await got;
  const r = gw.received;
  assert.deepEqual(r.map((m) => m.binary), [false, true, true, true]);
  assert.equal(r[0]?.data, 'hi');
  assert.deepEqual([...(/** @type {Buffer} */ (r[1]?.data))], [7, 8, 9]);
  assert.deepEqual([...(/** @type {Buffer} */ (r[2]?.data))], [2, 3]);
  assert.deepEqual([...(/** @type {Buffer} */ (r[3]?.data))], [0xff]);
});

test('not resumed: notResumed with the reason, then open with a new identity; seq starts again', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  const got = messages(client, 2);
  gw.push(id, 'x');
  gw.push(id, 'y');
  await got;
  gw.failResumes = 'expired';
  /** @type {string[]} */
  const order = [];
  client.on('notResumed', () => order.push('notResumed'));
  client.on('open', () => order.push('open'));
  const notResumed = next(client, 'notResumed');
  const reopened = next(client, 'open');
  gw.drop(id);
  const n = /** @type {NotResumedEvent} */ (await notResumed);
  const open = /** @type {OpenEvent} */ (await reopened);
  assert.deepEqual(order, ['notResumed', 'open']);
  assert.equal(n.reason, 'expired');
  assert.equal(n.previousClientId, id);
  assert.equal(n.previousLastSeq, 2);
  assert.equal(n.clientId, open.clientId);
  assert.notEqual(open.clientId, id);
  assert.equal(open.resumed, false);
  assert.equal(open.resumeFailed, 'expired');
  assert.equal(client.lastSeq, 0);
  const fresh = messages(client, 1);
  gw.push(open.clientId, 'z');
  assert.deepEqual((await fresh).map((m) => m.seq), [1]);
});

test('a welcome that says resumed at another seq is a gap: reported, and not resumed', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  const got = messages(client, 1);
  gw.push(id, 'x');
  await got;
  gw.tweakWelcome = (w) => ({ ...w, seq: 5 });
  const gap = next(client, 'gap');
  const notResumed = next(client, 'notResumed');
  const reopened = next(client, 'open');
  gw.drop(id);
  assert.deepEqual(await gap, { expectedSeq: 1, welcomeSeq: 5, expectedClientId: id, welcomeClientId: id });
  assert.equal((/** @type {NotResumedEvent} */ (await notResumed)).reason, 'gap');
  const open = /** @type {OpenEvent} */ (await reopened);
  assert.equal(open.resumed, false);
  assert.equal(open.resumeFailed, 'gap');
  assert.equal(client.lastSeq, 5, 'counting goes on from the welcome');
});

test('resume_lost is reported and the client is no longer resumable', async (t) => {
  const { gw, client } = await setup(t);
  const { id } = await connected(client);
  assert.equal(client.resumable, true);
  const lost = next(client, 'resumeLost');
  gw.sendRaw(id, control({ type: 'resume_lost', reason: 'tail full' }));
  assert.deepEqual(await lost, { reason: 'tail full' });
  assert.equal(client.resumable, false);
});

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
