// The keys' clock (src/core/keys/keys-context.ts `keysClockOf`) and the settings openKeys turns
// into the keys' context (src/core/keys/open-keys.ts), over a real SQLite store in memory. The
// clock: PostgreSQL's own only on PostgreSQL with the system clock; the process's on SQLite (whose
// database has no `clock_timestamp()`); an injected clock (tests) stands for every clock, the
// database's too. The settings: seconds and days into milliseconds, the retirement delay the
// access-token lifetime plus the leeway plus 10 s, the configured key checked at the start.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { afterEach, beforeEach, describe, test } from "node:test";
import { systemClock } from "../../../../src/core/clock.js";
import { keysClockOf } from "../../../../src/core/keys/keys-context.js";
import { SigningKeyError } from "../../../../src/core/keys/material.js";
import { openKeys } from "../../../../src/core/keys/open-keys.js";
import { databaseNow } from "../../../../src/store/queries/signing-keys.js";
import { ACCESS_TTL, CLOCK_TOLERANCE, keySettings, keysWorld, PUBLISH_DELAY, RETIRE_MS, SECRET, T0, type KeysWorld } from "./keys-world.js";

let world: KeysWorld;
beforeEach(async () => {
  world = await keysWorld({ ms: T0 });
});
afterEach(() => world.close());

describe("keysClockOf: the clock of every decision about keys", () => {
  test("PostgreSQL with the system clock: the database's clock itself", () => {
    assert.equal(keysClockOf("postgres", systemClock), databaseNow);
  });

  test("SQLite with the system clock: the process's (SQLite has no clock_timestamp())", async () => {
    const clock = keysClockOf("sqlite", systemClock);
    assert.notEqual(clock, databaseNow);
    // databaseNow would fail here: the in-memory SQLite database has no pg_catalog.
    await assert.rejects(databaseNow(world.db));
    const before = Date.now();
    const now = await clock(world.db);
    assert.ok(now >= before && now <= Date.now(), `${now} is not the process's clock`);
  });

  test("an injected clock stands for every clock, PostgreSQL's too", async () => {
    for (const dialect of ["postgres", "sqlite"] as const) {
      const clock = keysClockOf(dialect, () => T0 + 123);
      assert.notEqual(clock, databaseNow);
      assert.equal(await clock(world.db), T0 + 123, dialect);
    }
  });
});

describe("openKeys: the settings in the keys' context", () => {
  test("seconds and days in milliseconds; retirement after the token lifetime, the leeway and 10 s", async () => {
    const node = await world.open({ keyPublishDelay: 45, keyRotation: 3 });
    assert.equal(node.keys.publishDelayMs, 45_000);
    assert.equal(node.keys.rotationMs, 3 * 86_400_000);
    assert.equal(node.keys.retireMs, (ACCESS_TTL + CLOCK_TOLERANCE + 10) * 1000);
    assert.equal(node.keys.retireMs, RETIRE_MS);
    assert.equal(node.keys.alg, "HS256");
    assert.equal(node.keys.configured, undefined);
    assert.equal(await node.keys.now(world.db), T0);
    // Without Redis, the announcements are no-ops that resolve.
    assert.equal(await node.keys.announce(), undefined);
    assert.equal(await node.keys.broadcastRevoked("any"), undefined);
    assert.equal(node.keys.ring.signing().kid, node.started!.kid);
  });

  test("the default publish delay and rotation off", async () => {
    const node = await world.open();
    assert.equal(node.keys.publishDelayMs, PUBLISH_DELAY * 1000);
    assert.equal(node.keys.rotationMs, 0);
  });

  test("a configured key is checked and kept; one that does not fit stops the start", async () => {
    const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const node = await world.open({ alg: "EdDSA", signingKey: pem });
    assert.equal(node.keys.alg, "EdDSA");
    assert.equal(node.keys.configured?.alg, "EdDSA");
    assert.equal(node.keys.configured?.kid, node.started?.kid);
    assert.equal(node.keys.ring.signing().kid, node.keys.configured?.kid);
    await assert.rejects(
      openKeys(world.db, SECRET, keySettings(world.time, [], { alg: "ES256", signingKey: pem })),
      (error: unknown) => error instanceof SigningKeyError && error.message === "must be a P-256 key for TOKENVER_SIGNING_ALG=ES256",
    );
  });
});
