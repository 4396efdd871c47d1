// ensureKeys and openKeys (src/core/keys/ensure-keys.ts, open-keys.ts) over a real SQLite store in
// memory: what the first start stores for each algorithm (with and without sessions from before
// keys existed), a restart that changes nothing, a changed algorithm or configured key as a
// rotation (published first, signing after the delay), the HS256 keys of other secrets left alone,
// a revoked configured key or server secret never used again (also when the revocation commits
// between the check outside the lock and the lock), and two starts at once ending with one key.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { afterEach, beforeEach, describe, test } from "node:test";
import { isoAt } from "../../../../src/core/clock.js";
import { ensureKeys } from "../../../../src/core/keys/ensure-keys.js";
import { importConfiguredKey, SigningKeyError } from "../../../../src/core/keys/material.js";
import { revokeKey } from "../../../../src/core/keys/revoke-key.js";
import { secretKidOf } from "../../../../src/core/tokens/access-token.js";
import { AuthError } from "../../../../src/core/errors.js";
import { keysVersion } from "../../../../src/store/queries/signing-keys.js";
import { forge, validClaims } from "../../../support/tokens-forge.js";
import {
  beforeFirstTransaction,
  ISSUER,
  kidOf,
  keysWorld,
  OTHER_SECRET,
  PUBLISH_DELAY,
  RETIRE_MS,
  SECRET,
  T0,
  type KeysWorld,
} from "./keys-world.js";

const SECRET_KID = secretKidOf(SECRET);
const pemOf = (curve: "P-256") =>
  generateKeyPairSync("ec", { namedCurve: curve }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();

let world: KeysWorld;
beforeEach(async () => {
  world = await keysWorld({ ms: T0 });
});
afterEach(() => world.close());

/** A token as tokenver signed them before kid existed: HS256 with the server secret, no kid. */
const legacyToken = (secret = SECRET) =>
  forge({
    header: { alg: "HS256", typ: "at+jwt" },
    claims: {
      ...validClaims("user-1", "session-1", 0, ISSUER),
      iat: Math.floor(world.time.ms / 1000),
      exp: Math.floor(world.time.ms / 1000) + 600,
    },
    secret,
  });

function refusedAs(verify: () => unknown, detail: string) {
  assert.throws(verify, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, "token_invalid");
    assert.equal(error.message, detail);
    return true;
  });
}

