// rotateKey, revokeKey and listKeys (src/core/keys/rotate-key.ts, revoke-key.ts, list-keys.ts, and
// addKey of keys-context.ts) over a real SQLite store in memory and a manual clock: a rotation
// published before it signs, to the millisecond; the earlier key's retirement date (the token
// lifetime, the leeway and 10 s after the new key signs); --now; the scheduled rotation; a revoked
// key gone at once from this node (cached tokens too), remembered, and replaced when it signed; the
// private halves sealed at rest. test/keys/rotation.test.ts drives the same over HTTP.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { isoAt } from "../../../../src/core/clock.js";
import { AuthError } from "../../../../src/core/errors.js";
import { WRAPPING_KEY_LABEL } from "../../../../src/core/keys/key-ring.js";
import { listKeys } from "../../../../src/core/keys/list-keys.js";
import { revokeKey } from "../../../../src/core/keys/revoke-key.js";
import { rotateKey } from "../../../../src/core/keys/rotate-key.js";
import { open } from "../../../../src/core/mail/seal.js";
import { keysVersion } from "../../../../src/store/queries/signing-keys.js";
import { secretKidOf } from "../../../../src/core/tokens/access-token.js";
import { deriveKey } from "../../../../src/lib/derive-key.js";
import { rejectsWith } from "../../../support/account-core.js";
import { keysWorld, kidOf, PUBLISH_DELAY, RETIRE_MS, SECRET, T0, type KeysNode, type KeysWorld } from "./keys-world.js";

const DELAY_MS = PUBLISH_DELAY * 1000;
const ROTATION_DAYS = 2;
const ROTATION_MS = ROTATION_DAYS * 86_400_000;

let world: KeysWorld;
let node: KeysNode;
/** What the node told the others, in order. */
let told: string[];
let k1: string;
beforeEach(async () => {
  world = await keysWorld({ ms: T0 });
  node = await world.open({ alg: "EdDSA", keyRotation: ROTATION_DAYS });
  k1 = node.started!.kid;
  told = [];
  node.keys.announce = async () => {
    told.push("announce");
  };
  node.keys.broadcastRevoked = async (kid) => {
    // The key is gone from this node before the others are asked to drop it.
    assert.equal(node.ring.find(kid), undefined);
    told.push(`revoked ${kid}`);
  };
});
afterEach(() => world.close());

const row = async (kid: string) => (await world.rows()).find((r) => r.kid === kid);
const jwksKids = () => node.ring.jwks().keys.map((k) => k.kid);

function refusedAs(token: string, detail: string) {
  assert.throws(
    () => node.verify(token),
    (error: unknown) => {
      assert.ok(error instanceof AuthError, String(error));
      assert.equal(error.code, "token_invalid");
      assert.equal(error.message, detail);
      return true;
    },
  );
}

