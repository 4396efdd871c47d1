import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { createTestDatabase, POSTGRES_URL, redisTestPrefix, type TestDatabase } from "../support/databases.js";
import { startNode, startProxy, startRedis, type Node, type RedisServer } from "../support/nodes.js";
import { Redis } from "ioredis";
import pg from "pg";
import { TEST_SECRET, type Api } from "../support/server.js";

/** Asserts, repeatedly for `ms` and at least 12 times (a loaded machine answers slowly), that a token is refused on every node. */
async function refusedThroughout(apis: Api[], token: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  let checks = 0;
  while (Date.now() < until || checks <= 10) {
    for (const api of apis) {
      const r = await api.get("/profile", token);
      assert.equal(r.status, 401, `a revoked token was accepted after ${checks} checks`);
      assert.equal(r.body.code, "token_revoked");
      checks++;
    }
  }
}

async function eventually(fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return;
    await sleep(100);
  }
  assert.fail("did not recover in time");
}

describe("Redis stops and restarts mid-run", () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let nodes: Node[] = [];

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.remove();
    await database?.drop();
  });

  test("requests fall back to PostgreSQL, revocations are refused (503) rather than left half-done, service recovers", async () => {
    database = await createTestDatabase("postgres");
    redis = await startRedis();
    const env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: redis.url,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_REDIS_ENTRY_TTL: "2",
    };
    nodes = [await startNode(env)];
    nodes.push(await startNode(env));
    const [a, b] = [nodes[0]!.api, nodes[1]!.api];

    const user = await a.register();
    const laptop = await b.login(user.email, user.password);
    for (const api of [a, b]) for (const t of [user.access, laptop.access]) assert.equal((await api.get("/profile", t)).status, 200);

    await redis.stop();
    // Redis is down: nodes read PostgreSQL; authenticated requests and logins still work.
    assert.equal((await a.get("/profile", user.access)).status, 200);
    assert.equal((await b.get("/health")).status, 200);
    const during = await b.login(user.email, user.password);
    assert.equal((await a.get("/profile", during.access)).status, 200);
    // A revocation that could not mark Redis is refused before anything is committed: the
    // client learns that nothing was revoked, and no node can disagree about it.
    const refused = await a.post("/logout", undefined, user.access);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, "service_unavailable");
    assert.equal((await b.get("/profile", user.access)).status, 200);

    await redis.start();
    await eventually(async () => (await a.post("/logout", undefined, user.access)).status === 204);
    await refusedThroughout([a, b], user.access, 3_000);
    await refusedThroughout([a, b], laptop.access, 500);
    await refusedThroughout([a, b], during.access, 500);
    const after = await a.login(user.email, user.password);
    for (const api of [a, b]) assert.equal((await api.get("/profile", after.access)).status, 200);
    for (const n of nodes) assert.doesNotMatch(n.output(), /at .*\.(ts|js):\d+|SELECT|ECONNREFUSED 127/);
  });
});

describe("Redis comes back from an older snapshot (a committed revocation it never saw)", () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let nodes: Node[] = [];

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.remove();
    await database?.drop();
  });

  test("no node, old or newly started, trusts the stale entries", async () => {
    database = await createTestDatabase("postgres");
    redis = await startRedis({ appendOnly: true });
    const env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: redis.url,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_REDIS_ENTRY_TTL: "3",
    };
    nodes = [await startNode(env), await startNode(env)];
    const [a, b] = [nodes[0]!.api, nodes[1]!.api];
    const user = await a.register();
    // Past the start-up distrust: Redis now holds version 0 for this user, persisted to disk.
    await eventually(async () => {
      for (const api of [a, b]) assert.equal((await api.get("/profile", user.access)).status, 200);
      return (await redisKey(redis.url, `${env.TOKENVER_REDIS_PREFIX}v:${user.user.id}`)) === "0";
    });

    await redis.stop();
    // A revocation Redis never learns of (as if its last writes were lost with a failover or an
    // older snapshot): committed straight to PostgreSQL.
    await bumpVersion(database.url, user.user.id);
    await redis.start();
    nodes.push(await startNode(env));
    await refusedThroughout([a, b, nodes[2]!.api], user.access, 4_000);
  });
});

async function redisKey(url: string, key: string): Promise<string | null> {
  const client = new Redis(url);
  try {
    return await client.get(key);
  } finally {
    client.disconnect();
  }
}

