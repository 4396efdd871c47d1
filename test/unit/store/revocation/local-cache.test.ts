// Unit tests for src/store/revocation/local-cache.ts (LocalRevocationCache) over a hand-made
// in-memory RevocationState: the epoch, monotonic updates, revoked sessions, coalescing, the bound.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LocalRevocationCache } from "../../../../src/store/revocation/local-cache.js";
import type { RevocationChange, RevocationState, SessionState } from "../../../../src/store/revocation/state.js";

interface PendingRead {
  sessionId: string;
  userId: string;
  resolve: (state: SessionState | undefined) => void;
}

/**
 * A state below the cache. In `auto` mode `get` answers from `sessions` at once; in manual mode
 * each `get` waits in `pending` until the test resolves it with whatever answer it likes.
 */
function innerState(options: { manual?: boolean } = {}) {
  const sessions = new Map<string, SessionState>();
  const pending: PendingRead[] = [];
  const reads: string[] = [];
  const changes: Array<["before" | "after", RevocationChange]> = [];
  /** While set, the inner afterRevoke waits for it (a slow write below, e.g. Redis). */
  let afterRevokeGate: Promise<void> | undefined;
  const state: RevocationState = {
    get(sessionId, userId) {
      reads.push(sessionId);
      if (!options.manual) {
        const found = sessions.get(sessionId);
        return Promise.resolve(found === undefined ? undefined : { ...found });
      }
      return new Promise((resolve) => pending.push({ sessionId, userId, resolve }));
    },
    beforeRevoke: async (change) => {
      changes.push(["before", change]);
      return Infinity;
    },
    afterRevoke: async (change) => {
      changes.push(["after", change]);
      await afterRevokeGate;
    },
    ping: async () => {},
    close: async () => {},
  };
  /** Makes the inner afterRevoke wait until the returned function is called. */
  const holdAfterRevoke = () => {
    let release!: () => void;
    afterRevokeGate = new Promise<void>((resolve) => (release = resolve));
    return release;
  };
  return { state, sessions, pending, reads, changes, holdAfterRevoke };
}

const session = (userId: string, tokenVersion: number, revoked = false): SessionState => ({ userId, tokenVersion, revoked });

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("LocalRevocationCache: basics", () => {
  test("a read fills the cache: the next get answers from memory", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 3));
    const cache = new LocalRevocationCache(inner.state);
    assert.deepEqual(await cache.get("s", "u"), session("u", 3));
    inner.sessions.set("s", session("u", 99)); // not read again, so not seen
    assert.deepEqual(await cache.get("s", "u"), session("u", 3));
    assert.deepEqual(inner.reads, ["s"]);
  });

  test("an unknown session is not cached: a session created afterwards is found", async () => {
    const inner = innerState();
    const cache = new LocalRevocationCache(inner.state);
    assert.equal(await cache.get("s", "u"), undefined);
    inner.sessions.set("s", session("u", 0));
    assert.deepEqual(await cache.get("s", "u"), session("u", 0));
    assert.deepEqual(inner.reads, ["s", "s"]);
  });

  test("beforeRevoke and afterRevoke reach the inner state, in order", async () => {
    const inner = innerState();
    const cache = new LocalRevocationCache(inner.state);
    const change = { userId: "u", tokenVersion: 1 };
    assert.equal(await cache.beforeRevoke(change), Infinity, "the inner deadline is returned");
    await cache.afterRevoke(change);
    assert.deepEqual(inner.changes, [
      ["before", change],
      ["after", change],
    ]);
  });
});