describe("rotateKey", () => {
  test("a new key is published at once and signs from the publish delay, to the millisecond", async () => {
    world.time.ms = T0 + 1000;
    const rotated = await rotateKey(node.keys);
    const activate = T0 + 1000 + DELAY_MS;
    assert.deepEqual(rotated, { kid: rotated!.kid, alg: "EdDSA", activateAt: isoAt(activate) });
    const k2 = rotated!.kid;
    assert.deepEqual(told, ["announce"]);
    // This node has read the keys again (no reload by the test).
    assert.deepEqual(jwksKids(), [k1, k2]);
    assert.equal(node.ring.signing().kid, k1);
    assert.deepEqual(await listKeys(node.keys), [
      { kid: k1, alg: "EdDSA", state: "current", createdAt: isoAt(T0), activateAt: isoAt(T0), retireAfter: isoAt(activate + RETIRE_MS) },
      { kid: k2, alg: "EdDSA", state: "next", createdAt: isoAt(T0 + 1000), activateAt: isoAt(activate), retireAfter: null },
    ]);
    assert.equal((await row(k1))!.retire_after, isoAt(activate + RETIRE_MS));

    world.time.ms = activate - 1;
    assert.equal(node.ring.signing().kid, k1);
    assert.equal(node.ring.stateOf(node.ring.find(k2)!), "next");
    world.time.ms = activate;
    assert.equal(node.ring.signing().kid, k2);
    assert.equal(kidOf(node.sign()), k2);
    assert.equal(node.ring.stateOf(node.ring.find(k2)!), "current");
    assert.equal(node.ring.stateOf(node.ring.find(k1)!), "retiring");

    // The first key verifies, and stays published, until its retire_after; then it is gone, without a reload.
    const old = node.ring.find(k1)!;
    world.time.ms = activate + RETIRE_MS - 1;
    assert.equal(node.ring.find(k1), old);
    assert.deepEqual(jwksKids(), [k1, k2]);
    world.time.ms = activate + RETIRE_MS;
    assert.equal(node.ring.find(k1), undefined);
    assert.deepEqual(jwksKids(), [k2]);
    assert.deepEqual(
      (await listKeys(node.keys)).map((k) => k.kid),
      [k2],
    );
  });

  test("a second rotation while a next key waits is refused, naming it; from the moment it signs, allowed", async () => {
    const first = (await rotateKey(node.keys))!;
    const refused = await rejectsWith(rotateKey(node.keys), "forbidden");
    assert.equal(refused.message, `a next key (${first.kid}) already waits to sign from ${first.activateAt}; use --now to replace it`);
    world.time.ms = Date.parse(first.activateAt);
    const second = (await rotateKey(node.keys))!;
    assert.equal(second.activateAt, isoAt(world.time.ms + DELAY_MS));
    assert.deepEqual(jwksKids(), [k1, first.kid, second.kid]);
  });

  test("--now drops the waiting key and signs at once", async () => {
    const waiting = (await rotateKey(node.keys))!;
    world.time.ms = T0 + 5000;
    const now = (await rotateKey(node.keys, { now: true }))!;
    assert.equal(now.activateAt, isoAt(T0 + 5000));
    assert.equal(node.ring.signing().kid, now.kid);
    assert.equal(await row(waiting.kid), undefined);
    assert.deepEqual(jwksKids(), [k1, now.kid]);
    assert.equal(node.ring.find(waiting.kid), undefined);
  });

  test("a rotation deletes the keys that have retired", async () => {
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(node.keys, { now: true }))!.kid;
    const retire = Date.parse((await row(k1))!.retire_after!);
    assert.equal(retire, T0 + 1000 + RETIRE_MS);
    world.time.ms = retire - 1;
    await rotateKey(node.keys, { now: true });
    assert.ok((await row(k1)) !== undefined, "still verifying: kept");
    world.time.ms = retire;
    const k4 = (await rotateKey(node.keys, { now: true }))!.kid;
    const kids = (await world.rows()).map((r) => r.kid);
    assert.ok(!kids.includes(k1), "retired: deleted");
    assert.ok(kids.includes(k2) && kids.includes(k4));
  });

  test("the scheduled rotation: only once the newest key is TOKENVER_KEY_ROTATION old, and never over a waiting key", async () => {
    world.time.ms = T0 + ROTATION_MS - 1;
    assert.equal(await rotateKey(node.keys, { due: true }), undefined);
    assert.equal((await world.rows()).length, 1);
    world.time.ms = T0 + ROTATION_MS;
    const due = (await rotateKey(node.keys, { due: true }))!;
    assert.equal(due.activateAt, isoAt(T0 + ROTATION_MS + DELAY_MS));
    // Long after, but a next key waits: nothing, and no refusal.
    world.time.ms = T0 + ROTATION_MS + DELAY_MS - 1;
    assert.equal(await rotateKey(node.keys, { due: true }), undefined);
    // The age counts from the newest key's activation, not the first's.
    world.time.ms = T0 + ROTATION_MS + DELAY_MS + ROTATION_MS - 1;
    assert.equal(await rotateKey(node.keys, { due: true }), undefined);
    world.time.ms += 1;
    assert.ok((await rotateKey(node.keys, { due: true })) !== undefined);
    assert.equal((await world.rows()).filter((r) => r.retire_after === null).length, 1);
  });

  test("the scheduled rotation not due (asked every second on every node): no lock taken, no new keys' version, nobody told", async () => {
    const version = await keysVersion(world.db);
    world.time.ms = T0 + ROTATION_MS - 1;
    for (let i = 0; i < 3; i++) assert.equal(await rotateKey(node.keys, { due: true }), undefined);
    assert.equal(await keysVersion(world.db), version, "the keys' lock was not taken");
    assert.deepEqual(told, []);
    world.time.ms = T0 + ROTATION_MS;
    assert.ok((await rotateKey(node.keys, { due: true })) !== undefined);
    assert.notEqual(await keysVersion(world.db), version);
    assert.deepEqual(told, ["announce"]);
  });

  test("without due, a rotation does not wait for the key's age", async () => {
    world.time.ms = T0 + 1;
    assert.ok((await rotateKey(node.keys)) !== undefined);
  });
});

