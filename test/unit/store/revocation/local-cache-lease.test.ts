// Second witnesses (issue #21) for src/store/revocation/local-cache.ts with a lease (several nodes
// over Redis): each half of the lease (monotonic and wall clock), the entry expiry (maxAgeSeconds),
// a lease that runs out while reads are joined, and reads the state below calls uncacheable (a
// Redis in-flight marker). The first witnesses: local-cache.test.ts beside this file, and
// test/scale-out/node-cache.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { LocalRevocationCache } from "../../../../src/store/revocation/local-cache.js";
import type { CacheLease, RevocationState, SessionState } from "../../../../src/store/revocation/state.js";

/** A state below that counts its reads; `cacheable` is what its `read` reports (as Redis does). */
function below(options: { cacheable?: () => boolean; gated?: boolean } = {}) {
  let reads = 0;
  let version = 0;
  const waiting: Array<() => void> = [];
  const answer = async (): Promise<SessionState> => {
    reads++;
    if (options.gated) await new Promise<void>((resolve) => waiting.push(resolve));
    return { userId: "u", tokenVersion: version, revoked: false };
  };
  const state: RevocationState = {
    get: answer,
    read: async () => ({ state: await answer(), cacheable: options.cacheable?.() ?? true }),
    beforeRevoke: async () => Infinity,
    afterRevoke: async () => {},
    ping: async () => {},
    close: async () => {},
  };
  return {
    state,
    reads: () => reads,
    setVersion: (v: number) => (version = v),
    open: () => waiting.splice(0).forEach((resolve) => resolve()),
  };
}

/** A lease the test moves: `validUntil` on performance.now(), `wallValidUntil` on Date.now(). */
function lease(monotonicMs: number, wallMs: number): CacheLease & { validUntil: number; wallValidUntil: number } {
  return { validUntil: performance.now() + monotonicMs, wallValidUntil: Date.now() + wallMs };
}

describe("LocalRevocationCache: the lease", () => {
  test("a valid lease answers from memory; each half of it, run out alone, makes every get read below", async () => {
    for (const [what, monotonic, wall] of [
      ["both valid", 60_000, 60_000],
      ["monotonic clock run out", -1, 60_000],
      ["wall clock run out (the host slept)", 60_000, -1],
    ] as const) {
      const inner = below();
      const cache = new LocalRevocationCache(inner.state, { lease: lease(monotonic, wall) });
      await cache.get("s", "u");
      await cache.get("s", "u");
      await cache.get("s", "u");
      assert.equal(inner.reads(), what === "both valid" ? 1 : 3, what);
    }
  });

  test("a lease that runs out while entries are cached: the next get reads below and sees the new version", async () => {
    const inner = below();
    const held = lease(60_000, 60_000);
    const cache = new LocalRevocationCache(inner.state, { lease: held });
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 0);
    inner.setVersion(4); // a revocation this node was never told of
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 0, "from memory while the lease holds");
    held.validUntil = performance.now() - 1;
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 4, "the lease ran out: read below");
    assert.equal(inner.reads(), 2);
  });

  test("without a lease holding, a get does not join a read under way", async () => {
    for (const [what, monotonic, wall] of [
      ["monotonic", -1, 60_000],
      ["wall", 60_000, -1],
    ] as const) {
      const inner = below({ gated: true });
      const cache = new LocalRevocationCache(inner.state, { lease: lease(monotonic, wall) });
      const first = cache.get("s", "u");
      const second = cache.get("s", "u");
      await sleep(0);
      inner.open();
      await Promise.all([first, second]);
      assert.equal(inner.reads(), 2, `${what} clock run out: each get reads for itself`);
    }
    // With the lease holding, the second get joins the first read.
    const inner = below({ gated: true });
    const cache = new LocalRevocationCache(inner.state, { lease: lease(60_000, 60_000) });
    const burst = [cache.get("s", "u"), cache.get("s", "u")];
    await sleep(0);
    inner.open();
    await Promise.all(burst);
    assert.equal(inner.reads(), 1);
  });
});

describe("LocalRevocationCache: the entry expiry (maxAgeSeconds)", () => {
  test("an entry answers from memory until it is maxAgeSeconds old, then is read again", async () => {
    const inner = below();
    // A second: room for a busy machine between the first two gets.
    const cache = new LocalRevocationCache(inner.state, { lease: lease(60_000, 60_000), maxAgeSeconds: 1 });
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 0);
    inner.setVersion(2);
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 0, "young: from memory");
    assert.equal(inner.reads(), 1);
    await sleep(1050);
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 2, "old: read again");
    assert.equal(inner.reads(), 2);
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 2, "and the new entry answers from memory");
    assert.equal(inner.reads(), 2);
  });

  test("without a lease (one node) entries do not expire", async () => {
    const inner = below();
    const cache = new LocalRevocationCache(inner.state, { maxAgeSeconds: 0 });
    await cache.get("s", "u");
    await sleep(5);
    await cache.get("s", "u");
    assert.equal(inner.reads(), 1);
  });
});

describe("LocalRevocationCache: reads the state below calls uncacheable (an in-flight marker)", () => {
  test("an uncacheable read answers but is not kept; the next cacheable one is", async () => {
    let cacheable = false;
    const inner = below({ cacheable: () => cacheable });
    const cache = new LocalRevocationCache(inner.state, { lease: lease(60_000, 60_000) });
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 0);
    inner.setVersion(1);
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 1, "not kept: read below again");
    assert.equal(inner.reads(), 2);
    cacheable = true;
    await cache.get("s", "u");
    inner.setVersion(2);
    assert.equal((await cache.get("s", "u"))!.tokenVersion, 1, "kept once cacheable");
    assert.equal(inner.reads(), 3);
  });
});