describe("LocalRevocationCache: reads racing a revocation (the epoch, and the change applied twice)", () => {
  const revocations: Array<[string, RevocationChange, SessionState]> = [
    ["a version bump", { userId: "u", tokenVersion: 1 }, session("u", 1)],
    ["a session revocation", { userId: "u", sessionIds: ["s"] }, session("u", 0, true)],
    ["a version bump that also revokes the session", { userId: "u", tokenVersion: 1, sessionIds: ["s"] }, session("u", 1, true)],
  ];

  for (const [what, change, after] of revocations) {
    test(`${what}: a read started before beforeRevoke and resolved after afterRevoke is not kept`, async () => {
      const inner = innerState({ manual: true });
      const cache = new LocalRevocationCache(inner.state);
      const before = session("u", 0);

      const early = cache.get("s", "u");
      assert.equal(inner.pending.length, 1, "the read is under way below");
      await cache.beforeRevoke(change);
      await cache.afterRevoke(change);
      // The old read now answers with the state from before the revocation.
      inner.pending.shift()!.resolve({ ...before });
      assert.deepEqual(await early, before, "the early request gets the answer it asked for");

      // Were that answer kept, this would be a hit answering `before`; it must read again.
      const next = cache.get("s", "u");
      await settle();
      assert.equal(inner.pending.length, 1, "the next get reads below again");
      inner.pending.shift()!.resolve({ ...after });
      assert.deepEqual(await next, after);
      assert.deepEqual(await cache.get("s", "u"), after, "and that fresh answer is kept");
      assert.equal(inner.reads.length, 2);
    });
  }

  test("a read started between beforeRevoke and afterRevoke and resolved after it is not kept", async () => {
    const inner = innerState({ manual: true });
    const cache = new LocalRevocationCache(inner.state);
    const change = { userId: "u", tokenVersion: 1 };
    await cache.beforeRevoke(change);
    const during = cache.get("s", "u");
    await cache.afterRevoke(change);
    inner.pending.shift()!.resolve(session("u", 0));
    await during;
    const next = cache.get("s", "u");
    await settle();
    assert.equal(inner.pending.length, 1, "read again");
    inner.pending.shift()!.resolve(session("u", 1));
    assert.equal((await next)!.tokenVersion, 1);
  });

  test("a stale read that fills the cache while the inner afterRevoke runs is corrected when it ends", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 0));
    const cache = new LocalRevocationCache(inner.state);
    const change = { userId: "u", tokenVersion: 1, sessionIds: ["s"] };
    await cache.beforeRevoke(change);
    const release = inner.holdAfterRevoke();
    const after = cache.afterRevoke(change);
    // The state below has not caught up (Redis lost its in-flight markers): this read fills version 0.
    assert.deepEqual(await cache.get("s", "u"), session("u", 0));
    release();
    await after;
    assert.deepEqual(await cache.get("s", "u"), session("u", 1, true), "the change is applied again at the end");
    assert.equal(inner.reads.length, 1, "from memory: the cache itself corrected the stale copy");
  });

  test("a read that started after the revocation completed is kept", async () => {
    const inner = innerState({ manual: true });
    const cache = new LocalRevocationCache(inner.state);
    const change = { userId: "u", tokenVersion: 1 };
    await cache.beforeRevoke(change);
    await cache.afterRevoke(change);
    const read = cache.get("s", "u");
    inner.pending.shift()!.resolve(session("u", 1));
    await read;
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 1);
    assert.equal(inner.reads.length, 1, "answered from memory");
  });
});