describe("revokeKey", () => {
  test("an unknown or already revoked kid is not_found, and changes nothing", async () => {
    const unknown = await rejectsWith(revokeKey(node.keys, "no-such-kid"), "not_found");
    assert.equal(unknown.message, 'no signing key with the id "no-such-kid"');
    world.time.ms += 1000;
    const k2 = (await rotateKey(node.keys, { now: true }))!.kid;
    await revokeKey(node.keys, k1);
    await rejectsWith(revokeKey(node.keys, k1), "not_found");
    assert.deepEqual(
      (await world.rows()).map((r) => r.kid),
      [k2],
    );
  });

  test("a retiring key: gone at once, cached tokens too; remembered; the signer signs on, told to every node", async () => {
    const old = node.sign();
    assert.equal(node.verify(old).sub, "user-1"); // cached by the verifier
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(node.keys, { now: true }))!.kid;
    told.length = 0;
    world.time.ms = T0 + 2000;
    assert.deepEqual(await revokeKey(node.keys, k1), { signer: k2 });
    assert.deepEqual(told, ["announce", `revoked ${k1}`]);
    refusedAs(old, "The token's key is unknown.");
    assert.equal(node.ring.find(k1), undefined);
    assert.deepEqual(jwksKids(), [k2]);
    assert.equal(await row(k1), undefined);
    assert.deepEqual(await world.db.selectFrom("tokenver_revoked_keys").selectAll().execute(), [{ kid: k1, revoked_at: isoAt(T0 + 2000) }]);
    assert.equal(node.ring.signing().kid, k2);
    assert.equal((await row(k2))!.retire_after, null);
  });

  test("the signer with a next key waiting: the next key signs at once", async () => {
    const k2 = (await rotateKey(node.keys))!.kid;
    world.time.ms = T0 + 1000;
    assert.deepEqual(await revokeKey(node.keys, k1), { signer: k2 });
    assert.equal((await row(k2))!.activate_at, isoAt(T0 + 1000));
    assert.equal(node.ring.signing().kid, k2);
    assert.deepEqual(jwksKids(), [k2]);
    assert.equal((await world.rows()).length, 1);
  });

  test("the only signer: a new key of the algorithm signs at once", async () => {
    const token = node.sign();
    world.time.ms = T0 + 1000;
    const { signer } = await revokeKey(node.keys, k1);
    assert.notEqual(signer, k1);
    const [only] = await world.rows();
    assert.deepEqual([only!.kid, only!.alg, only!.activate_at, only!.retire_after], [signer, "EdDSA", isoAt(T0 + 1000), null]);
    assert.equal(node.ring.signing().kid, signer);
    assert.deepEqual(jwksKids(), [signer]);
    refusedAs(token, "The token's key is unknown.");
    assert.equal(node.verify(node.sign()).sub, "user-1");
  });

  test("a key revoked at the very millisecond it began to sign is the signer: replaced, not its predecessor brought back", async () => {
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(node.keys))!.kid;
    const activate = T0 + 1000 + DELAY_MS;
    world.time.ms = activate;
    const { signer } = await revokeKey(node.keys, k2);
    assert.notEqual(signer, k1);
    assert.notEqual(signer, k2);
    assert.equal(node.ring.signing().kid, signer);
    // The predecessor keeps its retirement date: it stopped signing.
    assert.equal((await row(k1))!.retire_after, isoAt(activate + RETIRE_MS));
  });

  test("a next key revoked before it signs: the signer keeps signing, with no retirement date any more", async () => {
    const k2 = (await rotateKey(node.keys))!.kid;
    assert.notEqual((await row(k1))!.retire_after, null);
    world.time.ms = T0 + 1000;
    assert.deepEqual(await revokeKey(node.keys, k2), { signer: k1 });
    assert.equal((await row(k1))!.retire_after, null);
    const listed = await listKeys(node.keys);
    assert.deepEqual(
      listed.map((k) => [k.kid, k.state, k.retireAfter]),
      [[k1, "current", null]],
    );
    world.time.ms = T0 + DELAY_MS + RETIRE_MS + 1;
    assert.equal(node.ring.signing().kid, k1);
    assert.equal(node.ring.find(k1)?.kid, k1);
  });

  test("the last of two waiting keys revoked (a rotation, then a start with another algorithm): the one before it never retires", async () => {
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(node.keys))!.kid;
    world.time.ms = T0 + 2000;
    // A node started with TOKENVER_SIGNING_ALG changed: its start rotates too, behind k2.
    const restarted = await world.open({ alg: "ES256" });
    const k3 = restarted.started!.kid;
    assert.deepEqual(
      (await world.rows()).map((r) => [r.kid, r.activate_at, r.retire_after]),
      [
        [k1, isoAt(T0), isoAt(T0 + 1000 + DELAY_MS + RETIRE_MS)],
        [k2, isoAt(T0 + 1000 + DELAY_MS), isoAt(T0 + 2000 + DELAY_MS + RETIRE_MS)],
        [k3, isoAt(T0 + 2000 + DELAY_MS), null],
      ],
    );
    assert.deepEqual(await revokeKey(node.keys, k3), { signer: k1 });
    assert.equal((await row(k2))!.retire_after, null, "k2 signs last: no retirement date");
    assert.equal((await row(k1))!.retire_after, isoAt(T0 + 1000 + DELAY_MS + RETIRE_MS), "k1 still retires after k2 signs");
    // Long after every retirement date that was: k2 signs, on every node.
    world.time.ms = T0 + 2000 + DELAY_MS + RETIRE_MS + 1;
    await restarted.ring.reload();
    for (const n of [node, restarted]) {
      assert.equal(n.ring.signing().kid, k2);
      assert.equal(n.verify(n.sign()).sub, "user-1");
    }
  });

  test("a waiting key revoked with another waiting after it: the signer retires only after that one signs", async () => {
    // A publish delay longer than the retirement window (a day): k3 is added after k1's retirement
    // date, computed from k2's activation, has been set.
    const DAY = 86_400_000;
    const slow = await world.open({ alg: "EdDSA", keyPublishDelay: DAY / 1000 });
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(slow.keys))!.kid;
    world.time.ms = T0 + 1000 + RETIRE_MS + 60_000;
    const restarted = await world.open({ alg: "ES256", keyPublishDelay: DAY / 1000 });
    const k3 = restarted.started!.kid;
    const k3Activates = world.time.ms + DAY;
    assert.deepEqual(await revokeKey(slow.keys, k2), { signer: k1 });
    assert.equal((await row(k1))!.retire_after, isoAt(k3Activates + RETIRE_MS), "k1 signs until k3 does");
    assert.equal((await row(k3))!.retire_after, null);
    // Past the date k1 had (k2's activation + the window), before k3 signs: k1 still signs and verifies.
    world.time.ms = k3Activates - 1;
    await slow.ring.reload();
    assert.equal(slow.ring.signing().kid, k1);
    assert.equal(slow.verify(slow.sign()).sub, "user-1");
    world.time.ms = k3Activates;
    assert.equal(slow.ring.signing().kid, k3);
  });

  test("a retiring key revoked while a next key waits: the signer keeps its retirement date", async () => {
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(node.keys, { now: true }))!.kid;
    const k3 = (await rotateKey(node.keys))!.kid;
    const k2Retire = (await row(k2))!.retire_after;
    assert.equal(k2Retire, isoAt(T0 + 1000 + DELAY_MS + RETIRE_MS));
    assert.deepEqual(await revokeKey(node.keys, k1), { signer: k2 });
    assert.equal((await row(k2))!.retire_after, k2Retire);
    assert.deepEqual(jwksKids(), [k2, k3]);
  });

  test("HS256: the server secret revoked, a generated HS256 key signs at once; tokens without kid die", async () => {
    const other = await keysWorld({ ms: T0 });
    try {
      const hs = await other.open();
      const secretKid = secretKidOf(SECRET);
      assert.equal(hs.ring.find(undefined)?.kid, secretKid);
      const before = hs.sign();
      other.time.ms = T0 + 1000;
      const { signer } = await revokeKey(hs.keys, secretKid);
      assert.notEqual(signer, secretKid);
      assert.equal(hs.ring.find(undefined), undefined);
      assert.throws(() => hs.verify(before), /The token's key is unknown/);
      const key = hs.ring.signing();
      assert.equal(key.kid, signer);
      assert.equal(key.alg, "HS256");
      assert.equal(key.isSecret, false);
      assert.deepEqual(hs.ring.jwks(), { keys: [] });
      // The HMAC key is the 256 random bits sealed in the row, not their text.
      const sealed = (await other.rows()).find((r) => r.kid === signer)!.private_key!;
      const secretText = open(deriveKey(SECRET, WRAPPING_KEY_LABEL), signer, sealed);
      assert.deepEqual(key.signKey, Buffer.from(secretText, "base64url"));
      assert.deepEqual(key.verifyKey, key.signKey);
      assert.equal((key.signKey as Buffer).length, 32);
      assert.equal(hs.verify(hs.sign()).sub, "user-1");
    } finally {
      await other.close();
    }
  });
});

