import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, test } from "node:test";
import { createTestDatabase, POSTGRES_URL, redisTestPrefix, type TestDatabase } from "../support/databases.js";
import { startNode, startProxy, startRedis, type Node, type RedisServer } from "../support/nodes.js";
import { TEST_SECRET, type Api } from "../support/server.js";

/** Asserts, repeatedly for `ms`, that a token is refused on every node. */
async function refusedThroughout(apis: Api[], token: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  let checks = 0;
  while (Date.now() < until) {
    for (const api of apis) {
      const r = await api.get("/profile", token);
      assert.equal(r.status, 401, `a revoked token was accepted after ${checks} checks`);
      assert.equal(r.body.code, "token_revoked");
      checks++;
    }
  }
  assert.ok(checks > 10);
}

async function eventually(fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return;
    await sleep(100);
  }
  assert.fail("did not recover in time");
}

for (const appendOnly of [false, true]) {
  describe(`Redis stops and restarts mid-run (${appendOnly ? "with persistence: it comes back with stale entries" : "no persistence"})`, () => {
    let database: TestDatabase;
    let redis: RedisServer;
    let nodes: Node[] = [];

    after(async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await redis?.remove();
      await database?.drop();
    });

    test("no revoked token is ever accepted, and service recovers", async () => {
      database = await createTestDatabase("postgres");
      redis = await startRedis({ appendOnly });
      const env = {
        TOKENVER_DATABASE_URL: database.url,
        TOKENVER_REDIS_URL: redis.url,
        TOKENVER_REDIS_PREFIX: redisTestPrefix(),
        TOKENVER_SECRET: TEST_SECRET,
        TOKENVER_REDIS_ENTRY_TTL: "3",
      };
      nodes = [await startNode(env)];
      nodes.push(await startNode(env));
      const [a, b] = [nodes[0]!.api, nodes[1]!.api];

      const user = await a.register();
      const laptop = await b.login(user.email, user.password);
      // Redis now holds version 0 for this user (filled by these reads).
      for (const api of [a, b]) for (const t of [user.access, laptop.access]) assert.equal((await api.get("/profile", t)).status, 200);

      await redis.stop();
      // Redis is down: nodes read PostgreSQL; authenticated requests still work.
      assert.equal((await a.get("/profile", user.access)).status, 200);
      assert.equal((await b.get("/health")).status, 200);
      // A logout during the outage commits to PostgreSQL and holds on every node.
      assert.equal((await a.post("/logout", undefined, user.access)).status, 204);
      await refusedThroughout([a, b], laptop.access, 500);
      const during = await b.login(user.email, user.password);
      assert.equal((await a.get("/profile", during.access)).status, 200);

      await redis.start();
      // With persistence Redis comes back holding version 0: the nodes must not trust it.
      await refusedThroughout([a, b], laptop.access, 4_000);
      await refusedThroughout([a, b], user.access, 500);
      // Service recovers: new tokens work on every node, revocations keep working through Redis.
      await eventually(async () => (await b.get("/profile", during.access)).status === 200);
      assert.equal((await a.get("/profile", during.access)).status, 200);
      assert.equal((await b.post("/logout", undefined, during.access)).status, 204);
      await refusedThroughout([a, b], during.access, 500);
      for (const n of nodes) assert.doesNotMatch(n.output(), /at .*\.(ts|js):\d+|SELECT|ECONNREFUSED 127/);
    });
  });
}

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
    assert.equal((await api.post("/logout", undefined, user.access)).status, 204);
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
