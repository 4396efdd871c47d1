// Unit tests for src/lib/derive-key.ts: RFC 5869 HKDF-SHA-256, one independent key per label.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { deriveKey } from "../../../src/lib/derive-key.js";

/** HKDF (RFC 5869) with an empty salt, written out with HMAC: a second implementation. */
function hkdf(secret: string, label: string, length: number): Buffer {
  const prk = createHmac("sha256", Buffer.alloc(32)).update(secret).digest();
  let block = Buffer.alloc(0);
  const out: Buffer[] = [];
  for (let i = 1; Buffer.concat(out).length < length; i++) {
    block = createHmac("sha256", prk)
      .update(Buffer.concat([block, Buffer.from(label), Buffer.from([i])]))
      .digest();
    out.push(block);
  }
  return Buffer.concat(out).subarray(0, length);
}

test("deriveKey is HKDF-SHA-256 of the secret with the label as info", () => {
  const secret = "s".repeat(40);
  assert.deepEqual(deriveKey(secret, "tokenver csrf v1"), hkdf(secret, "tokenver csrf v1", 32));
  assert.deepEqual(deriveKey(secret, "x", 64), hkdf(secret, "x", 64));
});

test("different labels or secrets give unrelated keys; an empty label is refused", () => {
  const secret = "s".repeat(40);
  assert.notDeepEqual(deriveKey(secret, "a"), deriveKey(secret, "b"));
  assert.notDeepEqual(deriveKey(secret, "a"), deriveKey("t".repeat(40), "a"));
  assert.throws(() => deriveKey(secret, ""), TypeError);
});
