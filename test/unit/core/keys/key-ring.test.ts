// The key ring (src/core/keys/key-ring.ts) over a real SQLite store and a manual clock: a key
// revoked by another node gone here at once and for good, even when the database does not answer
// (then the keys are stale, and no key at all is a 503, never a key that should be gone); the lease
// of several nodes (the keys read again once it lapses or invalidations may have been missed, one
// read shared by every caller, the keys only when their version moved); a SQLite file written by a
// command beside the server (seen before the next answer; a check that fails is a 503); keys sealed
// under another secret; the key objects kept across reloads (the verified-token cache compares them).
// The poll is in key-ring-poll.test.ts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { isoAt } from "../../../../src/core/clock.js";
import { AuthError } from "../../../../src/core/errors.js";
import { WRAPPING_KEY_LABEL } from "../../../../src/core/keys/key-ring.js";
import { addKey } from "../../../../src/core/keys/keys-context.js";
import { generateKeyMaterial } from "../../../../src/core/keys/material.js";
import { openKeys } from "../../../../src/core/keys/open-keys.js";
import { revokeKey } from "../../../../src/core/keys/revoke-key.js";
import { rotateKey } from "../../../../src/core/keys/rotate-key.js";
import { secretKidOf } from "../../../../src/core/tokens/access-token.js";
import { deriveKey } from "../../../../src/lib/derive-key.js";
import { openStore, type Store } from "../../../../src/store/database.js";
import { migrateToLatest } from "../../../../src/store/migrations/index.js";
import { withKeysLock } from "../../../../src/store/queries/signing-keys.js";
import { ExternalWrites } from "../../../../src/store/revocation/external-writes.js";
import { keySettings, keysWorld, OTHER_SECRET, SECRET, T0, type KeysNode, type KeysWorld } from "./keys-world.js";

const SECRET_KID = secretKidOf(SECRET);

let world: KeysWorld;
beforeEach(async () => {
  world = await keysWorld({ ms: T0 });
});
afterEach(() => world.close());

function unavailable(run: () => unknown) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, "service_unavailable");
    assert.equal(error.status, 503);
    return true;
  });
}

/** An EdDSA node whose first key k1 was replaced by k2 (rotate --now): k1 retiring, k2 signing. */
async function rotatedNode(): Promise<{ node: KeysNode; k1: string; k2: string }> {
  const node = await world.open({ alg: "EdDSA" });
  world.time.ms += 1000;
  const k2 = (await rotateKey(node.keys, { now: true }))!.kid;
  return { node, k1: node.started!.kid, k2 };
}

const lease = (ms = 60_000) => ({ validUntil: performance.now() + ms, wallValidUntil: Date.now() + ms });

