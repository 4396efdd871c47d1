// Three real server processes over PostgreSQL + Redis: a logout (scope `session`) that passes
// another user's refresh token leaves that user's session fully alive on every node. The mutant it
// kills (issue #21): dropping `row.user_id === userId` in src/core/sessions/logout.ts, which writes
// the victim's session into Redis as revoked under the caller's id (the victim gets token_invalid).
// In one process, on every store, with a spy on SQLite: test/logout-ownership.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { TEST_SECRET } from "../support/server.js";

describe("logout with another user's refresh token, three nodes over PostgreSQL + Redis", () => {
  let database: TestDatabase;
  let nodes: Node[];

  before(async () => {
    database = await createTestDatabase("postgres");
    const env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: REDIS_URL!,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      // Short entries: nodes trust Redis one entry lifetime after start, and the Redis path (not the
      // database fallback) is the one under test.
      TOKENVER_REDIS_ENTRY_TTL: "2",
    };
    const first = await startNode(env); // migrates; the others start against the migrated database
    nodes = [first, ...(await Promise.all([startNode(env), startNode(env)]))];
    await sleep(2200);
  });

  after(async () => {
    await Promise.all(nodes?.map((n) => n.stop()) ?? []);
    await database?.drop();
  });

  /** 200 with the victim's profile on every node, twice (the second answer comes from memory). */
  async function aliveEverywhere(access: string, userId: string, what: string) {
    for (let i = 0; i < 2; i++) {
      for (const [n, node] of nodes.entries()) {
        const response = await node.api.get("/profile", access);
        assert.equal(response.status, 200, `${what}: node ${n} answered ${response.status} ${response.body?.code ?? ""}`);
        assert.equal(response.body.id, userId);
      }
    }
  }

  test("scope session: the victim's access token stays 200 on every node and the victim's refresh still works", async () => {
    for (let round = 0; round < 6; round++) {
      const [here, there] = [nodes[round % 3]!, nodes[(round + 1) % 3]!];
      const caller = await here.api.register();
      const victim = await there.api.register();
      await aliveEverywhere(victim.access, victim.user.id, `round ${round}, before`);

      const logout = await here.api.request("POST", "/logout", {
        token: caller.access,
        body: { scope: "session", refresh: victim.refresh },
      });
      assert.equal(logout.status, 204);
      for (const node of nodes) assert.equal((await node.api.get("/profile", caller.access)).body.code, "token_revoked");

      await aliveEverywhere(victim.access, victim.user.id, `round ${round}, the victim's access token after the logout`);
      const refreshed = await nodes[(round + 2) % 3]!.api.post("/token/refresh", { refresh: victim.refresh });
      assert.equal(refreshed.status, 200, `round ${round}: the victim's refresh: ${refreshed.text}`);
      await aliveEverywhere(refreshed.body.access, victim.user.id, `round ${round}, the victim's refreshed access token`);
    }
  });
});