async function bumpVersion(databaseUrl: string, userId: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("UPDATE users SET token_version = token_version + 1 WHERE id = $1", [userId]);
  } finally {
    await client.end();
  }
}

describe("Redis hangs (SIGSTOP)", () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let node: Node | undefined;

  after(async () => {
    await redis?.thaw();
    await node?.stop();
    await redis?.remove();
    await database?.drop();
  });

  test("requests stop waiting on it and read PostgreSQL; revocations are refused; it is trusted again later", async () => {
    database = await createTestDatabase("postgres");
    redis = await startRedis();
    node = await startNode({
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: redis.url,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_REDIS_ENTRY_TTL: "1",
    });
    const api = node.api;
    const user = await api.register();
    await sleep(1200);
    assert.equal((await api.get("/profile", user.access)).status, 200);

    await redis.freeze();
    assert.equal((await api.get("/profile", user.access)).status, 200, "the first request waits out the command timeout");
    const started = Date.now();
    for (let i = 0; i < 10; i++) assert.equal((await api.get("/profile", user.access)).status, 200);
    assert.ok(Date.now() - started < 3000, "later requests no longer wait for the hung Redis");
    // Throttling counters fall back to memory; after one timed-out call they stop asking Redis.
    assert.equal((await api.post("/login", { email: user.email, password: user.password })).status, 200);
    const loginStarted = Date.now();
    assert.equal((await api.post("/login", { email: user.email, password: user.password })).status, 200);
    assert.ok(Date.now() - loginStarted < 900, "a login no longer waits for the hung Redis");
    assert.equal((await api.post("/logout", undefined, user.access)).status, 503);
    assert.equal((await api.get("/profile", user.access)).status, 200, "a refused logout revoked nothing");

    await redis.thaw();
    await eventually(async () => (await api.post("/logout", undefined, user.access)).status === 204);
    await refusedThroughout([api], user.access, 1500);
  });
});

describe("PostgreSQL and Redis both unreachable: fail closed with 503", () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let node: Node | undefined;
  let pgProxy: Awaited<ReturnType<typeof startProxy>> | undefined;

  after(async () => {
    await node?.stop();
    await pgProxy?.close();
    await redis?.remove();
    await database?.drop();
  });

  test("authenticated requests, logins and /health answer 503, then recover", async () => {
    database = await createTestDatabase("postgres");
    redis = await startRedis();
    const target = new URL(POSTGRES_URL!);
    pgProxy = await startProxy(Number(target.port || 5432), target.hostname);
    const viaProxy = new URL(database.url);
    viaProxy.port = String(pgProxy.port);
    node = await startNode({
      TOKENVER_DATABASE_URL: viaProxy.toString(),
      TOKENVER_REDIS_URL: redis.url,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
    });
    const api = node.api;
    const user = await api.register();
    assert.equal((await api.get("/profile", user.access)).status, 200);

    pgProxy.cut();
    await redis.stop();
    for (const r of [
      await api.get("/profile", user.access),
      await api.get("/sessions", user.access),
      await api.post("/login", { email: user.email, password: user.password }),
      await api.get("/health"),
      await api.post("/logout", undefined, user.access),
    ]) {
      assert.equal(r.status, 503);
      assert.equal(r.body.code, "service_unavailable");
      assert.match(r.headers.get("content-type") ?? "", /application\/problem\+json/);
      assert.doesNotMatch(r.text, /ECONN|SELECT|postgres|\.ts:|\.js:/);
    }

    pgProxy.restore();
    await redis.start();
    await eventually(async () => (await api.get("/health")).status === 200);
    await eventually(async () => (await api.get("/profile", user.access)).status === 200);
    // Revocations wait for Redis to answer again (they must mark it first).
    await eventually(async () => (await api.post("/logout", undefined, user.access)).status === 204);
    assert.equal((await api.get("/profile", user.access)).body.code, "token_revoked");
  });

  test("PostgreSQL down, Redis up: a revocation that cannot commit fails closed", async () => {
    const api = node!.api;
    const user = await api.register();
    assert.equal((await api.get("/profile", user.access)).status, 200);
    pgProxy!.cut();
    const logout = await api.post("/logout", undefined, user.access);
    assert.equal(logout.status, 503);
    // The in-flight marker stays: the token is checked against the database, which is down.
    assert.equal((await api.get("/sessions", user.access)).status, 503);
    pgProxy!.restore();
    await eventually(async () => (await api.get("/profile", user.access)).status === 200);
  });
});