describe("the first start", () => {
  test("HS256: the server secret is the key, under its derived kid, signing now; a restart adds nothing", async () => {
    const node = await world.open();
    assert.deepEqual(node.started, { kid: SECRET_KID, reason: "first" });
    assert.deepEqual(await world.rows(), [
      {
        kid: SECRET_KID,
        alg: "HS256",
        private_key: null,
        public_jwk: null,
        created_at: isoAt(T0),
        activate_at: isoAt(T0),
        retire_after: null,
      },
    ]);
    const signer = node.ring.signing();
    assert.equal(signer.kid, SECRET_KID);
    assert.equal(signer.isSecret, true);
    assert.equal(signer.signKey, SECRET);
    assert.equal(node.ring.find(undefined), signer);
    assert.deepEqual(node.ring.jwks(), { keys: [] });
    // Tokens from before kid existed verify with the secret.
    assert.equal(node.verify(legacyToken()).sub, "user-1");
    assert.equal(kidOf(node.sign()), SECRET_KID);

    world.time.ms += 60_000;
    const again = await world.open();
    assert.equal(again.started, undefined);
    assert.equal((await world.rows()).length, 1);
    assert.equal(again.ring.signing().kid, SECRET_KID);
  });

  test("EdDSA on an empty database: only the generated key, signing now; the secret verifies nothing", async () => {
    const node = await world.open({ alg: "EdDSA" });
    const rows = await world.rows();
    assert.equal(rows.length, 1, "no HS256 row for the secret: no token was ever signed with it");
    const [row] = rows;
    assert.deepEqual(node.started, { kid: row!.kid, reason: "first" });
    assert.equal(row!.alg, "EdDSA");
    assert.equal(row!.activate_at, isoAt(T0));
    assert.equal(row!.retire_after, null);
    assert.equal(row!.created_at, isoAt(T0));
    assert.deepEqual(JSON.parse(row!.public_jwk!), node.ring.jwks().keys[0]);
    assert.equal(node.ring.signing().kid, row!.kid);
    assert.equal(node.ring.find(undefined), undefined);
    refusedAs(() => node.verify(legacyToken()), "The token's key is unknown.");
    const token = node.sign();
    assert.equal(kidOf(token), row!.kid);
    assert.equal(node.verify(token).sub, "user-1");

    const again = await world.open({ alg: "EdDSA" });
    assert.equal(again.started, undefined);
    assert.equal((await world.rows()).length, 1);
  });

  test("EdDSA over sessions from before keys existed: the secret verifies their tokens until they expire", async () => {
    const userId = await world.base.addUser();
    await world.base.signIn(userId);
    const node = await world.open({ alg: "EdDSA" });
    const rows = await world.rows();
    assert.equal(rows.length, 2);
    const [secretRow, edRow] = rows;
    assert.deepEqual(secretRow, {
      kid: SECRET_KID,
      alg: "HS256",
      private_key: null,
      public_jwk: null,
      created_at: isoAt(T0),
      activate_at: isoAt(0),
      retire_after: isoAt(T0 + RETIRE_MS),
    });
    assert.equal(edRow!.alg, "EdDSA");
    assert.equal(edRow!.activate_at, isoAt(T0));
    assert.equal(edRow!.retire_after, null);
    assert.deepEqual(node.started, { kid: edRow!.kid, reason: "first" });
    assert.equal(node.ring.signing().kid, edRow!.kid);

    const legacy = legacyToken();
    assert.equal(node.verify(legacy).sub, "user-1");
    assert.equal(node.ring.stateOf(node.ring.find(undefined)!), "retiring");
    world.time.ms = T0 + RETIRE_MS - 1;
    assert.equal(node.ring.find(SECRET_KID)?.kid, SECRET_KID);
    world.time.ms = T0 + RETIRE_MS;
    assert.equal(node.ring.find(undefined), undefined);
    assert.equal(node.ring.find(SECRET_KID), undefined);
  });

  test("a configured key signs from the first start; the same key again is no change", async () => {
    const pem = pemOf("P-256");
    const node = await world.open({ alg: "ES256", signingKey: pem });
    const [row] = await world.rows();
    assert.deepEqual(node.started, { kid: row!.kid, reason: "first" });
    assert.equal(row!.kid, (await importConfiguredKey(pem, "ES256")).kid);
    assert.equal(node.ring.signing().kid, row!.kid);
    world.time.ms += 1000;
    const again = await world.open({ alg: "ES256", signingKey: pem });
    assert.equal(again.started, undefined);
    assert.equal((await world.rows()).length, 1);
  });
});

