import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { TEST_SECRET } from "../support/server.js";

// The admin actions that revoke (disable, logout, delete) hold on every node once they answer,
// like logout: two real server processes over one PostgreSQL and one Redis, each answering from
// its memory (node caches), warmed with the soon-revoked state before the action.
describe("admin actions on two nodes over PostgreSQL + Redis", () => {
  let database: TestDatabase;
  let nodes: Node[];
  let adminAccess: string;

  before(async () => {
    database = await createTestDatabase("postgres");
    const env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: REDIS_URL!,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_REDIS_ENTRY_TTL: "2",
    };
    const first = await startNode(env);
    nodes = [first, await startNode(env)];
    await sleep(2200);
    const admin = await first.api.register();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query("UPDATE users SET role = 'admin' WHERE id = $1", [admin.user.id]);
    } finally {
      await client.end();
    }
    adminAccess = admin.access;
  });

  after(async () => {
    await Promise.all(nodes?.map((n) => n.stop()) ?? []);
    await database?.drop();
  });

  async function warmed() {
    const user = await nodes[0]!.api.register();
    const other = await nodes[1]!.api.login(user.email, user.password);
    for (let i = 0; i < 2; i++) {
      for (const n of nodes) {
        assert.equal((await n.api.get("/profile", user.access)).status, 200);
        assert.equal((await n.api.get("/profile", other.access)).status, 200);
      }
    }
    return { user, tokens: [user.access, other.access] };
  }

  for (const action of ["disable", "logout", "delete"] as const) {
    test(`${action} on one node: every token of the user is refused on both at once`, async () => {
      for (let round = 0; round < 5; round++) {
        const { user, tokens } = await warmed();
        const actor = nodes[round % 2]!;
        const response =
          action === "delete"
            ? await actor.api.request("DELETE", `/admin/users/${user.user.id}`, { token: adminAccess })
            : await actor.api.request("POST", `/admin/users/${user.user.id}/${action}`, { token: adminAccess });
        assert.equal(response.status, 204, response.text);
        const checks = await Promise.all(nodes.flatMap((n) => tokens.map((t) => n.api.get("/profile", t))));
        for (const r of checks) {
          assert.equal(r.status, 401, `round ${round}: a revoked token was accepted after ${action}`);
          assert.ok(["token_revoked", "token_invalid"].includes(r.body.code), r.text);
        }
        if (action === "disable") {
          for (const n of nodes) {
            const login = await n.api.post("/login", { email: user.email, password: user.password });
            assert.equal(login.body.code, "account_disabled");
          }
        }
      }
    });
  }
});
