import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { createAuth, redisSettingsOf, type Auth } from "../../src/create-auth.js";
import { resolveOptions } from "../../src/settings/resolve.js";
import { openStore } from "../../src/store/database.js";
import { connectRedisState } from "../../src/store/redis/connect.js";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startRedis } from "../support/nodes.js";
import { TEST_SECRET } from "../support/server.js";

// The Redis copy of the revocation state, inspected key by key on a real Redis. The node cache is
// off here: these tests write keys behind the node's back and want every request to read them.
describe("Redis revocation state", () => {
  let database: TestDatabase;
  let auth: Auth;
  let raw: Redis;
  const prefix = redisTestPrefix();

  before(async () => {
    database = await createTestDatabase("postgres");
    auth = await createAuth({
      databaseUrl: database.url,
      redisUrl: REDIS_URL!,
      redisPrefix: prefix,
      secret: TEST_SECRET,
      redisEntryTtl: 1,
      localCache: false,
    });
    raw = new Redis(REDIS_URL!);
    // A node trusts Redis only one entry lifetime after it first answered.
    await sleep(1100);
  });

  after(async () => {
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
    await auth.close();
    await database.drop();
  });

  test("a request fills the user's version and the session state; logout raises the version", async () => {
    const user = await auth.register({ email: "fill@example.com", password: "a long and unguessable passphrase" });
    const principal = await auth.verify(`Bearer ${user.accessToken}`);
    assert.equal(await raw.get(`${prefix}v:${principal.userId}`), "0");
    assert.equal(await raw.get(`${prefix}s:${principal.sessionId}`), `${principal.userId}:0`);
    assert.ok((await raw.ttl(`${prefix}v:${principal.userId}`)) > 0, "entries expire");

    await auth.logout(principal);
    assert.equal(await raw.get(`${prefix}v:${principal.userId}`), "1");
    await assert.rejects(auth.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
  });

  test("a version in Redis is never lowered, and an in-flight marker is never filled over", async () => {
    const user = await auth.register({ email: "monotonic@example.com", password: "a long and unguessable passphrase" });
    const principal = await auth.verify(`Bearer ${user.accessToken}`);
    const key = `${prefix}v:${principal.userId}`;
    await raw.set(key, "7");
    // A miss on the session key reads the database (version 0) and fills only absent keys: 7 stays.
    await raw.del(`${prefix}s:${principal.sessionId}`);
    assert.equal((await auth.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0);
    assert.equal(await raw.get(key), "7");
    // Now both keys hit, and Redis says 7: the version-0 token is refused.
    await assert.rejects(auth.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });

    // A version bump in flight (pv > 0) sends readers to the database, and they fill no version.
    await raw.del(key);
    await raw.set(`${prefix}pv:${principal.userId}`, "1", "EX", 60);
    assert.equal((await auth.verify(`Bearer ${user.accessToken}`)).userId, principal.userId);
    assert.equal(await raw.get(key), null);
    await raw.del(`${prefix}pv:${principal.userId}`);
  });

  test("a stale Redis entry saying 'not revoked' is corrected by the revoking write", async () => {
    const user = await auth.register({ email: "session@example.com", password: "a long and unguessable passphrase" });
    const principal = await auth.verify(`Bearer ${user.accessToken}`);
    await auth.logout(principal, { scope: "session" });
    assert.equal(await raw.get(`${prefix}s:${principal.sessionId}`), `${principal.userId}:1`);
    await assert.rejects(auth.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
  });
});

describe("Redis in-flight markers", () => {
  test("a version raised while another bump is in flight never outlives that bump's marker", async () => {
    const database = await createTestDatabase("postgres");
    const prefix = redisTestPrefix();
    const store = await openStore(database.url);
    const raw = new Redis(REDIS_URL!);
    const options = resolveOptions({ databaseUrl: database.url, redisUrl: REDIS_URL!, redisPrefix: prefix, redisEntryTtl: 120 });
    const { revocation, counters } = await connectRedisState(store, redisSettingsOf(options));
    try {
      await revocation.beforeRevoke({ userId: "u1" });
      await sleep(50);
      await revocation.beforeRevoke({ userId: "u1" });
      await revocation.afterRevoke({ userId: "u1", tokenVersion: 1 });
      assert.equal(await raw.get(`${prefix}v:u1`), "1");
      assert.equal(await raw.get(`${prefix}pv:u1`), "1", "the second bump is still in flight");
      // Both lifetimes read in one transaction, at the same instant.
      const lives = await raw.multi().pttl(`${prefix}v:u1`).pttl(`${prefix}pv:u1`).exec();
      const [versionLife, markerLife] = lives!.map(([, life]) => life as number) as [number, number];
      assert.ok(versionLife > 0 && versionLife <= markerLife, `v lives ${versionLife} ms, the marker ${markerLife} ms`);

      // The last bump in flight lands: the marker ends and the version gets its full lifetime.
      await revocation.afterRevoke({ userId: "u1", tokenVersion: 2 });
      assert.equal(await raw.get(`${prefix}v:u1`), "2");
      assert.equal(await raw.get(`${prefix}pv:u1`), "0");
      // A late, smaller value never lowers it.
      await revocation.beforeRevoke({ userId: "u1" });
      await revocation.afterRevoke({ userId: "u1", tokenVersion: 1 });
      assert.equal(await raw.get(`${prefix}v:u1`), "2");
    } finally {
      await revocation.close();
      await counters.close();
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
      raw.disconnect();
      await store.close();
      await database.drop();
    }
  });

  test("a marker outlives the deadline its revocation must commit by, with room for a held-up COMMIT", async () => {
    const database = await createTestDatabase("postgres");
    const prefix = redisTestPrefix();
    const store = await openStore(database.url);
    const raw = new Redis(REDIS_URL!);
    const options = resolveOptions({ databaseUrl: database.url, redisUrl: REDIS_URL!, redisPrefix: prefix, redisNodeLease: 60 });
    const { revocation, counters } = await connectRedisState(store, redisSettingsOf(options));
    try {
      for (const change of [{ userId: "u1" }, { userId: "u1", sessionIds: ["s1"] }]) {
        const deadline = await revocation.beforeRevoke(change);
        const now = performance.now();
        const key = change.sessionIds === undefined ? `${prefix}pv:u1` : `${prefix}s:s1`;
        const markerLife = await raw.pttl(key);
        assert.ok(deadline - now >= 40_000, `the transaction gets ${deadline - now} ms`);
        // PostgreSQL rolls back a COMMIT held up for 10 s (idle_in_transaction_session_timeout).
        assert.ok(markerLife >= deadline - now + 10_000, `marker ${markerLife} ms, deadline in ${deadline - now} ms`);
      }
    } finally {
      await revocation.close();
      await counters.close();
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
      raw.disconnect();
      await store.close();
      await database.drop();
    }
  });

  test("deleting a session that is not the caller's marks nothing and tells no node", async () => {
    const database = await createTestDatabase("postgres");
    const prefix = redisTestPrefix();
    const raw = new Redis(REDIS_URL!);
    const auth = await createAuth({ databaseUrl: database.url, redisUrl: REDIS_URL!, redisPrefix: prefix, secret: TEST_SECRET });
    const listener = raw.duplicate();
    const heard: string[] = [];
    await listener.subscribe(`${prefix}inv`);
    listener.on("message", (_channel: string, message: string) => heard.push(message));
    try {
      const user = await auth.register({ email: "foreign@example.com", password: "a long and unguessable passphrase" });
      const other = await auth.register({ email: "victim@example.com", password: "a long and unguessable passphrase" });
      const principal = await auth.verify(`Bearer ${user.accessToken}`);
      const victim = await auth.verify(`Bearer ${other.accessToken}`);
      for (const id of ["made-up-session", victim.sessionId]) {
        await assert.rejects(auth.revokeSession(principal, id), { code: "not_found" });
        assert.equal(await raw.exists(`${prefix}s:${id}`), 0, "no in-flight marker");
      }
      await sleep(50);
      assert.deepEqual(heard, [], "no invalidation was published");
    } finally {
      listener.disconnect();
      await auth.close();
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
      raw.disconnect();
      await database.drop();
    }
  });

  test("a node that does not trust Redis yet neither reads nor fills it", async () => {
    const database = await createTestDatabase("postgres");
    const prefix = redisTestPrefix();
    const raw = new Redis(REDIS_URL!);
    const auth = await createAuth({
      databaseUrl: database.url,
      redisUrl: REDIS_URL!,
      redisPrefix: prefix,
      secret: TEST_SECRET,
      redisEntryTtl: 30,
    });
    try {
      const user = await auth.register({ email: "distrust@example.com", password: "a long and unguessable passphrase" });
      const principal = await auth.verify(`Bearer ${user.accessToken}`);
      await sleep(50);
      assert.equal(await raw.get(`${prefix}v:${principal.userId}`), null);
      assert.equal(await raw.get(`${prefix}s:${principal.sessionId}`), null);
    } finally {
      await auth.close();
      raw.disconnect();
      await database.drop();
    }
  });
});

describe("Redis counters", () => {
  test("throttling holds while Redis is down (counts in memory), and across the outage", async () => {
    const database = await createTestDatabase("postgres");
    const redis = await startRedis();
    const auth = await createAuth({
      databaseUrl: database.url,
      redisUrl: redis.url,
      secret: TEST_SECRET,
      rateLimit: { accountFailures: 3 },
    });
    try {
      await auth.register({ email: "throttle@example.com", password: "a long and unguessable passphrase" });
      await redis.stop();
      for (let i = 0; i < 3; i++) {
        await assert.rejects(auth.login({ email: "throttle@example.com", password: "wrong wrong wrong" }), { code: "invalid_credentials" });
      }
      await assert.rejects(auth.login({ email: "throttle@example.com", password: "a long and unguessable passphrase" }), {
        code: "rate_limited",
      });
    } finally {
      await auth.close();
      await redis.remove();
      await database.drop();
    }
  });

  test("an unreachable Redis at start-up is a configuration error naming redisUrl", async () => {
    const database = await createTestDatabase("postgres");
    try {
      await assert.rejects(
        createAuth({ databaseUrl: database.url, redisUrl: "redis://127.0.0.1:1", secret: TEST_SECRET }),
        (error: Error) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /redisUrl/);
          return true;
        },
      );
    } finally {
      await database.drop();
    }
  });
});
