// Runs an e2e script (node-resume.mjs, or tools/browser/sdk-resume.mjs with the bundle's path) against the scripted
// gateway of the unit tests, with the flow of JsClientSdkTests minus the demo worker: for working on the scripts
// without a real `push start`.
//
//   node test/e2e/harness-fake.mjs test/e2e/node-resume.mjs
//   node test/e2e/harness-fake.mjs ../../tools/browser/sdk-resume.mjs dist/push-client.js
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { FakeGateway } from '../fake-gateway.mjs';

const [script, ...extra] = process.argv.slice(2);
const gw = await FakeGateway.start();
const child = spawn(process.execPath, [script, gw.url, ...extra, '30000'], { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = [];
const waiters = [];
createInterface({ input: child.stdout }).on('line', (l) => {
  console.log('  | ' + l);
  lines.push(l);
  for (const w of [...waiters]) w();
});
const waitLine = (pred) => new Promise((resolve) => {
  const check = () => {
    const i = lines.findIndex(pred);
    if (i >= 0) { const [l] = lines.splice(0, i + 1).slice(-1); waiters.splice(waiters.indexOf(check), 1); resolve(l); }
  };
  waiters.push(check);
  check();
});
const driver = Number((await waitLine((l) => l.startsWith('DRIVER '))).split(' ')[1]);
const id = (await waitLine((l) => l.startsWith('OPEN '))).split(' ')[1];
gw.push(id, JSON.stringify({ clientId: id }));
await waitLine((l) => l.startsWith('MESSAGE 1 '));
gw.push(id, 'before');
await waitLine((l) => l === 'MESSAGE 2 before');
console.log(await (await fetch(`http://127.0.0.1:${driver}/drop`, { method: 'POST' })).text());
gw.push(id, 'away-1'); gw.push(id, 'away-2');
console.log(await (await fetch(`http://127.0.0.1:${driver}/resume`, { method: 'POST' })).text());
await waitLine((l) => l.startsWith('OPEN ') && l.includes('resumed=true'));
await waitLine((l) => l === 'MESSAGE 3 away-1');
await waitLine((l) => l === 'MESSAGE 4 away-2');
gw.push(id, 'after');
await waitLine((l) => l === 'MESSAGE 5 after');
gw.close(id, 1000, 'CloseClient');
await waitLine((l) => l === 'EXIT');
child.on('exit', async (code) => {
  console.log('exit', code);
  await gw.stop();
  process.exitCode = code ?? 1;
});
