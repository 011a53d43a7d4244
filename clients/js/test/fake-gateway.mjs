// @ts-check
// A scripted in-process gateway speaking push.v1 (docs/protocol-push-v1.md) over `ws`, for the SDK's unit tests:
// welcome, implicit sequence numbers, retained tail until acked, resume by token, pong, close for good. Tests
// script it (push, drop, close with a code, stay silent, tweak the welcome) and observe it through its events.
import { EventEmitter, once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { WebSocket, WebSocketServer } from 'ws';
import { PushClient } from '../dist/index.js';

/** @typedef {{ id: string, secret: string, seq: number, acked: number, tail: { seq: number, frame: string | Buffer }[], socket: import('ws').WebSocket | null, released: boolean }} Conn */
/** @typedef {{ protocols: string[], url: string, resume: { clientId: string, secret: string, lastSeq: number } | null }} Handshake */

export class FakeGateway extends EventEmitter {
  /** @type {Map<string, Conn>} */
  conns = new Map();
  /** @type {Handshake[]} */
  handshakes = [];
  /** @type {{ clientId: string, data: string | Buffer, binary: boolean }[]} */
  received = [];
  /** @type {{ clientId: string, seq: number, at: number }[]} */
  acks = [];
  pings = 0;
  /** Answer pings and send nothing on its own when true: the client's heartbeat must notice. */
  silent = false;
  /** Select no subprotocol when false (an old gateway). */
  acceptProtocol = true;
  /** @type {((welcome: Record<string, unknown>, handshake: Handshake) => Record<string, unknown>) | null} */
  tweakWelcome = null;
  /** @type {string | null} when set, every resume fails with this reason */
  failResumes = null;
  heartbeatMs = 25000;
  ackIntervalMs = 250;

  /** @param {WebSocketServer} wss */
  constructor(wss) {
    super();
    this.wss = wss;
    wss.on('connection', (socket, req) => this.#onConnection(socket, req.url ?? '/', String(req.headers['sec-websocket-protocol'] ?? '')));
  }

  /** @returns {Promise<FakeGateway>} */
  static async start() {
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => (gateway.acceptProtocol && protocols.has('push.v1') ? 'push.v1' : false),
    });
    const gateway = new FakeGateway(wss);
    await once(wss, 'listening');
    return gateway;
  }

  get url() {
    const address = this.wss.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected address');
    return `ws://127.0.0.1:${address.port}/`;
  }

  /** @param {import('ws').WebSocket} socket @param {string} url @param {string} header */
  #onConnection(socket, url, header) {
    const protocols = header.split(',').map((p) => p.trim()).filter(Boolean);
    const token = protocols.find((p) => p.startsWith('push.resume.'));
    let resume = null;
    if (token) {
      const [, , clientId, secret, lastSeq] = token.split('.');
      resume = { clientId: clientId ?? '', secret: secret ?? '', lastSeq: Number(lastSeq) };
    }
    /** @type {Handshake} */
    const handshake = { protocols, url, resume };
    this.handshakes.push(handshake);
    if (socket.protocol !== 'push.v1') {
      this.emit('handshake', handshake);
      return; // a plain connection: no welcome
    }
    let conn = null;
    let resumeFailed;
    if (resume) {
      const old = this.conns.get(resume.clientId);
      if (this.failResumes) resumeFailed = this.failResumes;
      else if (!old || old.released) resumeFailed = 'expired';
      else if (old.secret !== resume.secret) resumeFailed = 'secret';
      else if (resume.lastSeq > old.seq) resumeFailed = 'ahead';
      else conn = old;
    }
    const resumed = conn !== null;
    if (conn === null) {
      conn = { id: randomBytes(20).toString('hex'), secret: randomBytes(16).toString('hex'), seq: 0, acked: 0, tail: [], socket: null, released: false };
      this.conns.set(conn.id, conn);
    }
    conn.socket?.terminate();
    conn.socket = socket;
    const from = resumed && resume ? resume.lastSeq : 0;
    if (resumed) conn.acked = Math.max(conn.acked, from);
    /** @type {Record<string, unknown>} */
    let welcome = {
      type: 'welcome', client_id: conn.id, resume_secret: conn.secret, seq: from, resumed,
      resume_window_ms: 120000, ack_interval_ms: this.ackIntervalMs, heartbeat_ms: this.heartbeatMs,
    };
    if (resumeFailed) welcome.resume_failed = resumeFailed;
    if (this.tweakWelcome) welcome = this.tweakWelcome(welcome, handshake);
    socket.send(control(welcome));
    if (resumed) {
      for (const m of conn.tail) if (m.seq > from) socket.send(m.frame);
    }
    const c = conn;
    socket.on('message', (data, isBinary) => this.#onMessage(c, socket, /** @type {Buffer} */ (data), isBinary));
    socket.on('close', (code, reason) => {
      if (c.socket === socket) c.socket = null;
      this.emit('clientClose', { clientId: c.id, code, reason: reason.toString() });
    });
    this.emit('handshake', handshake);
    this.emit('welcome', welcome);
  }

  /** @param {Conn} conn @param {import('ws').WebSocket} socket @param {Buffer} data @param {boolean} isBinary */
  #onMessage(conn, socket, data, isBinary) {
    if (!isBinary) {
      this.received.push({ clientId: conn.id, data: data.toString('utf8'), binary: false });
      this.emit('message', this.received.at(-1));
      return;
    }
    if (data[0] === 0x00) {
      this.received.push({ clientId: conn.id, data: data.subarray(1), binary: true });
      this.emit('message', this.received.at(-1));
      return;
    }
    const m = JSON.parse(data.subarray(1).toString('utf8'));
    this.emit('control', { clientId: conn.id, message: m, raw: data });
    if (m.type === 'ack') {
      conn.acked = m.seq;
      conn.tail = conn.tail.filter((t) => t.seq > m.seq);
      this.acks.push({ clientId: conn.id, seq: m.seq, at: Date.now() });
      this.emit('ack', this.acks.at(-1));
    } else if (m.type === 'ping') {
      this.pings += 1;
      if (!this.silent) socket.send(control({ type: 'pong' }));
      this.emit('ping');
    } else if (m.type === 'close') {
      conn.released = true;
    }
  }

  /**
   * Pushes an application message (text, or bytes sent with the 0x00 prefix); retained until acked. Returns its seq.
   * @param {string} clientId @param {string | Uint8Array} data
   */
  push(clientId, data) {
    const conn = this.#conn(clientId);
    const frame = typeof data === 'string' ? data : Buffer.concat([Buffer.from([0x00]), data]);
    conn.seq += 1;
    conn.tail.push({ seq: conn.seq, frame });
    conn.socket?.send(frame);
    return conn.seq;
  }

  /** Sends raw bytes or a control message to a client (for malformed or unknown frames). @param {string} clientId @param {string | Buffer} frame */
  sendRaw(clientId, frame) {
    this.#conn(clientId).socket?.send(frame);
  }

  /** An abrupt drop: the TCP socket is destroyed, no close frame (the client sees 1006). @param {string} clientId */
  drop(clientId) {
    const conn = this.#conn(clientId);
    conn.socket?.terminate();
    conn.socket = null;
  }

  /** @param {string} clientId @param {number} code @param {string} [reason] */
  close(clientId, code, reason = '') {
    const conn = this.#conn(clientId);
    if (code === 1000 || code === 1008) conn.released = true;
    conn.socket?.close(code, reason);
  }

  /** @param {string} clientId */
  #conn(clientId) {
    const conn = this.conns.get(clientId);
    if (!conn) throw new Error(`no connection ${clientId}`);
    return conn;
  }

  async stop() {
    for (const client of this.wss.clients) client.terminate();
    await new Promise((resolve) => this.wss.close(() => resolve(undefined)));
  }
}

