// @ts-check
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, isResumableClose, resumeToken } from '../dist/index.js';

test('full jitter: every delay in [0, min(max, min * 2^attempt))', () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const cap = Math.min(30000, 250 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, 250, 30000, () => 0), 0);
    assert.equal(backoffDelay(attempt, 250, 30000, () => 0.999999), Math.floor(0.999999 * cap));
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt, 250, 30000);
      assert.ok(d >= 0 && d < cap, `attempt ${attempt}: ${d} not in [0, ${cap})`);
    }
  }
});

test('the cap grows 2x per attempt up to maxDelayMs', () => {
  const top = (/** @type {number} */ attempt) => backoffDelay(attempt, 100, 1000, () => 0.5);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map(top), [50, 100, 200, 400, 500, 500, 500]);
});

test('resume token and close codes', () => {
  assert.equal(resumeToken({ clientId: 'a'.repeat(40), resumeSecret: 'b'.repeat(32), lastSeq: 17 }),
    `push.resume.${'a'.repeat(40)}.${'b'.repeat(32)}.17`);
  for (const code of [1001, 1006, 1011, 1012, 1013, 4000, 4001]) assert.equal(isResumableClose(code), true, String(code));
  for (const code of [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4003, 4999]) assert.equal(isResumableClose(code), false, String(code));
});
