// Unit tests for src/core/webhooks/backoff.ts: the waits between attempts as docs/api.md
// section 10 gives them (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), and the 8th failure
// dead-lettered (no wait after it).
import assert from "node:assert/strict";
import { test } from "node:test";
import { BACKOFF_MS, backoffAfter, MAX_ATTEMPTS } from "../../../../src/core/webhooks/backoff.js";

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

test("the wait after each failed attempt is the documented one", () => {
  const documented = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];
  assert.deepEqual([...BACKOFF_MS], documented);
  for (const [i, wait] of documented.entries()) assert.equal(backoffAfter(i + 1), wait, `after attempt ${i + 1}`);
});

test("after the 8th attempt there is no wait: it is dead-lettered; nothing before the 1st", () => {
  assert.equal(MAX_ATTEMPTS, 8);
  assert.equal(backoffAfter(8), undefined);
  assert.equal(backoffAfter(9), undefined);
  assert.equal(backoffAfter(0), undefined);
});