// A command (the CLI, the admin API) may run on a node whose own clock is off. Every decision about
// keys is taken on the keys' clock (the database's, keys-context.ts), never the node's: a node
// lagging by an hour, or by less than the newest key's age, or ahead by days, changes the keys
// exactly as a node with the right clock would.
describe("on a node whose own clock is off", () => {
  const HOUR = 3_600_000;

  test("revoking the only signer from a node an hour behind: a new key dated by the database signs on every node", async () => {
    world.time.ms = T0 + 1000;
    const lagging = await world.open({ alg: "EdDSA", skewMs: -HOUR });
    const old = node.sign();
    const { signer } = await revokeKey(lagging.keys, k1);
    assert.notEqual(signer, k1);
    const rows = await world.rows();
    assert.deepEqual(
      rows.map((r) => [r.kid, r.created_at, r.activate_at, r.retire_after]),
      [[signer, isoAt(T0 + 1000), isoAt(T0 + 1000), null]],
    );
    await node.ring.reload();
    for (const n of [node, lagging]) {
      assert.equal(n.ring.signing().kid, signer);
      assert.equal(kidOf(n.sign()), signer);
    }
    assert.throws(() => node.verify(old), AuthError);
  });

  test("within the publish delay, a node behind by less than the new key's age takes the new signer for the signer", async () => {
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(node.keys))!.kid;
    const k1Retires = (await row(k1))!.retire_after;
    // k2 has signed for 100 s on the database's clock; on this node's, it still waits for 100 s.
    world.time.ms = T0 + 1000 + DELAY_MS + 100_000;
    const lagging = await world.open({ alg: "EdDSA", skewMs: -200_000 });
    assert.equal(lagging.ring.signing().kid, k1, "the node's own clock still has k1 signing");
    // What `keys list` shows there is what the commands decide on: the keys' clock.
    assert.deepEqual(
      (await listKeys(lagging.keys)).map((k) => [k.kid, k.state]),
      [
        [k1, "retiring"],
        [k2, "current"],
      ],
    );
    // rotate --now keeps k2 (the signer, not a waiting key): it retires, its tokens still verify.
    const k3 = (await rotateKey(lagging.keys, { now: true }))!.kid;
    assert.notEqual(await row(k2), undefined);
    assert.equal((await row(k2))!.retire_after, isoAt(world.time.ms + RETIRE_MS));
    // Revoking k3, the signer now: no rotated-away key comes back; a new key signs.
    const { signer } = await revokeKey(lagging.keys, k3);
    assert.ok(![k1, k2, k3].includes(signer));
    assert.equal((await row(k1))!.retire_after, k1Retires);
    assert.equal((await row(k2))!.retire_after, isoAt(world.time.ms + RETIRE_MS));
  });

  test("a rotation from a node days ahead is dated by the database: the other nodes' commands still run", async () => {
    world.time.ms = T0 + 1000;
    const ahead = await world.open({ alg: "EdDSA", keyRotation: ROTATION_DAYS, skewMs: 3 * 86_400_000 });
    const rotated = (await rotateKey(ahead.keys))!;
    assert.equal(rotated.activateAt, isoAt(T0 + 1000 + DELAY_MS));
    assert.equal((await row(rotated.kid))!.created_at, isoAt(T0 + 1000));
    // Listed there as the database's clock has it: k1 signs (retired by that node's own clock), the new key waits.
    assert.deepEqual(
      (await listKeys(ahead.keys)).map((k) => [k.kid, k.state]),
      [
        [k1, "current"],
        [rotated.kid, "next"],
      ],
    );
    // Not refused on the right clock; and the scheduled rotation is not due on the node ahead.
    world.time.ms = T0 + 2000;
    const k3 = (await rotateKey(node.keys, { now: true }))!.kid;
    assert.equal(await rotateKey(ahead.keys, { due: true }), undefined);
    assert.deepEqual(
      (await world.rows()).map((r) => r.kid),
      [k1, k3],
    );
  });
});

