// The SDK's browser build (clients/js/dist/push-client.js) in headless Chromium (/usr/bin/chromium, driven by
// playwright-core) against a real gateway, driven by a test (tests/Push.ToolingTests/JsClientSdkTests.cs).
//
//   node tools/browser/sdk-resume.mjs WS_URL[,WS_URL...] SDK_BUNDLE [TIMEOUT_MS] [EXPECT_N]
//
// Serves a page and the bundle on 127.0.0.1 (a tiny static server), and puts a TCP proxy between the page and each
// gateway so a drop is abrupt (both sockets destroyed, no close frame: 1006 in the page, the connection lost for the
// gateway); the page's SDK gets the proxies' URLs as its list, in the same order. Prints the same lines as
// clients/js/test/e2e/node-resume.mjs (DRIVER, OPEN, MESSAGE, CLOSE, ..., and with EXPECT_N the NUMBERS lines).
// The driver (on the static server): POST /drop holds the page's reconnects back and cuts every proxied connection,
// answering once the page has reported the close; POST /hold only holds reconnects back; POST /resume lets it reconnect; POST /send (text body) and
// /send-binary (hex body) send through the page's client. Exits 0 once the client has closed
// for good, 1 on timeout or error (with the page's console on stderr).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createConnection, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [wsUrl, bundlePath, timeoutArg, expectArg] = process.argv.slice(2);
if (!wsUrl || !bundlePath) {
  console.error('usage: node sdk-resume.mjs WS_URL SDK_BUNDLE [TIMEOUT_MS]');
  process.exit(2);
}
const timeout = Number(timeoutArg || 60000);
const bundle = readFileSync(bundlePath);
const expect = Number(expectArg || 0);

