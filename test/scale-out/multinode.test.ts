import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { claimsOf, TEST_SECRET } from "../support/server.js";

// Three real server processes over one PostgreSQL and one Redis: a revocation on one node is
// refused by every node as soon as the revoking response has arrived.
describe("three nodes over PostgreSQL + Redis", () => {
  let database: TestDatabase;
  let nodes: Node[];

  before(async () => {
    database = await createTestDatabase("postgres");
    const env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: REDIS_URL!,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_RATE_LIMIT_ACCOUNT: "4",
      // A used refresh token presented at once is reuse here, not the grace of docs/api.md section 6.
      TOKENVER_REFRESH_GRACE: "0",
      // Short entries: nodes trust Redis one entry lifetime after start, and the test wants the
      // Redis path (not the database fallback) under test.
      TOKENVER_REDIS_ENTRY_TTL: "2",
    };
    // The first node migrates; the others start against the migrated database (and race nothing).
    const first = await startNode(env);
    nodes = [first, ...(await Promise.all([startNode(env), startNode(env)]))];
    await sleep(2200);
  });

  after(async () => {
    await Promise.all(nodes?.map((n) => n.stop()) ?? []);
    await database?.drop();
  });

  test("logout on one node is refused on all three at once, every time", async () => {
    for (let round = 0; round < 25; round++) {
      const [a, b, c] = [nodes[round % 3]!, nodes[(round + 1) % 3]!, nodes[(round + 2) % 3]!];
      const user = await a.api.register();
      const other = await b.api.login(user.email, user.password);
      // Warm every node (the shared Redis copy, then each node's memory) with the soon-revoked state.
      for (let i = 0; i < 2; i++) {
        for (const n of nodes) {
          assert.equal((await n.api.get("/profile", user.access)).status, 200);
          assert.equal((await n.api.get("/profile", other.access)).status, 200);
        }
      }
      assert.equal((await c.api.post("/logout", undefined, user.access)).status, 204);
      const checks = await Promise.all(nodes.flatMap((n) => [n.api.get("/profile", user.access), n.api.get("/profile", other.access)]));
      for (const r of checks) {
        assert.equal(r.status, 401, `round ${round}: a revoked token was accepted`);
        assert.equal(r.body.code, "token_revoked");
      }
    }
  });

  test("revoking one session on one node is refused on all nodes at once", async () => {
    for (let round = 0; round < 10; round++) {
      const user = await nodes[0]!.api.register();
      const second = await nodes[1]!.api.login(user.email, user.password);
      for (let i = 0; i < 2; i++) for (const n of nodes) assert.equal((await n.api.get("/profile", second.access)).status, 200);
      const sid = claimsOf(second.access).sid;
      const revoke = await nodes[2]!.api.request("DELETE", `/sessions/${sid}`, { token: user.access });
      assert.equal(revoke.status, 204);
      for (const n of nodes) {
        assert.equal((await n.api.get("/profile", second.access)).body.code, "token_revoked");
        assert.equal((await n.api.get("/profile", user.access)).status, 200, "the other session lives on");
      }
    }
  });

  test("a new login after logout works on every node with the new version", async () => {
    const user = await nodes[0]!.api.register();
    for (const n of nodes) await n.api.get("/profile", user.access);
    assert.equal((await nodes[1]!.api.post("/logout", undefined, user.access)).status, 204);
    const again = await nodes[2]!.api.login(user.email, user.password);
    assert.equal(claimsOf(again.access).token_version, 1);
    for (const n of nodes) assert.equal((await n.api.get("/profile", again.access)).status, 200);
  });

  test("concurrent refreshes of one token on different nodes give exactly one 200", async () => {
    for (let round = 0; round < 5; round++) {
      const user = await nodes[0]!.api.register();
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => nodes[i % 3]!.api.post("/token/refresh", { refresh: user.refresh })),
      );
      const ok = results.filter((r) => r.status === 200);
      assert.equal(ok.length, 1, `round ${round}: ${results.map((r) => r.status).join(",")}`);
      for (const r of results.filter((r) => r.status !== 200)) assert.equal(r.status, 401);
    }
  });

  test("refresh-token reuse on one node revokes the session's access tokens on every node at once", async () => {
    // The reuse revocation must name the session (its in-flight marker and invalidation reach
    // the other nodes' caches); a revocation naming none is invisible on one node. The reused
    // token's successor was itself used, so no refresh grace window can apply.
    for (let round = 0; round < 6; round++) {
      const user = await nodes[round % 3]!.api.register();
      const second = await nodes[(round + 1) % 3]!.api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(second.status, 200);
      const third = await nodes[(round + 2) % 3]!.api.post("/token/refresh", { refresh: second.body.refresh });
      assert.equal(third.status, 200);
      const access = third.body.access as string;
      for (let i = 0; i < 2; i++) for (const n of nodes) assert.equal((await n.api.get("/profile", access)).status, 200);
      const reuse = await nodes[round % 3]!.api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(reuse.status, 401);
      assert.equal(reuse.body.code, "refresh_reused");
      const checks = await Promise.all(nodes.map((n) => n.api.get("/profile", access)));
      for (const r of checks) {
        assert.equal(r.status, 401, `round ${round}: the reused session's access token was accepted`);
        assert.equal(r.body.code, "token_revoked");
      }
    }
  });

  test("throttling counts failures across nodes", async () => {
    const user = await nodes[0]!.api.register();
    for (let i = 0; i < 4; i++) {
      const r = await nodes[i % 3]!.api.post("/login", { email: user.email, password: "wrong password here" });
      assert.equal(r.status, 401);
    }
    for (const n of nodes) {
      const r = await n.api.post("/login", { email: user.email, password: user.password });
      assert.equal(r.status, 429);
      assert.equal(r.body.code, "rate_limited");
      assert.ok(Number(r.headers.get("retry-after")) > 0);
    }
  });
});
