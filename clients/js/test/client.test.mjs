// @ts-check
// PushClient against the scripted in-process gateway (fake-gateway.mjs): the handshake, sequence numbers, acks,
// heartbeats, resume, URL rotation, sending, not-resumed and gap signalling. Every wait is on an event, bounded by a
// timeout; timers run with small intervals (heartbeat, ack, backoff) so the file takes about a second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { PushClient } from '../dist/index.js';
import { FakeGateway, connected, control, fast, messages, next, setup, until } from './fake-gateway.mjs';

/** @typedef {import('../dist/index.js').OpenEvent} OpenEvent */
/** @typedef {import('../dist/index.js').CloseEvent} CloseEvent */
/** @typedef {import('../dist/index.js').NotResumedEvent} NotResumedEvent */

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