// The keys' clock itself went back (a failover to a database server whose clock lags, a host clock
// set back): deciding which key signs on it, a command could delete the signer as a waiting key,
// leave no key at all, or give a rotated-away key back its place: it is refused instead (signer-at.ts).
describe("on a keys' clock set back behind a key's creation", () => {
  /** Refused, naming a key made after this clock's now (the first such, in activation order). */
  async function refusedLagging(promise: Promise<unknown>, kid: string) {
    const error = await rejectsWith(promise, "forbidden", { status: 403 });
    const created = (await world.rows()).find((r) => r.kid === kid)!.created_at;
    // The clock and the key, and what to do about it.
    assert.equal(
      error.message,
      `the keys' clock (PostgreSQL's, or this host's on SQLite; ${isoAt(world.time.ms)}) is behind the creation of key ${kid} (${created}): ` +
        "that clock was set back, or the key was dated on another clock, ahead; correct the clock (NTP), " +
        "or wait until that time (docs/keys.md, Clocks)",
    );
  }

  test("revoking the only signer is refused and changes nothing: the key still signs", async () => {
    const before = await world.rows();
    world.time.ms = T0 - 1000;
    await refusedLagging(revokeKey(node.keys, k1), k1);
    assert.deepEqual(await world.rows(), before);
    assert.deepEqual(told, []);
    world.time.ms = T0 + 5000;
    assert.equal(node.ring.signing().kid, k1);
    assert.equal(node.verify(node.sign()).sub, "user-1");
  });

  test("after rotate --now, revoking the new key from behind it is refused: the rotated-away key keeps its retirement", async () => {
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(node.keys, { now: true }))!.kid;
    const retire = (await row(k1))!.retire_after;
    assert.notEqual(retire, null);
    for (const [lag, named] of [
      [T0 - 1000, k1],
      [T0 + 500, k2],
    ] as const) {
      world.time.ms = lag;
      await refusedLagging(revokeKey(node.keys, k2), named);
      await refusedLagging(rotateKey(node.keys, { now: true }), named);
    }
    assert.equal((await row(k1))!.retire_after, retire);
    assert.notEqual(await row(k2), undefined);
  });

  test("a plain rotation is refused too; the scheduled one is simply not due on that node", async () => {
    world.time.ms = T0 - 1000;
    await refusedLagging(rotateKey(node.keys), k1);
    world.time.ms = T0 - 1000 + ROTATION_MS;
    assert.equal(await rotateKey(node.keys, { due: true }), undefined);
    assert.deepEqual(
      (await world.rows()).map((r) => r.kid),
      [k1],
    );
  });

  test("at the very millisecond of a key's creation the clock is not behind: the commands run", async () => {
    world.time.ms = T0;
    const { signer } = await revokeKey(node.keys, k1);
    assert.notEqual(signer, k1);
    assert.equal(node.ring.signing().kid, signer);
  });
});

