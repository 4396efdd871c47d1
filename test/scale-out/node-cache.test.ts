import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { createAuth, type Auth } from "../../src/create-auth.js";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, startProxy, startRedis, startRedisProxy, type Node } from "../support/nodes.js";
import { TEST_SECRET, type Api } from "../support/server.js";

// Node caches over Redis (src/store/redis-invalidation.ts): every node answers from memory, and a
// revocation commits only once every caching node has forgotten what it changes or has lost the
// right to answer from memory (its lease). These tests break that in every way we know.

const PASSWORD = "a long and unguessable passphrase";

/** Asserts, repeatedly for `ms`, that a token is refused by every api. */
async function refusedThroughout(apis: Api[], token: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  let checks = 0;
  do {
    for (const api of apis) {
      const r = await api.get("/profile", token);
      assert.equal(r.status, 401, `a revoked token was accepted after ${checks} checks`);
      assert.equal(r.body.code, "token_revoked");
      checks++;
    }
  } while (Date.now() < until);
}

async function eventually(fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return;
    await sleep(100);
  }
  assert.fail("did not happen in time");
}

/** Sessions waiting on a lock that `blocker` holds. */
async function lockWaiters(blocker: pg.Client): Promise<number> {
  const { rows } = await blocker.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))");
  return Number(rows[0].n);
}

