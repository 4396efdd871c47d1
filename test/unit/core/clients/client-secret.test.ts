// src/core/clients/client-secret.ts: the secrets and ids of service clients, and the one thing
// stored of a secret, its HMAC-SHA-256 under a key derived from the server secret (label
// "tokenver client secret v1": another label would lock out every existing client).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { afterEach, beforeEach, test } from "node:test";
import { hashClientSecret, newClientId, newClientSecret, secretMatches } from "../../../../src/core/clients/client-secret.js";
import type { Core } from "../../../../src/core/context.js";
import { deriveKey } from "../../../../src/lib/derive-key.js";
import { sqliteCore, type SqliteCore } from "../../../support/sqlite-core.js";

let world: SqliteCore;
beforeEach(async () => {
  world = await sqliteCore();
});
afterEach(() => world.close());

test("a secret: 32 random bytes in base64url (43 characters, nothing to form-encode); never twice the same", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const secret = newClientSecret();
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(secret, "base64url").length, 32);
    seen.add(secret);
  }
  assert.equal(seen.size, 50);
});

test("an id: tvc_ and 12 random bytes in base64url; never twice the same", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const id = newClientId();
    assert.match(id, /^tvc_[A-Za-z0-9_-]{16}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 50);
});

test("the stored hash: HMAC-SHA-256 of the UTF-8 secret under the derived key, base64url; not the secret; another server secret, another hash", () => {
  const secret = "s3cr3t-ünïcode";
  const hash = hashClientSecret(world.core, secret);
  const expected = createHmac("sha256", world.core.deriveKey("tokenver client secret v1"))
    .update(Buffer.from(secret, "utf8"))
    .digest("base64url");
  assert.equal(hash, expected);
  assert.match(hash, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(hashClientSecret(world.core, secret), hash, "the same secret, the same hash");
  assert.notEqual(hashClientSecret(world.core, `${secret}x`), hash);
  const other: Core = {
    ...world.core,
    deriveKey: (label, length) => deriveKey("another server secret, thirty-two characters or more", label, length),
  };
  assert.notEqual(hashClientSecret(other, secret), hash);
});

test("secretMatches: the right secret only; a stored value of another length is no match (and no exception)", () => {
  const secret = newClientSecret();
  const stored = hashClientSecret(world.core, secret);
  assert.equal(secretMatches(world.core, secret, stored), true);
  assert.equal(secretMatches(world.core, `${secret}x`, stored), false);
  assert.equal(secretMatches(world.core, newClientSecret(), stored), false);
  assert.equal(secretMatches(world.core, secret, secret), false, "the secret itself is not its hash");
  for (const odd of ["", stored.slice(1), `${stored}x`, `${stored}${stored}`]) {
    assert.equal(secretMatches(world.core, secret, odd), false, odd);
  }
});