describe("the private halves at rest", () => {
  test("sealed under the key derived from the secret, bound to their kid; the JWKS comes from the private half", async () => {
    world.time.ms = T0 + 1000;
    const k2 = (await rotateKey(node.keys))!.kid;
    const wrapping = deriveKey(SECRET, WRAPPING_KEY_LABEL);
    const rows = await world.rows();
    for (const r of rows) {
      assert.ok(r.private_key !== null);
      assert.ok(!r.private_key.includes("PRIVATE KEY"));
      const pem = open(wrapping, r.kid, r.private_key);
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
      assert.equal(node.ring.find(r.kid)!.signKey, pem);
      assert.ok(!r.private_key.includes(pem.split("\n")[1]!), "the PEM's body is not in the row");
      // Bound to the kid: another row's kid does not open it.
      assert.throws(() => open(wrapping, r.kid === k1 ? k2 : k1, r.private_key!));
      assert.deepEqual(JSON.parse(r.public_jwk!), node.ring.find(r.kid)!.publicJwk);
    }
    // A public_jwk rewritten in the database is not what a node publishes.
    const forged = { ...JSON.parse(rows[1]!.public_jwk!), x: JSON.parse(rows[0]!.public_jwk!).x };
    await world.db
      .updateTable("tokenver_signing_keys")
      .set({ public_jwk: JSON.stringify(forged) })
      .where("kid", "=", k2)
      .execute();
    const fresh = await world.open({ alg: "EdDSA" });
    assert.deepEqual(
      fresh.ring.jwks().keys.find((k) => k.kid === k2),
      node.ring.find(k2)!.publicJwk,
    );
    // A sealed half moved to another row does not open there: the start refuses it.
    await world.db.updateTable("tokenver_signing_keys").set({ private_key: rows[0]!.private_key }).where("kid", "=", k2).execute();
    await assert.rejects(world.open({ alg: "EdDSA" }), /is not the secret the signing key/);
  });
});
