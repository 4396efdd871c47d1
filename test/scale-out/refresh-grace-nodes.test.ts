import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { claimsOf, TEST_SECRET } from "../support/server.js";

// The refresh grace of docs/api.md section 6 across two real nodes over one PostgreSQL and one
// Redis (#12): the grace is decided in the shared database, so a tab that refreshed on node A and
// a tab presenting the same token on node B both stay signed in; once the window has passed, the
// same presentation on B is reuse (section 3), and the session is revoked on both nodes at once.
const GRACE_S = 2;

describe("refresh grace on two nodes over PostgreSQL + Redis", () => {
  let database: TestDatabase;
  let a: Node;
  let b: Node;

  before(async () => {
    database = await createTestDatabase("postgres");
    const env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: REDIS_URL!,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_REFRESH_GRACE: String(GRACE_S),
      // Short entries: nodes trust Redis one entry lifetime after start, and the revocation should
      // reach B through the Redis path, not only the database fallback.
      TOKENVER_REDIS_ENTRY_TTL: "2",
    };
    // A migrates; B starts against the migrated database.
    a = await startNode(env);
    b = await startNode(env);
    await sleep(2200);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  const refreshOn = (node: Node, token: string) => node.api.post("/token/refresh", { refresh: token });

  test("within the grace: 200 on B with A's successor; after it: refresh_reused on B, the session revoked on both", async () => {
    const user = await a.api.register();
    // Another session of the same user: reuse revokes one session, not the user.
    const other = await b.api.login(user.email, user.password);

    const first = await refreshOn(a, user.refresh);
    assert.equal(first.status, 200, first.text);
    const second = await refreshOn(b, user.refresh);
    assert.equal(second.status, 200, `within the grace on the other node: ${second.text}`);
    assert.equal(second.body.refresh, first.body.refresh, "the same successor refresh token");
    assert.notEqual(second.body.access, first.body.access, "a new access token");
    assert.equal(claimsOf(second.body.access).sid, claimsOf(user.access).sid);
    assert.equal(claimsOf(second.body.access).token_version, claimsOf(first.body.access).token_version);
    for (const node of [a, b])
      for (const token of [first.body.access, second.body.access]) assert.equal((await node.api.get("/profile", token)).status, 200);

    // Past the window (database clock), the same token presented again is reuse.
    await sleep(GRACE_S * 1000 + 700);
    const late = await refreshOn(b, user.refresh);
    assert.equal(late.status, 401, late.text);
    assert.equal(late.body.code, "refresh_reused");

    // The whole session is revoked on both nodes at once: A's access token on B, B's on A, both on
    // their own nodes, and the successor refresh token.
    for (const [node, token] of [
      [b, first.body.access],
      [a, second.body.access],
      [a, first.body.access],
      [b, second.body.access],
      [b, user.access],
    ] as const) {
      const response = await node.api.get("/profile", token);
      assert.equal(response.status, 401, `${node === a ? "A" : "B"}: ${response.text}`);
      assert.equal(response.body.code, "token_revoked");
    }
    const successor = await refreshOn(a, first.body.refresh);
    assert.equal(successor.status, 401, successor.text);
    assert.equal(successor.body.code, "token_revoked", "a refresh token of a revoked session (section 3)");

    // The user's other session lives on both nodes.
    for (const node of [a, b]) assert.equal((await node.api.get("/profile", other.access)).status, 200);
    assert.equal((await refreshOn(a, other.refresh)).status, 200);
  });
});