describe("a later start with other settings", () => {
  test("HS256 to EdDSA is a rotation: published at once, signing after the publish delay", async () => {
    await world.open();
    world.time.ms = T0 + 5000;
    const node = await world.open({ alg: "EdDSA" });
    const rows = await world.rows();
    const ed = rows.find((r) => r.alg === "EdDSA")!;
    assert.deepEqual(node.started, { kid: ed.kid, reason: "algorithm_changed" });
    const activate = T0 + 5000 + PUBLISH_DELAY * 1000;
    assert.equal(ed.activate_at, isoAt(activate));
    assert.equal(ed.created_at, isoAt(T0 + 5000));
    assert.equal(rows.find((r) => r.kid === SECRET_KID)!.retire_after, isoAt(activate + RETIRE_MS));
    assert.equal(node.ring.signing().kid, SECRET_KID);
    assert.deepEqual(
      node.ring.jwks().keys.map((k) => k.kid),
      [ed.kid],
    );
    world.time.ms = activate;
    assert.equal(node.ring.signing().kid, ed.kid);
  });

  test("EdDSA back to HS256: a generated HS256 key, not the secret, signs after the delay", async () => {
    const first = await world.open({ alg: "EdDSA" });
    world.time.ms = T0 + 1000;
    const node = await world.open({ alg: "HS256" });
    assert.equal(node.started?.reason, "algorithm_changed");
    const kid = node.started!.kid;
    assert.notEqual(kid, SECRET_KID);
    assert.match(kid, /^[A-Za-z0-9_-]{22}$/);
    const row = (await world.rows()).find((r) => r.kid === kid)!;
    assert.equal(row.alg, "HS256");
    assert.notEqual(row.private_key, null);
    assert.equal(row.public_jwk, null, "nothing of an HMAC key is public");
    assert.equal(row.activate_at, isoAt(T0 + 1000 + PUBLISH_DELAY * 1000));
    assert.equal(node.ring.signing().kid, first.started!.kid);
    world.time.ms = T0 + 1000 + PUBLISH_DELAY * 1000;
    assert.equal(node.ring.signing().kid, kid);
    assert.equal(node.ring.find(undefined), undefined, "the secret never was a key here");
    // A third start with HS256: the generated key is the newest, of the right algorithm: no change.
    assert.equal((await world.open({ alg: "HS256" })).started, undefined);
  });

  test("a changed configured key is a rotation with its own reason", async () => {
    await world.open({ alg: "ES256", signingKey: pemOf("P-256") });
    world.time.ms = T0 + 2000;
    const second = pemOf("P-256");
    const node = await world.open({ alg: "ES256", signingKey: second });
    assert.equal(node.started?.reason, "configured_key");
    const row = (await world.rows()).find((r) => r.kid === node.started!.kid)!;
    assert.equal(row.activate_at, isoAt(T0 + 2000 + PUBLISH_DELAY * 1000));
    // The new configured key again, with the old one still verifying beside it: nothing to do.
    world.time.ms = T0 + 3000;
    assert.equal((await world.open({ alg: "ES256", signingKey: second })).started, undefined);
    assert.equal((await world.rows()).length, 2);
    // Without TOKENVER_SIGNING_KEY, the newest key is of the algorithm: nothing to do.
    assert.equal((await world.open({ alg: "ES256" })).started, undefined);
  });

  test("another TOKENVER_SECRET on the database: its own HS256 key, the others' left alone and unused", async () => {
    const first = await world.open();
    world.time.ms = T0 + 1000;
    const other = await world.open({ secret: OTHER_SECRET });
    const otherKid = secretKidOf(OTHER_SECRET);
    assert.deepEqual(other.started, { kid: otherKid, reason: "first" });
    const rows = await world.rows();
    assert.deepEqual(
      rows.map((r) => [r.kid, r.activate_at, r.retire_after]),
      [
        [SECRET_KID, isoAt(T0), null],
        [otherKid, isoAt(T0 + 1000), null],
      ],
    );
    // Each node knows its own secret's key only: the other's tokens are refused.
    assert.equal(other.ring.find(SECRET_KID), undefined);
    assert.equal(other.ring.find(undefined)!.kid, otherKid);
    assert.deepEqual(
      other.ring.keys().map((k) => k.kid),
      [otherKid],
    );
    refusedAs(() => other.verify(first.sign()), "The token's key is unknown.");
    await first.ring.reload();
    assert.equal(first.ring.find(otherKid), undefined);
    assert.equal(first.ring.signing().kid, SECRET_KID);
    // The first secret again: its key is live, no change.
    assert.equal((await world.open()).started, undefined);
  });

  test("a key that retires exactly now is not live: the start makes the secret sign again", async () => {
    await world.open();
    await world.db
      .updateTable("tokenver_signing_keys")
      .set({ retire_after: isoAt(T0 + 1000) })
      .execute();
    world.time.ms = T0 + 1000;
    const node = await world.open();
    assert.deepEqual(node.started, { kid: SECRET_KID, reason: "first" });
    const [row] = await world.rows();
    assert.equal(row!.activate_at, isoAt(T0 + 1000));
    assert.equal(row!.retire_after, null);
    assert.equal(node.ring.signing().kid, SECRET_KID);
  });
});

