import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalRevocationCache } from "../src/store/revocation/local-cache.js";
import { type RevocationState, type SessionState } from "../src/store/revocation/state.js";

// The in-process cache is exact only if nothing it keeps predates a committed revocation. A read
// that runs while the revocation writes its new values to the state below (Redis: after the
// commit) may still return the older state; the cache must not keep it past afterRevoke.

/** A state below the cache that answers `current`, and whose afterRevoke waits until released. */
function slowState(current: () => SessionState) {
  let release!: () => void;
  const writing = new Promise<void>((resolve) => (release = resolve));
  const state: RevocationState = {
    get: async () => current(),
    read: async () => ({ state: current(), cacheable: true }),
    beforeRevoke: async () => Infinity,
    afterRevoke: () => writing,
    ping: async () => {},
    close: async () => {},
  };
  return { state, release };
}

test("a read made while a version bump is being written below is not kept after it", async () => {
  const below = { userId: "u", tokenVersion: 0, revoked: false };
  const { state, release } = slowState(() => ({ ...below }));
  const cache = new LocalRevocationCache(state);
  assert.equal((await cache.get("s", "u"))!.tokenVersion, 0);

  await cache.beforeRevoke({ userId: "u" });
  const after = cache.afterRevoke({ userId: "u", tokenVersion: 1 });
  // The state below still answers version 0 (its new value is not written yet): the read fills it.
  assert.equal((await cache.get("s", "u"))!.tokenVersion, 0);
  below.tokenVersion = 1;
  release();
  await after;
  below.tokenVersion = 0; // were the cache to read below again, it would see 0: it must answer 1 itself
  assert.equal((await cache.get("s", "u"))!.tokenVersion, 1);
});

test("a read made while a session revocation is being written below is not kept after it", async () => {
  const below = { userId: "u", tokenVersion: 0, revoked: false };
  const { state, release } = slowState(() => ({ ...below }));
  const cache = new LocalRevocationCache(state);
  await cache.beforeRevoke({ userId: "u", sessionIds: ["s"] });
  const after = cache.afterRevoke({ userId: "u", sessionIds: ["s"] });
  assert.equal((await cache.get("s", "u"))!.revoked, false);
  release();
  await after;
  assert.equal((await cache.get("s", "u"))!.revoked, true);
});

/** A state below the cache whose reads wait until released, counting them. */
function gatedReads(current: () => SessionState) {
  let reads = 0;
  let release!: () => void;
  let gate = new Promise<void>((resolve) => (release = resolve));
  const state: RevocationState = {
    get: async () => current(),
    read: async () => {
      reads++;
      const answer = current();
      await gate;
      return { state: answer, cacheable: true };
    },
    beforeRevoke: async () => Infinity,
    afterRevoke: async () => {},
    ping: async () => {},
    close: async () => {},
  };
  return {
    state,
    reads: () => reads,
    open: () => {
      release();
      gate = new Promise<void>((resolve) => (release = resolve));
    },
  };
}

test("a burst of requests with one token waits for one read", async () => {
  const below = gatedReads(() => ({ userId: "u", tokenVersion: 0, revoked: false }));
  const cache = new LocalRevocationCache(below.state);
  const burst = Array.from({ length: 10 }, () => cache.get("s", "u"));
  below.open();
  const answers = await Promise.all(burst);
  assert.equal(below.reads(), 1);
  for (const answer of answers) assert.equal(answer!.tokenVersion, 0);
});

test("a request after an invalidation does not join a read that began before it", async () => {
  const current = { userId: "u", tokenVersion: 0, revoked: false };
  const below = gatedReads(() => ({ ...current }));
  const cache = new LocalRevocationCache(below.state);
  const early = cache.get("s", "u");
  // A revocation of the user is announced (and then commits) while that read is under way.
  cache.invalidate({ userId: "u" });
  current.tokenVersion = 1;
  const late = cache.get("s", "u");
  below.open();
  assert.equal((await early)!.tokenVersion, 0);
  assert.equal((await late)!.tokenVersion, 1, "the later request read again");
  assert.equal(below.reads(), 2);
});

test("with an expired lease, a request reads for itself", async () => {
  const below = gatedReads(() => ({ userId: "u", tokenVersion: 0, revoked: false }));
  const cache = new LocalRevocationCache(below.state, { lease: { validUntil: 0, wallValidUntil: 0 } });
  const burst = [cache.get("s", "u"), cache.get("s", "u")];
  below.open();
  await Promise.all(burst);
  assert.equal(below.reads(), 2);
});
