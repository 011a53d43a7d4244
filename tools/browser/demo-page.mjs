// Opens the demo page of `push start` in headless Chromium (the system's /usr/bin/chromium, driven by
// playwright-core), waits until the page shows its client id, and waits for a pushed message to appear in the log.
//
//   node tools/browser/demo-page.mjs PAGE_URL EXPECTED_TEXT SCREENSHOT_PNG [TIMEOUT_MS]
//
// Protocol on stdout (one line each): "CLIENT_ID <id>" once the page is connected (the caller then pushes
// EXPECTED_TEXT to that id through the control API), then "RECEIVED <text>" once the page shows it, then
// "SCREENSHOT <path>". Exits 0 on success, 1 on timeout or error (with the page's console on stderr).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [url, expected, screenshot, timeoutArg] = process.argv.slice(2);
if (!url || !expected || !screenshot) {
  console.error('usage: node demo-page.mjs PAGE_URL EXPECTED_TEXT SCREENSHOT_PNG [TIMEOUT_MS]');
  process.exit(2);
}
const timeout = Number(timeoutArg || 20000);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const userDataDir = mkdtempSync(path.join(tmpdir(), 'push-chromium-'));
const consoleLines = [];
let context;
let code = 1;
try {
  // launchPersistentContext takes the fresh profile folder as --user-data-dir.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    timeout,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
      '--disable-component-update', '--disable-sync', '--disable-quic',
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(url, { timeout });

  // The demo worker greets the page with {"clientId":"<40 hex>"} and the page shows it in #client-id.
  const idLocator = page.locator('#client-id');
  await page.waitForFunction(() => /^[0-9a-f]{40}$/.test(document.querySelector('#client-id')?.textContent ?? ''), null, { timeout });
  const clientId = (await idLocator.textContent()).trim();
  console.log(`CLIENT_ID ${clientId}`);

  // The caller pushes EXPECTED_TEXT to this client; the page appends every message as a div.msg in #log.
  const message = page.locator('#log .msg', { hasText: expected });
  await message.first().waitFor({ state: 'visible', timeout });
  console.log(`RECEIVED ${(await message.first().textContent()).trim()}`);
  console.log(`STATUS ${(await page.locator('#status').textContent()).trim()}`);

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`SCREENSHOT ${screenshot}`);
  code = 0;
} catch (err) {
  console.error(`demo-page: ${err && err.message ? err.message : err}`);
  for (const line of consoleLines) {
    console.error(line);
  }
} finally {
  if (context) {
    await context.close().catch(() => {});
  }
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(code);
