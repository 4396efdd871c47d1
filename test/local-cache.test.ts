import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalRevocationCache, type RevocationState, type SessionState } from "../src/store/revocation.js";

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
