import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { TEST_SECRET } from "../support/server.js";
import { totpAt } from "../support/totp.js";

// Turning the second factor on or off revokes every other session of the user: on every node at
// once, like logout. Two real server processes over one PostgreSQL and one Redis, each answering
// from its memory (node caches), warmed with the soon-revoked session before the change. A code
// used on one node is refused on the other (the last accepted step is in the database).
describe("the second factor on two nodes over PostgreSQL + Redis", () => {
  let database: TestDatabase;
  let nodes: Node[];

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
  });

  after(async () => {
    await Promise.all(nodes?.map((n) => n.stop()) ?? []);
    await database?.drop();
  });

  async function warm(tokens: string[]) {
    for (let i = 0; i < 2; i++) for (const n of nodes) for (const t of tokens) assert.equal((await n.api.get("/profile", t)).status, 200);
  }

  async function refusedEverywhere(token: string, what: string) {
    const checks = await Promise.all(nodes.map((n) => n.api.get("/profile", token)));
    for (const r of checks) {
      assert.equal(r.status, 401, `a revoked session's token was accepted after ${what}`);
      assert.equal(r.body.code, "token_revoked");
    }
  }

  test("enabling on one node revokes another session on both at once; disabling on the other node too; codes are not replayed across nodes", async () => {
    for (let round = 0; round < 3; round++) {
      const [a, b] = round % 2 === 0 ? [nodes[0]!, nodes[1]!] : [nodes[1]!, nodes[0]!];
      const user = await a.api.register();
      const other = await b.api.login(user.email, user.password);
      await warm([user.access, other.access]);

      const { secret } = (await a.api.post("/mfa/totp", undefined, user.access)).body;
      const code = totpAt(secret, Date.now());
      const on = await a.api.post("/mfa/totp/confirm", { code, password: user.password }, user.access);
      assert.equal(on.status, 200, on.text);
      await refusedEverywhere(other.access, "enabling");
      for (const n of nodes) assert.equal((await n.api.get("/profile", user.access)).status, 200, "the enabling session continues");

      // A second session through the second factor, on the other node; the confirming code is spent there too.
      const login = await b.api.post("/login", { email: user.email, password: user.password });
      assert.equal(login.body.code, "mfa_required");
      const replay = await b.api.post("/login/mfa", { mfa_token: login.body.mfa_token, code });
      assert.equal(replay.status, 401, "a code used on one node was accepted on the other");
      const second = await b.api.post("/login/mfa", { mfa_token: login.body.mfa_token, code: totpAt(secret, Date.now(), 1) });
      assert.equal(second.status, 200, second.text);
      await warm([user.access, second.body.access]);

      // Off on node b, from the second session: the first session dies on both nodes at once.
      // (The steps up to T+1 are spent: a recovery code does it.)
      const off = await b.api.request("DELETE", "/mfa/totp", {
        body: { password: user.password, code: on.body.recovery_codes[0] },
        token: second.body.access,
      });
      assert.equal(off.status, 204, off.text);
      await refusedEverywhere(user.access, "disabling");
    }
  });
});
