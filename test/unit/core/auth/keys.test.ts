// The facade's key operations (src/core/auth.ts): the key.rotated events of rotate (now or not),
// revoke and the scheduled rotation the key poll runs, each with its actor, and no rotation at all
// while keyRotation is 0.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AuthError } from "../../../../src/core/errors.js";
import { KEYS_POLL_MS } from "../../../../src/core/keys/key-ring.js";
import { authWorld, DAY_MS, eventually } from "./auth-world.js";

const kidOf = (token: string): unknown => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")).kid;

test("rotateKey: published, signing later, an event by the system; with now, an event of reason now by the actor", async () => {
  const world = await authWorld({ keys: true });
  try {
    const rotated = await world.auth.rotateKey();
    assert.equal(rotated.alg, "HS256");
    assert.equal(rotated.activateAt, new Date(world.time.ms + 300_000).toISOString());
    await assert.rejects(world.auth.rotateKey(), (e: unknown) => e instanceof AuthError && e.code === "forbidden");
    const now = await world.auth.rotateKey({ now: true, actor: "cli" });
    assert.equal(now.activateAt, new Date(world.time.ms).toISOString());
    assert.deepEqual(
      (await world.events("key.rotated")).map((e) => [e.actor, e.detail]),
      [
        ["system", { kid: rotated.kid, alg: "HS256", reason: "rotate", activate_at: rotated.activateAt }],
        ["cli", { kid: now.kid, alg: "HS256", reason: "now", activate_at: now.activateAt }],
      ],
    );
  } finally {
    await world.close();
  }
});

test("rotateKey with now not true is a plain rotation", async () => {
  const world = await authWorld({ keys: true });
  try {
    const rotated = await world.auth.rotateKey({ now: false });
    assert.equal(rotated.activateAt, new Date(world.time.ms + 300_000).toISOString());
    assert.equal((await world.events("key.rotated"))[0]!.detail.reason, "rotate");
  } finally {
    await world.close();
  }
});

test("revokeKey: the key goes, an event names it, the signer and the actor (default: the system)", async () => {
  const world = await authWorld({ keys: true });
  try {
    const next = await world.auth.rotateKey();
    const result = await world.auth.revokeKey(next.kid, { actor: "admin-1" });
    assert.equal(typeof result.signer, "string");
    assert.ok(!(await world.auth.listKeys()).some((k) => k.kid === next.kid));
    const other = await world.auth.rotateKey();
    await world.auth.revokeKey(other.kid);
    const revoked = (await world.events("key.rotated")).filter((e) => e.detail.reason === "revoked");
    assert.deepEqual(
      revoked.map((e) => [e.actor, e.detail]),
      [
        ["admin-1", { kid: next.kid, reason: "revoked", signer: result.signer }],
        ["system", { kid: other.kid, reason: "revoked", signer: result.signer }],
      ],
    );
    await assert.rejects(world.auth.revokeKey("no-such-kid"), (e: unknown) => e instanceof AuthError && e.code === "not_found");
  } finally {
    await world.close();
  }
});

test("the key poll rotates once keyRotation is due (not before, and once), as the system, reason scheduled", async () => {
  const world = await authWorld({ keys: { keyRotation: 1 } });
  try {
    await sleep(KEYS_POLL_MS + 300);
    assert.deepEqual(await world.events("key.rotated"), [], "not due yet");
    world.time.ms += DAY_MS + 1000;
    await eventually(async () => (await world.events("key.rotated")).length > 0, "a scheduled rotation");
    await sleep(KEYS_POLL_MS + 300);
    const events = await world.events("key.rotated");
    assert.equal(events.length, 1, "the next poll finds the new key waiting: nothing due");
    const [event] = events;
    assert.equal(event!.actor, "system");
    assert.equal(event!.detail.reason, "scheduled");
    assert.equal(event!.detail.alg, "HS256");
    assert.ok((await world.auth.listKeys()).some((k) => k.kid === event!.detail.kid));
    assert.deepEqual(world.warnings, []);
  } finally {
    await world.close();
  }
});

test("with keyRotation 0 the key poll never rotates", async () => {
  const world = await authWorld({ keys: true });
  try {
    world.time.ms += 400 * DAY_MS;
    await sleep(KEYS_POLL_MS * 2 + 300);
    assert.equal((await world.auth.listKeys()).length, 1);
    assert.deepEqual(await world.events("key.rotated"), []);
    assert.deepEqual(world.warnings, []);
  } finally {
    await world.close();
  }
});

test("a node that follows a lapsed key lease reads the keys again before it verifies (another node's new key)", async () => {
  const a = await authWorld({ keys: true });
  const b = await authWorld({ keys: true, store: a.store });
  try {
    // As over Redis when the lease lapsed: the keys in memory may be stale.
    b.keys!.ring.followLease({ validUntil: 0, wallValidUntil: 0 });
    // A later activation than the first key's: the new key signs (both nodes share the clock).
    a.time.ms += 1000;
    b.time.ms = a.time.ms;
    const rotated = await a.auth.rotateKey({ now: true });
    const { userId, accessToken } = await a.register();
    assert.equal(kidOf(accessToken), rotated.kid);
    assert.equal((await b.auth.verify(`Bearer ${accessToken}`)).userId, userId);
  } finally {
    await b.auth.close();
    await a.auth.close().catch(() => {});
  }
});