/** Redis time in milliseconds, the clock leases are scored on. */
async function redisNow(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe("node caches over Redis, in one process", () => {
  let database: TestDatabase;
  let raw: Redis;
  let a: Auth;
  let b: Auth;
  const prefix = redisTestPrefix();

  before(async () => {
    database = await createTestDatabase("postgres");
    raw = new Redis(REDIS_URL!);
    const options = {
      databaseUrl: database.url,
      redisUrl: REDIS_URL!,
      redisPrefix: prefix,
      secret: TEST_SECRET,
      redisEntryTtl: 1,
      redisNodeLease: 1,
    };
    a = await createAuth(options);
    b = await createAuth(options);
    // Nodes trust Redis (and so cache its answers) one entry lifetime after they first saw it.
    await sleep(1100);
  });

  after(async () => {
    await a?.close();
    await b?.close();
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
    await database?.drop();
  });

  test("a node answers from memory, and forgets at once what another node revokes", async () => {
    for (let round = 0; round < 10; round++) {
      const user = await a.register({ email: `memory${round}@example.com`, password: PASSWORD });
      const principal = await a.verify(`Bearer ${user.accessToken}`); // fills Redis from the database
      await b.verify(`Bearer ${user.accessToken}`); // a Redis hit: B keeps it in memory
      // Behind B's back, Redis now says version 99: B still answers from memory.
      await raw.set(`${prefix}v:${principal.userId}`, "99", "EX", 60);
      assert.equal((await b.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0, "B answered from memory");
      await raw.set(`${prefix}v:${principal.userId}`, "0", "EX", 60);

      await a.logout(principal, round % 2 === 0 ? { scope: "all" } : { scope: "session" });
      await assert.rejects(b.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" }, `round ${round}`);
      await assert.rejects(a.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" }, `round ${round}`);
    }
  });

  test("what a node reads while a revocation of the keys is in flight, it does not keep", async () => {
    for (const marker of ["pv", "s"] as const) {
      const user = await a.register({ email: `in-flight-${marker}@example.com`, password: PASSWORD });
      const principal = await a.verify(`Bearer ${user.accessToken}`);
      const key = marker === "pv" ? `${prefix}pv:${principal.userId}` : `${prefix}s:${principal.sessionId}`;
      await raw.set(key, marker === "pv" ? "1" : "p", "EX", 60);
      // Marked: B reads the database (version 0) and must not keep it.
      assert.equal((await b.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0);
      await raw.del(key);
      await raw.set(`${prefix}v:${principal.userId}`, "99", "EX", 60);
      await raw.set(`${prefix}s:${principal.sessionId}`, `${principal.userId}:0`, "EX", 60);
      await assert.rejects(
        b.verify(`Bearer ${user.accessToken}`),
        { code: "token_revoked" },
        `B kept a read made under the ${marker} marker`,
      );
      await raw.del(`${prefix}v:${principal.userId}`, `${prefix}s:${principal.sessionId}`);
    }
  });

  test("entries are read again after one entry lifetime", async () => {
    const user = await a.register({ email: "max-age@example.com", password: PASSWORD });
    const principal = await a.verify(`Bearer ${user.accessToken}`);
    await b.verify(`Bearer ${user.accessToken}`);
    await raw.set(`${prefix}v:${principal.userId}`, "99", "EX", 60);
    assert.equal((await b.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0);
    await sleep(1100);
    // The session entry in Redis has expired by now too: put it back, so B's read is a hit on 99.
    await raw.set(`${prefix}s:${principal.sessionId}`, `${principal.userId}:0`, "EX", 60);
    await assert.rejects(b.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" }, "B read Redis again");
    await raw.set(`${prefix}v:${principal.userId}`, "0", "EX", 60);
  });

  test("a member that keeps renewing its lease but never acknowledges blocks the revocation: 503, nothing committed", async () => {
    const user = await a.register({ email: "ghost@example.com", password: PASSWORD });
    const principal = await a.verify(`Bearer ${user.accessToken}`);
    // A registration renewed every 300 ms for 3 s ahead, by something that never acknowledges.
    const renew = async () => raw.zadd(`${prefix}nodes`, (await redisNow(raw)) + 3000, "ghost:1");
    await renew();
    const renewing = setInterval(() => void renew().catch(() => {}), 300);
    try {
      const started = Date.now();
      await assert.rejects(a.logout(principal), { code: "service_unavailable" });
      const waited = Date.now() - started;
      assert.ok(waited >= 3000 && waited < 10_000, `waited ${waited} ms: at least the lease it saw, not without end`);
      // Nothing was committed: the token still works on both nodes.
      assert.equal((await a.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0);
      assert.equal((await b.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0);
    } finally {
      clearInterval(renewing);
      await raw.zrem(`${prefix}nodes`, "ghost:1");
    }
    await a.logout(principal);
    await assert.rejects(b.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
  });

  test("a member whose lease runs out holds a revocation up only until then", async () => {
    const user = await a.register({ email: "expiring@example.com", password: PASSWORD });
    const principal = await a.verify(`Bearer ${user.accessToken}`);
    await raw.zadd(`${prefix}nodes`, (await redisNow(raw)) + 1500, "gone:1");
    const started = Date.now();
    await a.logout(principal);
    const waited = Date.now() - started;
    assert.ok(waited >= 1000 && waited < 3500, `waited ${waited} ms`);
    await assert.rejects(b.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
  });
});

describe("node caches over Redis: recovery from subscriber faults", () => {
  let database: TestDatabase;
  let raw: Redis;

  before(async () => {
    database = await createTestDatabase("postgres");
    raw = new Redis(REDIS_URL!);
  });

  after(async () => {
    raw?.disconnect();
    await database?.drop();
  });

  /** A (through the proxy) and B (direct), both trusting Redis; `check` says whether A answers from memory. */
  async function pair(t: { after(fn: () => Promise<void>): void }) {
    const prefix = redisTestPrefix();
    const target = new URL(REDIS_URL!);
    const proxy = await startRedisProxy(Number(target.port || 6379), target.hostname);
    const base = { databaseUrl: database.url, redisPrefix: prefix, secret: TEST_SECRET, redisEntryTtl: 1, redisNodeLease: 1 };
    const a = await createAuth({ ...base, redisUrl: proxy.url });
    const b = await createAuth({ ...base, redisUrl: REDIS_URL! });
    t.after(async () => {
      proxy.close();
      await a.close();
      await b.close();
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
    });
    await sleep(1100);
    let n = 0;
    const check = async () => {
      const user = await b.register({ email: `recover${++n}-${prefix}@example.com`, password: PASSWORD });
      const principal = await b.verify(`Bearer ${user.accessToken}`);
      for (let i = 0; i < 2; i++) await a.verify(`Bearer ${user.accessToken}`);
      await raw.set(`${prefix}v:${principal.userId}`, "99", "EX", 60);
      const fromMemory = await a.verify(`Bearer ${user.accessToken}`).then(
        (p) => p.tokenVersion === 0,
        () => false,
      );
      await raw.set(`${prefix}v:${principal.userId}`, "0", "EX", 60);
      return { fromMemory, principal, user };
    };
    return { a, b, proxy, check };
  }

  test("a subscriber connection gone silent (no FIN) is replaced: the node caches again and can revoke", async (t) => {
    const { a, b, proxy, check } = await pair(t);
    assert.equal((await check()).fromMemory, true, "A answers from memory before the fault");
    proxy.silenceSubscribers();
    await sleep(4000);
    const { fromMemory, principal, user } = await check();
    assert.equal(fromMemory, true, "A caches again");
    await a.logout(principal);
    await assert.rejects(b.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
  });

  test("a SUBSCRIBE that times out on reconnect is retried: the node caches again and can revoke", async (t) => {
    const { a, b, proxy, check } = await pair(t);
    assert.equal((await check()).fromMemory, true);
    proxy.delayNextSubscribe(1500);
    proxy.dropSubscribers();
    await sleep(5000);
    const { fromMemory, principal, user } = await check();
    assert.equal(fromMemory, true, "A caches again");
    await a.logout(principal);
    await assert.rejects(b.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
  });

  // Redis restarts (its data gone) while a revocation is between its markers and its commit, and a
  // node trusts Redis again before that commit lands: with the markers gone it reads the older
  // state unmarked and keeps it. The revoker, whose connection closed meanwhile, must have every
  // node forget again before its logout returns.
  test("Redis restarting while a revocation is held up: no node keeps the older state after the logout", async (t) => {
    const redis = await startRedis();
    const prefix = redisTestPrefix();
    const base = {
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: prefix,
      secret: TEST_SECRET,
      redisEntryTtl: 2,
      redisNodeLease: 1,
    };
    const a = await createAuth(base);
    const b = await createAuth(base);
    const direct = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    t.after(async () => {
      await blocker.end().catch(() => {});
      direct.disconnect();
      await a.close();
      await b.close();
      await redis.remove();
    });
    await sleep(2100);
    const user = await a.register({ email: `restart-${prefix}@example.com`, password: PASSWORD });
    const principal = await a.verify(`Bearer ${user.accessToken}`);
    const other = await a.register({ email: `restart-probe-${prefix}@example.com`, password: PASSWORD });
    const probe = await a.verify(`Bearer ${other.accessToken}`);

    // The logout sets its markers and has the nodes forget, then waits on the user's row.
    await blocker.query("BEGIN");
    await blocker.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [principal.userId]);
    const logout = a.logout(principal);
    logout.catch(() => {}); // awaited below; a failure before then is reported there
    await eventually(async () => (await lockWaiters(blocker)) === 1, 5000);
    assert.equal(await direct.exists(`${prefix}pv:${principal.userId}`), 1, "marked in flight");
    await redis.stop();
    await redis.start();

    // B trusts Redis again: a Redis hit on another user's version 99 refuses that user's token.
    await eventually(async () => {
      await direct.set(`${prefix}v:${probe.userId}`, "99", "EX", 60).catch(() => {});
      await direct.set(`${prefix}s:${probe.sessionId}`, `${probe.userId}:0`, "EX", 60).catch(() => {});
      return b.verify(`Bearer ${other.accessToken}`).then(
        () => false,
        (e: { code?: string }) => e.code === "token_revoked",
      );
    }, 8000);
    // B reads the user's state: version 0, unmarked (the marker is gone); it keeps it.
    assert.equal((await b.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0);
    await direct.set(`${prefix}v:${principal.userId}`, "99", "EX", 60);
    assert.equal((await b.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0, "B answers from memory");
    await direct.set(`${prefix}v:${principal.userId}`, "0", "EX", 60);

    await blocker.query("COMMIT");
    await logout; // 204: committed, and every node told again
    await assert.rejects(b.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" }, "B kept the state from before the commit");
    await assert.rejects(a.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
  });

  // The same loss without a closed connection (the revoker's connection never noticed): the
  // revoker finds its markers gone when it writes the new values, and has every node forget again.
  for (const scope of ["all", "session", "password"] as const) {
    test(`markers lost while a revocation is held up (${scope}): no node keeps the older state after it returns`, async (t) => {
      const prefix = redisTestPrefix();
      // Entries (and so node-cache entries) of 3 s: room for the steps between B's read and the check.
      const base = {
        databaseUrl: database.url,
        redisUrl: REDIS_URL!,
        redisPrefix: prefix,
        secret: TEST_SECRET,
        redisEntryTtl: 3,
        redisNodeLease: 1,
      };
      const a = await createAuth(base);
      const b = await createAuth(base);
      const blocker = new pg.Client({ connectionString: database.url });
      await blocker.connect();
      t.after(async () => {
        await blocker.end().catch(() => {});
        await a.close();
        await b.close();
        const keys = await raw.keys(`${prefix}*`);
        if (keys.length > 0) await raw.del(...keys);
      });
      await sleep(3100);
      // A has run its revocation scripts on this connection before (so it sends them by hash).
      const earlier = await a.register({ email: `lost-earlier-${scope}-${prefix}@example.com`, password: PASSWORD });
      await a.logout(await a.verify(`Bearer ${earlier.accessToken}`));
      const user = await a.register({ email: `lost-${scope}-${prefix}@example.com`, password: PASSWORD });
      const principal = await a.verify(`Bearer ${user.accessToken}`);

      await blocker.query("BEGIN");
      if (scope === "session") await blocker.query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", [principal.sessionId]);
      else await blocker.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [principal.userId]);
      const revocation =
        scope === "password"
          ? a.changePassword(principal, { currentPassword: PASSWORD, newPassword: `${PASSWORD} changed` })
          : a.logout(principal, { scope }).then(() => undefined);
      revocation.catch(() => {}); // awaited below
      await eventually(async () => (await lockWaiters(blocker)) === 1, 5000);
      const marker = scope === "session" ? `${prefix}s:${principal.sessionId}` : `${prefix}pv:${principal.userId}`;
      assert.equal(await raw.del(marker), 1, "the marker was there; now it is lost");
      // As after a failover behind an endpoint that kept the connections: the scripts are gone too.
      await raw.script("FLUSH");

      // B reads the older state, unmarked, and keeps it.
      assert.equal((await b.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0);
      await raw.set(`${prefix}v:${principal.userId}`, "99", "EX", 60);
      assert.equal((await b.verify(`Bearer ${user.accessToken}`)).tokenVersion, 0, "B answers from memory");
      await raw.set(`${prefix}v:${principal.userId}`, "0", "EX", 60);

      await blocker.query("COMMIT");
      const changed = await revocation;
      await assert.rejects(b.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" }, "B kept the state from before the commit");
      await assert.rejects(a.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
      // A password change's new pair works everywhere: B forgot the user's version, not only sessions.
      if (changed !== undefined) assert.equal((await b.verify(`Bearer ${changed.accessToken}`)).tokenVersion, 1);
    });
  }

  test("the membership set never expires under a live member (a shorter lease elsewhere cannot shorten it)", async (t) => {
    const prefix = redisTestPrefix();
    const base = { databaseUrl: database.url, redisUrl: REDIS_URL!, redisPrefix: prefix, secret: TEST_SECRET };
    const long = await createAuth({ ...base, redisNodeLease: 60 });
    const short = await createAuth({ ...base, redisNodeLease: 1 });
    t.after(async () => {
      await long.close();
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
    });
    await sleep(1500); // the short one has renewed a few times
    await short.close();
    assert.equal(await raw.pttl(`${prefix}nodes`), -1, "no expiry on the set");
    assert.equal(await raw.zcard(`${prefix}nodes`), 1, "the long-lease member is still registered");
  });
});

describe("node caches over Redis, as processes", () => {
  let database: TestDatabase;
  let nodes: Node[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  before(async () => {
    database = await createTestDatabase("postgres");
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    for (const cleanup of cleanups) await cleanup();
    await database?.drop();
  });

  const envFor = (redisUrl: string, prefix: string) => ({
    TOKENVER_DATABASE_URL: database.url,
    TOKENVER_REDIS_URL: redisUrl,
    TOKENVER_REDIS_PREFIX: prefix,
    TOKENVER_SECRET: TEST_SECRET,
    // Entries (and so cached answers) outlive each test's faults, so only the lease can stop a
    // node from answering from memory; nodes trust Redis one entry lifetime after start.
    TOKENVER_REDIS_ENTRY_TTL: "5",
    TOKENVER_REDIS_NODE_LEASE: "1",
  });
  const TRUST_MS = 5100;

  /** Logs a user in on every node and makes each keep the session in memory. */
  async function warm(apis: Api[]) {
    const user = await apis[0]!.register();
    for (let i = 0; i < 3; i++) for (const api of apis) assert.equal((await api.get("/profile", user.access)).status, 200);
    return user;
  }

  test("a node stopped (SIGSTOP) holding the token: the revocation waits out its lease, and it refuses on waking", async () => {
    const prefix = redisTestPrefix();
    const a = await startNode(envFor(REDIS_URL!, prefix));
    const b = await startNode(envFor(REDIS_URL!, prefix));
    nodes.push(a, b);
    await sleep(TRUST_MS);
    const user = await warm([a.api, b.api]);
    b.process.kill("SIGSTOP");
    try {
      const started = Date.now();
      const logout = await a.api.post("/logout", undefined, user.access);
      assert.equal(logout.status, 204);
      assert.ok(Date.now() - started < 3500, "held up no longer than a lease and the grace");
    } finally {
      b.process.kill("SIGCONT");
    }
    await refusedThroughout([b.api, a.api], user.access, 1500);
  });

  test("a node killed (SIGKILL) holds revocations up only until its lease runs out", async () => {
    const prefix = redisTestPrefix();
    const a = await startNode(envFor(REDIS_URL!, prefix));
    const b = await startNode(envFor(REDIS_URL!, prefix));
    nodes.push(a, b);
    await sleep(TRUST_MS);
    const user = await warm([a.api, b.api]);
    await b.stop("SIGKILL");
    const started = Date.now();
    assert.equal((await a.api.post("/logout", undefined, user.access)).status, 204);
    assert.ok(Date.now() - started < 3500);
    await refusedThroughout([a.api], user.access, 300);
    // A node that leaves properly (SIGTERM) holds nothing up.
    const c = await startNode(envFor(REDIS_URL!, prefix));
    nodes.push(c);
    const other = await warm([a.api, c.api]);
    await c.stop("SIGTERM");
    const quick = Date.now();
    assert.equal((await a.api.post("/logout", undefined, other.access)).status, 204);
    assert.ok(Date.now() - quick < 1000, `a clean leave still held the revocation up ${Date.now() - quick} ms`);
  });

  test("a silent partition between one node and Redis: the revocation goes ahead, the node never accepts the token", async () => {
    const prefix = redisTestPrefix();
    const target = new URL(REDIS_URL!);
    const proxy = await startProxy(Number(target.port || 6379), target.hostname);
    cleanups.push(async () => proxy.close());
    const a = await startNode(envFor(REDIS_URL!, prefix));
    const b = await startNode(envFor(`redis://127.0.0.1:${proxy.port}`, prefix));
    nodes.push(a, b);
    await sleep(TRUST_MS);
    const user = await warm([a.api, b.api]);
    const laptop = await b.api.login(user.email, user.password);
    for (let i = 0; i < 3; i++) assert.equal((await b.api.get("/profile", laptop.access)).status, 200);

    proxy.freeze();
    try {
      const started = Date.now();
      assert.equal((await a.api.post("/logout", undefined, user.access)).status, 204);
      assert.ok(Date.now() - started < 3500);
      // B cannot hear the invalidation; it must have stopped answering from memory.
      await refusedThroughout([b.api, a.api], user.access, 1500);
      await refusedThroughout([b.api], laptop.access, 200);
    } finally {
      proxy.thaw();
    }
    // The held-back traffic arrives late; B still refuses, and comes back to normal service.
    await refusedThroughout([b.api, a.api], user.access, 1500);
    const again = await a.api.login(user.email, user.password);
    await eventually(async () => (await b.api.get("/profile", again.access)).status === 200);
    await eventually(async () => (await b.api.post("/logout", undefined, again.access)).status === 204);
    await refusedThroughout([a.api, b.api], again.access, 500);
  });

  test("subscriber connections killed by Redis: nodes forget what they cached, rejoin, and stay exact", async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.remove());
    const prefix = redisTestPrefix();
    const a = await startNode(envFor(redis.url, prefix));
    const b = await startNode(envFor(redis.url, prefix));
    nodes.push(a, b);
    await sleep(TRUST_MS);
    const admin = new Redis(redis.url);
    cleanups.push(async () => admin.disconnect());
    for (let round = 0; round < 5; round++) {
      const user = await warm([a.api, b.api]);
      await admin.client("KILL", "TYPE", "pubsub");
      await eventually(async () => (await a.api.post("/logout", undefined, user.access)).status === 204);
      await refusedThroughout([a.api, b.api], user.access, 300);
    }
  });
});
