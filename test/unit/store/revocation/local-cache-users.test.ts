// Unit tests for the user rows of src/store/revocation/local-cache.ts (LocalRevocationCache.readUser):
// answered only at the version they were read at, forgotten by a user-wide invalidation, a bump,
// an announcement (userChanged) or clear(), never filled by a read that an announcement overtook
// (the epoch), and with a lease only while it holds. Across nodes: test/scale-out/user-rows.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LocalRevocationCache } from "../../../../src/store/revocation/local-cache.js";
import type { CacheLease, RevocationState } from "../../../../src/store/revocation/state.js";

interface Row {
  id: string;
  token_version: number;
  username: string;
}

function world(options: { lease?: CacheLease; maxAgeSeconds?: number } = {}) {
  const announced: string[] = [];
  const inner: RevocationState = {
    get: async () => undefined,
    beforeRevoke: async () => Infinity,
    afterRevoke: async () => {},
    userChanged: async (userId) => void announced.push(userId),
    ping: async () => {},
    close: async () => {},
  };
  const cache = new LocalRevocationCache(inner, options);
  const rows = new Map<string, Row>([["u", { id: "u", token_version: 0, username: "first" }]]);
  let loads = 0;
  const waiting: Array<() => void> = [];
  let gated = false;
  const load = async (id: string) => {
    loads++;
    const row = rows.get(id);
    const copy = row && { ...row };
    if (gated) await new Promise<void>((resolve) => waiting.push(resolve));
    return copy;
  };
  return {
    cache,
    rows,
    announced,
    read: (version = 0) => cache.readUser("u", version, load),
    loads: () => loads,
    gate: () => (gated = true),
    open: () => {
      gated = false;
      waiting.splice(0).forEach((resolve) => resolve());
    },
    set: (username: string, version = 0) => rows.set("u", { id: "u", token_version: version, username }),
  };
}

describe("LocalRevocationCache.readUser", () => {
  test("a row read once is answered from memory at its version, frozen", async () => {
    const w = world();
    assert.equal((await w.read())!.username, "first");
    w.set("second");
    const again = await w.read();
    assert.equal(again!.username, "first");
    assert.equal(w.loads(), 1);
    assert.ok(Object.isFrozen(again), "a cached row handed to callers must not be changed by one of them");
  });

  test("a token of another version reads the database, in both directions", async () => {
    const w = world();
    await w.read(0);
    w.set("bumped", 1);
    assert.equal((await w.read(1))!.username, "bumped");
    assert.equal(w.loads(), 2);
    w.set("older", 0);
    assert.equal((await w.read(0))!.username, "older", "a row read at version 1 must not answer a version-0 token");
  });

  test("an unknown user is not kept: a user created afterwards is found", async () => {
    const w = world();
    assert.equal(await w.cache.readUser("nobody", 0, async () => undefined), undefined);
    assert.equal((await w.cache.readUser("nobody", 0, async () => ({ id: "nobody", token_version: 0 })))!.id, "nobody");
  });

  test("userChanged forgets the row here and tells the state below (every other node)", async () => {
    const w = world();
    await w.read();
    w.set("second");
    await w.cache.userChanged("u");
    assert.deepEqual(w.announced, ["u"]);
    assert.equal((await w.read())!.username, "second");
  });

  test("a read that began before userChanged and ended after it is not kept", async () => {
    const w = world();
    w.gate();
    const racing = w.read();
    await new Promise<void>((resolve) => setImmediate(resolve));
    w.set("second");
    await w.cache.userChanged("u");
    w.open();
    assert.equal((await racing)!.username, "first", "the racing read answers what it read");
    assert.equal((await w.read())!.username, "second", "but it must not fill the cache after the announcement");
  });

  test("a user-wide invalidation (another node's bump or announcement) forgets the row; a session's does not", async () => {
    const w = world();
    await w.read();
    w.set("second");
    w.cache.invalidate({ userId: "u", sessionIds: ["s1"] });
    assert.equal((await w.read())!.username, "first");
    w.cache.invalidate({ userId: "u" });
    assert.equal((await w.read())!.username, "second");
  });

  test("a committed bump on this node forgets the row; clear() forgets every row", async () => {
    const w = world();
    await w.read();
    w.set("second");
    await w.cache.afterRevoke({ userId: "u", tokenVersion: 1, sessionIds: [] });
    assert.equal((await w.read())!.username, "second");
    w.set("third");
    w.cache.clear();
    assert.equal((await w.read())!.username, "third");
  });

  test("with a lease: answered from memory only while it holds, and until maxAgeSeconds", async () => {
    const live = { validUntil: performance.now() + 60_000, wallValidUntil: Date.now() + 60_000 };
    const w = world({ lease: live, maxAgeSeconds: 60 });
    await w.read();
    w.set("second");
    assert.equal((await w.read())!.username, "first");
    live.validUntil = performance.now() - 1;
    assert.equal((await w.read())!.username, "second", "the monotonic lease ran out");
    live.validUntil = performance.now() + 60_000;
    w.set("third");
    live.wallValidUntil = Date.now() - 1;
    assert.equal((await w.read())!.username, "third", "the wall-clock lease ran out");

    // A read begun while the lease did not hold (the node was joining) is not kept, though it holds when the read ends.
    const joining = { validUntil: performance.now() - 1, wallValidUntil: Date.now() + 60_000 };
    const late = world({ lease: joining, maxAgeSeconds: 60 });
    late.gate();
    const read = late.read();
    await new Promise<void>((resolve) => setImmediate(resolve));
    joining.validUntil = performance.now() + 60_000;
    late.open();
    assert.equal((await read)!.username, "first");
    late.set("second");
    assert.equal((await late.read())!.username, "second", "a row read before the lease began must not be kept");

    const young = world({ lease: { validUntil: performance.now() + 60_000, wallValidUntil: Date.now() + 60_000 }, maxAgeSeconds: 0.05 });
    await young.read();
    young.set("second");
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal((await young.read())!.username, "second", "an entry older than maxAgeSeconds is read again");
  });
});