describe("revoked keys are never used again", () => {
  test("a configured key that was revoked stops the start, naming it and when", async () => {
    const pem = pemOf("P-256");
    const node = await world.open({ alg: "ES256", signingKey: pem });
    const kid = node.started!.kid;
    world.time.ms = T0 + 3000;
    await revokeKey(node.keys, kid);
    await assert.rejects(world.open({ alg: "ES256", signingKey: pem }), (error: unknown) => {
      assert.ok(error instanceof SigningKeyError, String(error));
      assert.equal(
        error.message,
        `names the signing key ${kid}, which was revoked (tokenver keys revoke) at ${isoAt(T0 + 3000)}: ` +
          "clear TOKENVER_SIGNING_KEY (the key that replaced it signs) or set a new key; a revoked key is never used again",
      );
      return true;
    });
  });

  test("a revocation that commits between the check and the lock still stops the start", async () => {
    const pem = pemOf("P-256");
    let racer: Awaited<ReturnType<KeysWorld["open"]>> | undefined;
    const wrap = (db: Parameters<typeof beforeFirstTransaction>[0]) =>
      beforeFirstTransaction(db, async () => {
        // Another node starts with the same key and an operator revokes it, both before this one locks.
        racer = await world.open({ alg: "ES256", signingKey: pem });
        await revokeKey(racer.keys, racer.started!.kid);
      });
    await assert.rejects(world.open({ alg: "ES256", signingKey: pem, wrap }), SigningKeyError);
    assert.ok(racer !== undefined, "the race ran");
    const rows = await world.rows();
    assert.equal(rows.length, 1, "only the key that replaced the revoked one");
    assert.notEqual(rows[0]!.kid, racer.started!.kid);
  });

  test("the server secret's key, once revoked, is not added again: a generated HS256 key signs", async () => {
    const node = await world.open();
    const { signer } = await revokeKey(node.keys, SECRET_KID);
    // An operator empties the table (the record of the revocation stays).
    await world.db.deleteFrom("tokenver_signing_keys").execute();
    world.time.ms = T0 + 1000;
    const again = await world.open();
    assert.equal(again.started?.reason, "first");
    assert.notEqual(again.started!.kid, SECRET_KID);
    assert.notEqual(again.started!.kid, signer);
    const rows = await world.rows();
    assert.deepEqual(
      rows.map((r) => [r.kid, r.alg, r.activate_at, r.private_key === null]),
      [[again.started!.kid, "HS256", isoAt(T0 + 1000), false]],
    );
    assert.equal(again.ring.find(undefined), undefined);
    refusedAs(() => again.verify(legacyToken()), "The token's key is unknown.");
    assert.equal(again.verify(again.sign()).sub, "user-1");
  });
});

describe("starts at once", () => {
  test("a node that finds another's key under the lock adds none: one key", async () => {
    let racer: Awaited<ReturnType<KeysWorld["open"]>> | undefined;
    const node = await world.open({
      alg: "EdDSA",
      wrap: (db) =>
        beforeFirstTransaction(db, async () => {
          racer = await world.open({ alg: "EdDSA" });
        }),
    });
    assert.ok(racer !== undefined, "the race ran");
    assert.equal(racer.started?.reason, "first");
    assert.equal(node.started, undefined);
    const rows = await world.rows();
    assert.equal(rows.length, 1);
    assert.equal(node.ring.signing().kid, racer.started!.kid);
  });

  test("a start that changes nothing takes no lock and leaves the keys' version alone (no node reloads)", async () => {
    const node = await world.open({ alg: "EdDSA" });
    const version = await keysVersion(world.db);
    assert.ok(version !== undefined);
    assert.equal(await ensureKeys(node.keys), undefined);
    assert.equal(await keysVersion(world.db), version);
  });
});