describe("a key revoked by another node (revoked)", () => {
  test("gone at once, cached tokens too, and never installed again by a reload", async () => {
    const { node, k1, k2 } = await rotatedNode();
    world.time.ms -= 1000;
    const old = node.sign();
    world.time.ms += 1000;
    assert.equal(node.verify(old).sub, "user-1");
    await node.ring.revoked(k1);
    assert.equal(node.ring.find(k1), undefined);
    assert.deepEqual(
      node.ring.keys().map((k) => k.kid),
      [k2],
    );
    assert.throws(() => node.verify(old), /The token's key is unknown/);
    // The row is still there (the revoking node's commit is elsewhere): no read brings the key back.
    assert.ok((await world.rows()).some((r) => r.kid === k1));
    await node.ring.reload();
    assert.equal(node.ring.find(k1), undefined);
    assert.equal(node.ring.signing().kid, k2);
  });

  test("with the database down: the key is gone anyway, revoked() resolves, the keys are stale; no key left is a 503", async () => {
    const node = await world.open();
    node.ring.followLease(lease());
    assert.equal(node.ring.fresh(), undefined);
    const token = node.sign();
    node.outage.down = true;
    await node.ring.revoked(SECRET_KID);
    assert.equal(node.ring.find(undefined), undefined);
    assert.equal(node.ring.find(SECRET_KID), undefined);
    assert.deepEqual(node.ring.keys(), []);
    assert.throws(() => node.verify(token), /The token's key is unknown/);
    unavailable(() => node.ring.signing());
    // Stale: the next caller reads the keys again first (and fails closed while the database is down).
    const read = node.ring.fresh();
    assert.ok(read !== undefined, "stale after a failed read");
    await assert.rejects(read, /test outage/);
    node.outage.down = false;
    await node.ring.fresh();
    assert.equal(node.ring.fresh(), undefined);
    unavailable(() => node.ring.signing());
  });

  test("with the database down, revoking another key leaves the server secret's tokens verifying", async () => {
    const node = await world.open();
    world.time.ms += 1000;
    const k2 = (await rotateKey(node.keys, { now: true }))!.kid;
    const legacy = node.ring.find(undefined);
    assert.equal(legacy?.kid, SECRET_KID);
    node.outage.down = true;
    await node.ring.revoked(k2);
    assert.equal(node.ring.find(k2), undefined);
    assert.equal(node.ring.find(undefined), legacy);
    assert.equal(node.ring.signing(), legacy);
  });
});

describe("fresh(): the lease of several nodes", () => {
  test("without a lease the keys in memory are used as they are", async () => {
    const node = await world.open();
    node.ring.stale();
    assert.equal(node.ring.fresh(), undefined);
  });

  test("under a lease, after a read: nothing to do; stale() or a lapsed lease (either clock): one read, shared", async () => {
    const node = await world.open();
    node.ring.followLease(lease());
    assert.equal(node.ring.fresh(), undefined);
    node.ring.stale();
    const first = node.ring.fresh();
    assert.ok(first !== undefined);
    assert.equal(node.ring.fresh(), first, "callers share the read");
    await first;
    assert.equal(node.ring.fresh(), undefined);

    for (const lapsed of [
      { validUntil: performance.now() - 1, wallValidUntil: Date.now() + 60_000 },
      { validUntil: performance.now() + 60_000, wallValidUntil: Date.now() - 1 },
    ]) {
      node.ring.followLease(lapsed);
      const read = node.ring.fresh();
      assert.ok(read !== undefined);
      assert.equal(node.ring.fresh(), read);
      await read;
      // Still lapsed: the next caller gets a new read, not the one that ended.
      const next = node.ring.fresh();
      assert.ok(next !== undefined && next !== read);
      await next;
    }
  });

  test("the read after a lapse sees what another node changed; only the version when nothing did", async () => {
    const { node, k1, k2 } = await rotatedNode();
    const other = await world.open({ alg: "EdDSA" });
    node.ring.followLease({ validUntil: 0, wallValidUntil: 0 });
    let before = node.outage.queries;
    await node.ring.fresh();
    assert.equal(node.outage.queries - before, 1, "the version only");
    assert.ok(node.ring.find(k1) !== undefined);

    await revokeKey(other.keys, k1);
    assert.ok(node.ring.find(k1) !== undefined, "not told: still here until it reads");
    before = node.outage.queries;
    await node.ring.fresh();
    assert.equal(node.outage.queries - before, 3, "the version, then the version and the keys");
    assert.equal(node.ring.find(k1), undefined);

    // And again: a later read is a new one.
    await revokeKey(other.keys, k2);
    await node.ring.fresh();
    assert.equal(node.ring.find(k2), undefined);
    assert.equal(node.ring.signing().kid, other.ring.signing().kid);
  });
});

describe("the key the ring answers", () => {
  test("a node whose clock is behind every key's activation still signs, with the earliest", async () => {
    const { node, k1 } = await rotatedNode();
    world.time.ms = T0 - 5000;
    assert.equal(node.ring.signing().kid, k1);
  });

  test("tokens without kid are the server secret's, also once a generated key signs", async () => {
    const node = await world.open();
    world.time.ms += 1000;
    const k2 = (await rotateKey(node.keys, { now: true }))!.kid;
    assert.equal(node.ring.signing().kid, k2);
    assert.equal(node.ring.find(undefined)?.kid, SECRET_KID);
    assert.equal(node.ring.find(undefined)?.isSecret, true);
    assert.equal(node.ring.find(k2)?.isSecret, false);
    assert.equal(node.ring.find("no-such-kid"), undefined);
  });

  test("a key keeps its object across reloads; a changed date gives it a new one with the new date", async () => {
    const node = await world.open({ alg: "ES256" });
    const k1 = node.started!.kid;
    const key = node.ring.find(k1)!;
    const token = node.sign();
    assert.equal(node.verify(token).sub, "user-1");
    await node.ring.reload();
    assert.equal(node.ring.find(k1), key);
    world.time.ms += 1000;
    await rotateKey(node.keys);
    const changed = node.ring.find(k1)!;
    assert.notEqual(changed, key);
    assert.equal(changed.retireAfter, Date.parse((await world.rows()).find((r) => r.kid === k1)!.retire_after!));
    assert.deepEqual({ ...changed, retireAfter: undefined }, { ...key, retireAfter: undefined });
    assert.equal(node.verify(token).sub, "user-1");
  });
});

describe("keys sealed under another secret", () => {
  /** What a command run with another TOKENVER_SECRET adds: a key sealed under that secret's wrapping key. */
  async function addForeignKey(node: KeysNode, activateAt: number): Promise<string> {
    const material = await generateKeyMaterial("EdDSA");
    const foreign = { ...node.keys, wrappingKey: deriveKey(OTHER_SECRET, WRAPPING_KEY_LABEL) };
    await withKeysLock(world.db, (trx) => addKey(trx, foreign, material, activateAt, world.time.ms));
    return material.kid;
  }

  test("after the start: a warning naming it, the key unknown here, the others keep signing", async () => {
    const node = await world.open({ alg: "EdDSA" });
    const k1 = node.started!.kid;
    world.time.ms += 1000;
    const kid = await addForeignKey(node, world.time.ms);
    await node.ring.reload();
    assert.deepEqual(node.warnings, [
      `signing keys: is not the secret the signing key ${kid} was sealed with (every node and command needs the same TOKENVER_SECRET); ignoring it`,
    ]);
    assert.equal(node.ring.find(kid), undefined);
    assert.equal(node.ring.signing().kid, k1);
    // At a start it stops the start.
    await assert.rejects(world.open({ alg: "EdDSA" }), /is not the secret the signing key/);
  });

  test("a retired one is skipped at the start, from the millisecond it retires", async () => {
    const node = await world.open({ alg: "EdDSA" });
    const kid = await addForeignKey(node, T0 - 10_000);
    await world.db.updateTable("tokenver_signing_keys").set({ retire_after: null }).where("kid", "=", node.started!.kid).execute();
    await world.db
      .updateTable("tokenver_signing_keys")
      .set({ retire_after: isoAt(T0 + 5000) })
      .where("kid", "=", kid)
      .execute();
    world.time.ms = T0 + 4999;
    await assert.rejects(world.open({ alg: "EdDSA" }), /is not the secret the signing key/);
    world.time.ms = T0 + 5000;
    const again = await world.open({ alg: "EdDSA" });
    assert.equal(again.ring.signing().kid, node.started!.kid);
    assert.deepEqual(again.warnings, []);
  });
});

describe("reads of the keys", () => {
  test("a read that failed does not stop the later ones", async () => {
    const { node, k1 } = await rotatedNode();
    const other = await world.open({ alg: "EdDSA" });
    await revokeKey(other.keys, k1);
    node.outage.down = true;
    await assert.rejects(node.ring.reload(), /test outage/);
    node.outage.down = false;
    await node.ring.reload();
    assert.equal(node.ring.find(k1), undefined);
  });
});

describe("a SQLite file written by a command beside the server (watchSqlite)", () => {
  let dir: string;
  let stores: Store[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tokenver-key-ring-"));
    stores = [];
  });
  afterEach(async () => {
    for (const store of stores) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const openFile = async () => {
    const store = await openStore(`sqlite:${join(dir, "keys.db")}`, { exclusive: false });
    stores.push(store);
    return store;
  };

  test("the command's revocation is seen before the server's next answer, with no poll", async () => {
    const serverStore = await openFile();
    await migrateToLatest(serverStore.db);
    const server = await openKeys(serverStore.db, SECRET, keySettings(world.time, [], { alg: "EdDSA" }));
    server.keys.ring.watchSqlite(new ExternalWrites(serverStore.sqlite!), serverStore.sqlite!);
    const k1 = server.started!.kid;
    const cli = await openKeys((await openFile()).db, SECRET, keySettings(world.time, [], { alg: "EdDSA" }));
    world.time.ms += 1000;
    const { signer } = await revokeKey(cli.keys, k1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(server.keys.ring.find(k1), undefined);
    assert.equal(server.keys.ring.signing().kid, signer);
    assert.deepEqual(
      server.keys.ring.jwks().keys.map((k) => k.kid),
      [signer],
    );
  });

  test("when the check cannot read the file, the ring answers nothing: 503", async () => {
    const node = await world.open();
    const token = node.sign();
    const sqlite = world.base.store.sqlite!;
    class Failing extends ExternalWrites {
      override check(): boolean {
        throw new Error("SQLITE_IOERR (test)");
      }
    }
    node.ring.watchSqlite(new Failing(sqlite), sqlite);
    unavailable(() => node.ring.signing());
    unavailable(() => node.ring.find(SECRET_KID));
    unavailable(() => node.ring.find(undefined));
    unavailable(() => node.verify(token));
  });
});