// The proxies: page -> 127.0.0.1:<proxy i> -> gateway i. /drop destroys every pair.
const pairs = new Set();
/** @param {URL} target */
async function startProxy(target) {
  const proxy = createTcpServer((downstream) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    const pair = { downstream, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (proxy.address()).port;
  return { proxy, url: `ws://127.0.0.1:${port}${target.pathname}${target.search}` };
}
const proxies = await Promise.all(wsUrl.split(',').map((u) => startProxy(new URL(u))));
const proxyUrls = proxies.map((p) => p.url);

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>@push-grpc/client in Chromium</title><link rel="icon" href="data:,"></head>
<body><pre id="log"></pre>
<script type="module">
import { PushClient } from '/push-client.js';
const report = (line) => { document.getElementById('log').textContent += line + '\\n'; window.report(line); };
let gate = Promise.resolve();
window.holdReconnects = () => { gate = new Promise((resolve) => { window.releaseReconnects = resolve; }); };
// The gate holds reconnects back through the token function, which the SDK awaits before every attempt (no token).
const client = new PushClient({
  url: ${JSON.stringify(proxyUrls)},
  token: async () => { await gate; return undefined; },
  reconnect: { minDelayMs: 50, maxDelayMs: 1000 },
});
const expect = ${expect};
let nextNumber = 1;
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
client.on('open', (e) => {
  report('OPEN ' + e.clientId + ' resumed=' + e.resumed + ' seq=' + e.seq + (e.resumeFailed ? ' failed=' + e.resumeFailed : ''));
  report('AT ' + ${JSON.stringify(proxyUrls)}.indexOf(e.url));
});
client.on('message', (m) => {
  if (expect > 0 && typeof m.data === 'string' && /^[0-9]+$/.test(m.data)) {
    const n = Number(m.data);
    if (n !== nextNumber) report('BAD_NUMBER expected=' + nextNumber + ' got=' + n + ' seq=' + m.seq);
    nextNumber = Math.max(nextNumber, n + 1);
    if (n % 1000 === 0) report('NUMBERS ' + n);
    if (n === expect) report('NUMBERS_DONE ' + n);
    return;
  }
  report('MESSAGE ' + m.seq + ' ' + (typeof m.data === 'string' ? m.data : 'bin:' + hex(m.data)));
});
client.on('notResumed', (e) => report('NOT_RESUMED ' + e.reason));
client.on('gap', (e) => report('GAP ' + e.expectedSeq + ' ' + e.welcomeSeq));
client.on('resumeLost', (e) => report('RESUME_LOST ' + e.reason));
client.on('error', (e) => report('ERROR ' + e.message));
client.on('close', (e) => report('CLOSE ' + e.code + ' willReconnect=' + e.willReconnect + ' ' + e.reason));
window.send = (text) => client.send(text);
window.sendBinary = (hexText) => client.send(new Uint8Array(hexText.match(/../g).map((h) => parseInt(h, 16))));
client.connect().catch((e) => report('ERROR connect: ' + e.message));
</script></body></html>`;

let browserPage = null;
/** @type {(() => void) | null} */
let onClose = null;
/** @type {(code: number) => void} */
let finish = () => {};
const finished = new Promise((resolve) => { finish = resolve; });

const http = createHttpServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/') {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(page);
  } else if (req.method === 'GET' && req.url === '/push-client.js') {
    res.setHeader('content-type', 'text/javascript; charset=utf-8');
    res.end(bundle);
  } else if (req.method === 'POST' && req.url === '/drop' && browserPage) {
    await browserPage.evaluate(() => window.holdReconnects());
    onClose = () => res.end('dropped\n');
    for (const { downstream, upstream } of pairs) {
      downstream.destroy();
      upstream.destroy();
    }
  } else if (req.method === 'POST' && req.url === '/hold' && browserPage) {
    await browserPage.evaluate(() => window.holdReconnects());
    res.end('holding\n');
  } else if (req.method === 'POST' && req.url === '/resume' && browserPage) {
    await browserPage.evaluate(() => window.releaseReconnects());
    res.end('resuming\n');
  } else if (req.method === 'POST' && (req.url === '/send' || req.url === '/send-binary') && browserPage) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString('utf8');
    const sent = req.url === '/send'
      ? await browserPage.evaluate((t) => window.send(t), body)
      : await browserPage.evaluate((h) => window.sendBinary(h), body);
    res.statusCode = sent ? 200 : 409;
    res.end(sent ? 'sent\n' : 'not connected\n');
  } else {
    res.statusCode = 404;
    res.end();
  }
});
await new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(undefined)));
const pageUrl = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (http.address()).port}/`;

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const userDataDir = mkdtempSync(path.join(tmpdir(), 'push-chromium-'));
const consoleLines = [];
let context;
let code = 1;
const timer = setTimeout(() => {
  console.error(`sdk-resume: timed out after ${timeout} ms`);
  finish(1);
}, timeout);
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    timeout,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
      '--disable-component-update', '--disable-sync', '--disable-quic',
    ],
  });
  browserPage = context.pages()[0] ?? await context.newPage();
  browserPage.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));
  browserPage.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await browserPage.exposeFunction('report', (line) => {
    console.log(line);
    if (line.startsWith('CLOSE ')) {
      onClose?.();
      onClose = null;
      if (line.includes('willReconnect=false')) {
        finish(0);
      }
    }
  });
  console.log(`DRIVER ${new URL(pageUrl).port}`);
  await browserPage.goto(pageUrl, { timeout });
  code = await finished;
  if (code === 0) {
    console.log('EXIT');
  }
} catch (err) {
  console.error(`sdk-resume: ${err && err.message ? err.message : err}`);
  code = 1;
} finally {
  clearTimeout(timer);
  if (code !== 0) {
    for (const line of consoleLines) {
      console.error(line);
    }
  }
  if (context) {
    await context.close().catch(() => {});
  }
  rmSync(userDataDir, { recursive: true, force: true });
  http.closeAllConnections?.();
  http.close();
  for (const { proxy } of proxies) {
    proxy.close();
  }
}
process.exit(code);