describe("LocalRevocationCache: monotonic updates", () => {
  test("a version only goes up: afterRevoke(5) then a late afterRevoke(3) leaves 5", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 0));
    const cache = new LocalRevocationCache(inner.state);
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 0);

    await cache.afterRevoke({ userId: "u", tokenVersion: 5 });
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 5, "the bump is applied to the cached user");
    await cache.afterRevoke({ userId: "u", tokenVersion: 3 });
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 5, "the older bump does not lower it");
    assert.deepEqual(inner.reads, ["s"], "all answered from memory");
  });

  test("a version bump moves every cached session of that user, and only of that user", async () => {
    const inner = innerState();
    inner.sessions.set("s1", session("u", 0));
    inner.sessions.set("s2", session("u", 0));
    inner.sessions.set("t", session("v", 0));
    const cache = new LocalRevocationCache(inner.state);
    for (const [sid, uid] of [
      ["s1", "u"],
      ["s2", "u"],
      ["t", "v"],
    ] as const)
      await cache.get(sid, uid);
    await cache.afterRevoke({ userId: "u", tokenVersion: 1 });
    assert.equal((await cache.get("s1", "u"))!.tokenVersion, 1);
    assert.equal((await cache.get("s2", "u"))!.tokenVersion, 1);
    assert.equal((await cache.get("t", "v"))!.tokenVersion, 0);
    assert.equal(inner.reads.length, 3);
  });

  test("a revoked session answers revoked at once, though the user's version did not move", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 0));
    const cache = new LocalRevocationCache(inner.state);
    assert.equal((await cache.get("s", "u"))!.revoked, false, "read below");
    assert.equal((await cache.get("s", "u"))!.revoked, false, "a hit: the cache now holds an answer for version 0");
    await cache.afterRevoke({ userId: "u", sessionIds: ["s"] });
    assert.deepEqual(await cache.get("s", "u"), session("u", 0, true), "that answer is not reused");
    assert.equal(inner.reads.length, 1, "from memory");
  });

  test("while the inner afterRevoke is still writing, the cache already answers the committed change", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 0));
    const cache = new LocalRevocationCache(inner.state);
    const change = { userId: "u", tokenVersion: 1 };
    await cache.beforeRevoke(change);
    // Read before the commit: the state below still says version 0, and the cache may keep it.
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 0);
    // The change commits; afterRevoke's write below (e.g. to Redis) is slow.
    inner.sessions.set("s", session("u", 1));
    const release = inner.holdAfterRevoke();
    const after = cache.afterRevoke(change);
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 1, "not the version-0 copy");
    release();
    await after;
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 1);
  });

  test("a revoked session stays revoked through later version bumps", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 0));
    const cache = new LocalRevocationCache(inner.state);
    await cache.get("s", "u");
    await cache.afterRevoke({ userId: "u", sessionIds: ["s"] });
    await cache.afterRevoke({ userId: "u", tokenVersion: 1 });
    await cache.afterRevoke({ userId: "u", tokenVersion: 2, sessionIds: [] });
    assert.deepEqual(await cache.get("s", "u"), session("u", 2, true));
    assert.equal(inner.reads.length, 1, "from memory");
  });

  test("answers given before a revocation are not changed by it (each answer is its own frozen object)", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 0));
    const cache = new LocalRevocationCache(inner.state);
    await cache.get("s", "u");
    const hit = (await cache.get("s", "u"))!;
    await cache.afterRevoke({ userId: "u", tokenVersion: 1, sessionIds: ["s"] });
    assert.deepEqual(hit, session("u", 0));
    assert.ok(Object.isFrozen(hit));
    assert.deepEqual(await cache.get("s", "u"), session("u", 1, true));
  });
});

describe("LocalRevocationCache: coalescing", () => {
  test("concurrent gets of one session wait for one inner read", async () => {
    const inner = innerState({ manual: true });
    const cache = new LocalRevocationCache(inner.state);
    const burst = Array.from({ length: 5 }, () => cache.get("s", "u"));
    assert.equal(inner.pending.length, 1);
    inner.pending.shift()!.resolve(session("u", 4));
    for (const answer of await Promise.all(burst)) assert.equal(answer!.tokenVersion, 4);
    assert.equal(inner.reads.length, 1);
  });

  test("a get after an invalidation does not join the read under way", async () => {
    const inner = innerState({ manual: true });
    const cache = new LocalRevocationCache(inner.state);
    const early = cache.get("s", "u");
    await cache.beforeRevoke({ userId: "u", tokenVersion: 1 });
    const late = cache.get("s", "u");
    assert.equal(inner.pending.length, 2, "the later get reads for itself");
    inner.pending[1]!.resolve(session("u", 1));
    inner.pending[0]!.resolve(session("u", 0));
    assert.equal((await early)!.tokenVersion, 0);
    assert.equal((await late)!.tokenVersion, 1);
  });

  test("a get with another user hint does not join the read under way", async () => {
    const inner = innerState({ manual: true });
    const cache = new LocalRevocationCache(inner.state);
    const a = cache.get("s", "u");
    const b = cache.get("s", "someone-else");
    assert.deepEqual(
      inner.pending.map((p) => p.userId),
      ["u", "someone-else"],
    );
    for (const p of inner.pending.splice(0)) p.resolve(session("u", 0));
    await Promise.all([a, b]);
  });

  test("once the read is done, the next miss reads again (nothing stays joined)", async () => {
    const inner = innerState({ manual: true });
    const cache = new LocalRevocationCache(inner.state);
    const first = cache.get("s", "u");
    inner.pending.shift()!.resolve(undefined); // unknown: not cached
    assert.equal(await first, undefined);
    const second = cache.get("s", "u");
    assert.equal(inner.pending.length, 1);
    inner.pending.shift()!.resolve(session("u", 0));
    assert.equal((await second)!.tokenVersion, 0);
  });

  test("a failed inner read is passed to every waiter and not kept", async () => {
    const inner = innerState();
    let fail = true;
    const get = inner.state.get.bind(inner.state);
    inner.state.get = (sid, uid) => (fail ? Promise.reject(new Error("store down")) : get(sid, uid));
    inner.sessions.set("s", session("u", 0));
    const cache = new LocalRevocationCache(inner.state);
    const results = await Promise.allSettled([cache.get("s", "u"), cache.get("s", "u")]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected"],
    );
    fail = false;
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 0);
  });
});