/** A control frame: 0x01 then JSON. @param {Record<string, unknown>} message */
export function control(message) {
  return Buffer.concat([Buffer.from([0x01]), Buffer.from(JSON.stringify(message), 'utf8')]);
}

/**
 * The next event `type` of a PushClient (its once() returns an unsubscribe function) or of an EventEmitter, failing
 * after `ms`.
 * @param {any} source @param {string} type @param {number} [ms]
 * @returns {Promise<any>}
 */
export function next(source, type, ms = 5000) {
  return new Promise((resolve, reject) => {
    /** @param {unknown} event */
    const listener = (event) => {
      clearTimeout(timer);
      resolve(event);
    };
    const off = source instanceof EventEmitter ? () => source.off(type, listener) : source.once(type, listener);
    if (source instanceof EventEmitter) source.once(type, listener);
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no '${type}' event within ${ms} ms`));
    }, ms);
  });
}

/**
 * Collects the client's next `count` message events.
 * @param {import('../dist/index.js').PushClient} client @param {number} count @param {number} [ms]
 * @returns {Promise<import('../dist/index.js').MessageEvent[]>}
 */
export function messages(client, count, ms = 5000) {
  return new Promise((resolve, reject) => {
    /** @type {import('../dist/index.js').MessageEvent[]} */
    const got = [];
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${got.length} of ${count} messages within ${ms} ms`));
    }, ms);
    const off = client.on('message', (m) => {
      got.push(m);
      if (got.length === count) {
        off();
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

/**
 * Waits until `predicate` holds, checking at each event `type` of `emitter` (no polling).
 * @param {EventEmitter} emitter @param {string} type @param {() => boolean} predicate @param {number} [ms]
 */
export async function until(emitter, type, predicate, ms = 5000) {
  if (predicate()) return;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(type, check);
      reject(new Error(`condition not met within ${ms} ms (waiting on '${type}')`));
    }, ms);
    function check() {
      if (predicate()) {
        clearTimeout(timer);
        emitter.off(type, check);
        resolve(undefined);
      }
    }
    emitter.on(type, check);
  });
}

// ---- client-side helpers of the tests

/** Fast reconnects for tests. */
export const fast = { minDelayMs: 5, maxDelayMs: 20 };

/**
 * A fake gateway and a client of it, both ended after the test.
 * @param {import('node:test').TestContext} t @param {Partial<import('../dist/index.js').PushClientOptions>} [options]
 */
export async function setup(t, options = {}) {
  const gw = await FakeGateway.start();
  const client = new PushClient({ url: gw.url, WebSocket, reconnect: fast, ...options });
  t.after(async () => {
    await client.close();
    await gw.stop();
  });
  return { gw, client };
}

/** Connects and returns the open event and the connection's id. @param {PushClient} client */
export async function connected(client) {
  const open = await client.connect();
  return { open, id: open.clientId };
}
