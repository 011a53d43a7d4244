// The SDK in Node (with `ws`) against a real gateway, driven by a test (tests/Push.ToolingTests/JsClientSdkTests.cs).
//
//   node clients/js/test/e2e/node-resume.mjs WS_URL[,WS_URL...] [TIMEOUT_MS] [EXPECT_N]
//
// Several URLs (comma-separated) go to the SDK as its list: every reconnect tries the next one.
// With EXPECT_N, messages that are decimal numbers are checked instead of printed: they must be 1, 2, ..., N, each
// once and in order. The script prints "NUMBERS <n>" every 1000, "NUMBERS_DONE <N>" at the end, and
// "BAD_NUMBER expected=<x> got=<y>" for a duplicate, a gap or a reordering.
//
// Prints one line per SDK event (the format is shared with tools/browser/sdk-resume.mjs):
//   DRIVER <port>                           the driver's HTTP port on 127.0.0.1 (first line)
//   OPEN <clientId> resumed=<bool> seq=<n> [failed=<reason>]
//   AT <i>                                  after each OPEN: the index in the URL list of the gateway it is on
//   MESSAGE <seq> <text>                    (binary: "MESSAGE <seq> bin:<hex>")
//   CLOSE <code> willReconnect=<bool> <reason>
//   NOT_RESUMED <reason> | GAP <expected> <welcome> | RESUME_LOST <reason> | ERROR <message>
// The driver: POST /drop destroys the client's TCP socket (an abrupt drop: no close frame, the gateway sees the
// connection lost) and holds reconnects back until POST /resume; it answers once the SDK has reported the close.
// POST /hold holds reconnects back without dropping (before a drop the test causes itself, e.g. a drain).
// POST /send with a text body sends it as text; POST /send-binary with a hex body sends those bytes as binary.
// Exits 0 once the client has closed for good (e.g. the backend's CloseClient), 1 on timeout.
import { createServer } from 'node:http';
import { WebSocket } from 'ws';
import { PushClient } from '../../dist/index.js';

const [wsUrl, timeoutArg, expectArg] = process.argv.slice(2);
const expect = Number(expectArg || 0);
let nextNumber = 1;
if (!wsUrl) {
  console.error('usage: node node-resume.mjs WS_URL [TIMEOUT_MS]');
  process.exit(2);
}
const timeout = setTimeout(() => {
  console.error(`node-resume: timed out after ${timeoutArg || 60000} ms`);
  process.exit(1);
}, Number(timeoutArg || 60000));

/** @type {WebSocket | null} */
let current = null;
class TrackedWebSocket extends WebSocket {
  /** @param {string} url @param {string | string[]} [protocols] */
  constructor(url, protocols) {
    super(url, protocols);
    current = this;
  }
}

let openGate = () => {};
let gate = Promise.resolve();
/** @type {(() => void) | null} */
let onClose = null;

// The gate holds reconnects back through the token function, which the SDK awaits before every attempt (no token).
const client = new PushClient({
  url: wsUrl.split(','),
  token: async () => {
    await gate;
    return undefined;
  },
  WebSocket: TrackedWebSocket,
  reconnect: { minDelayMs: 50, maxDelayMs: 1000 },
});
const urls = wsUrl.split(',');
client.on('open', (e) => {
  console.log(`OPEN ${e.clientId} resumed=${e.resumed} seq=${e.seq}${e.resumeFailed ? ` failed=${e.resumeFailed}` : ''}`);
  console.log(`AT ${urls.indexOf(e.url)}`);
});
client.on('message', (m) => {
  if (expect > 0 && typeof m.data === 'string' && /^[0-9]+$/.test(m.data)) {
    const n = Number(m.data);
    if (n !== nextNumber) {
      console.log(`BAD_NUMBER expected=${nextNumber} got=${n} seq=${m.seq}`);
    }
    nextNumber = Math.max(nextNumber, n + 1);
    if (n % 1000 === 0) console.log(`NUMBERS ${n}`);
    if (n === expect) console.log(`NUMBERS_DONE ${n}`);
    return;
  }
  console.log(`MESSAGE ${m.seq} ${typeof m.data === 'string' ? m.data : 'bin:' + Buffer.from(m.data).toString('hex')}`);
});
client.on('notResumed', (e) => console.log(`NOT_RESUMED ${e.reason}`));
client.on('gap', (e) => console.log(`GAP ${e.expectedSeq} ${e.welcomeSeq}`));
client.on('resumeLost', (e) => console.log(`RESUME_LOST ${e.reason}`));
client.on('error', (e) => console.log(`ERROR ${e.message}`));
client.on('close', (e) => {
  console.log(`CLOSE ${e.code} willReconnect=${e.willReconnect} ${e.reason}`);
  onClose?.();
  onClose = null;
  if (!e.willReconnect) {
    clearTimeout(timeout);
    driver.close();
    console.log('EXIT');
  }
});

const driver = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/drop') {
    gate = new Promise((resolve) => { openGate = () => resolve(undefined); });
    onClose = () => res.end('dropped\n');
    // @ts-ignore: ws keeps the TCP socket in _socket
    current?._socket?.destroy();
  } else if (req.method === 'POST' && req.url === '/hold') {
    gate = new Promise((resolve) => { openGate = () => resolve(undefined); });
    res.end('holding\n');
  } else if (req.method === 'POST' && req.url === '/resume') {
    openGate();
    res.end('resuming\n');
  } else if (req.method === 'POST' && (req.url === '/send' || req.url === '/send-binary')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const sent = client.send(req.url === '/send' ? body : new Uint8Array(Buffer.from(body, 'hex')));
      res.statusCode = sent ? 200 : 409;
      res.end(sent ? 'sent\n' : 'not connected\n');
    });
  } else {
    res.statusCode = 404;
    res.end();
  }
});
driver.listen(0, '127.0.0.1', () => {
  const address = driver.address();
  console.log(`DRIVER ${typeof address === 'object' && address ? address.port : '?'}`);
  client.connect().catch((err) => console.log(`ERROR connect: ${err.message}`));
});