describe("LocalRevocationCache: invalidation and the bound", () => {
  test("invalidate of a user forgets the version; of sessions, those sessions; clear, everything", async () => {
    const inner = innerState();
    inner.sessions.set("s1", session("u", 0));
    inner.sessions.set("s2", session("u", 0));
    const cache = new LocalRevocationCache(inner.state);
    await cache.get("s1", "u");
    await cache.get("s2", "u");
    assert.equal(inner.reads.length, 2);

    cache.invalidate({ userId: "u", sessionIds: ["s1"] });
    await cache.get("s1", "u");
    await cache.get("s2", "u");
    assert.deepEqual(inner.reads.slice(2), ["s1"], "only s1 read again");

    // The user's version moves below; invalidating the user forgets the cached version, so the
    // next get reads, and the version it learns serves the user's other cached sessions.
    inner.sessions.set("s1", session("u", 1));
    inner.sessions.set("s2", session("u", 1));
    cache.invalidate({ userId: "u" });
    assert.equal((await cache.get("s2", "u"))!.tokenVersion, 1);
    assert.deepEqual(inner.reads.slice(3), ["s2"], "read again after the user was invalidated");
    assert.equal((await cache.get("s1", "u"))!.tokenVersion, 1, "s1 answers with the version s2's read learned");
    assert.equal(inner.reads.length, 4);

    cache.clear();
    await cache.get("s1", "u");
    await cache.get("s2", "u");
    assert.deepEqual(inner.reads.slice(4), ["s1", "s2"], "clear forgets every session");
  });

  test("maxEntries bounds the cache: the oldest session is evicted first", async () => {
    const inner = innerState();
    for (const sid of ["s1", "s2", "s3"]) inner.sessions.set(sid, session("u", 0));
    const cache = new LocalRevocationCache(inner.state, { maxEntries: 2 });
    for (const sid of ["s1", "s2", "s3"]) await cache.get(sid, "u");
    assert.equal(inner.reads.length, 3);
    await cache.get("s3", "u");
    await cache.get("s2", "u");
    assert.equal(inner.reads.length, 3, "the two newest are cached");
    await cache.get("s1", "u");
    assert.deepEqual(inner.reads.slice(3), ["s1"], "the oldest was evicted and is read again");
  });

  test("maxEntries bounds users too", async () => {
    const inner = innerState();
    for (const n of [1, 2, 3]) inner.sessions.set(`s${n}`, session(`u${n}`, n));
    const cache = new LocalRevocationCache(inner.state, { maxEntries: 2 });
    for (const n of [1, 2, 3]) await cache.get(`s${n}`, `u${n}`);
    assert.equal((await cache.get("s3", "u3"))!.tokenVersion, 3);
    assert.equal((await cache.get("s1", "u1"))!.tokenVersion, 1);
    assert.deepEqual(inner.reads, ["s1", "s2", "s3", "s1"]);
  });

  test("with an expired lease, every get reads below", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 0));
    const cache = new LocalRevocationCache(inner.state, { lease: { validUntil: 0, wallValidUntil: 0 } });
    await cache.get("s", "u");
    await cache.get("s", "u");
    assert.equal(inner.reads.length, 2);
  });

  test("with a valid lease, answers come from memory until maxAgeSeconds", async () => {
    const inner = innerState();
    inner.sessions.set("s", session("u", 0));
    const lease = { validUntil: Infinity, wallValidUntil: Infinity };
    const fresh = new LocalRevocationCache(inner.state, { lease });
    await fresh.get("s", "u");
    await fresh.get("s", "u");
    assert.equal(inner.reads.length, 1);
    const aged = new LocalRevocationCache(inner.state, { lease, maxAgeSeconds: 0 });
    await aged.get("s", "u");
    await aged.get("s", "u");
    assert.equal(inner.reads.length, 3, "maxAgeSeconds 0: never from memory");
  });
});
