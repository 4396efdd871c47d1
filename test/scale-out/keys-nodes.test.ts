import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { runCli } from "../support/process.js";
import { TEST_SECRET } from "../support/server.js";
import { decodePart } from "../support/tokens-forge.js";

// docs/api.md section 7 on two real nodes over one PostgreSQL and one Redis: nodes that start at
// once end with one key; a rotated key is published on both before it signs, and both switch to
// it at the same moment; a revoked key's tokens are refused by both once `keys revoke` has exited.
describe("signing keys on two nodes over PostgreSQL + Redis", () => {
  let database: TestDatabase;
  let nodes: Node[];
  let env: Record<string, string>;
  const kidOf = (token: string) => decodePart(token, 0).kid as string;
  const jwksKids = async (node: Node) =>
    ((await node.api.get("/.well-known/jwks.json")).body.keys as Array<{ kid: string }>).map((k) => k.kid).sort();

  before(async () => {
    database = await createTestDatabase("postgres");
    env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: REDIS_URL!,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_SIGNING_ALG: "ES256",
      TOKENVER_KEY_PUBLISH_DELAY: "8", // room for the checks below on a loaded machine before the new key signs
    };
    // Both start at once on an empty database: the keys' lock leaves one key.
    nodes = await Promise.all([startNode(env), startNode(env)]);
  });
  after(async () => {
    await Promise.all(nodes?.map((n) => n.stop()) ?? []);
    await database?.drop();
  });

  test("two nodes started at once agree on one key", async () => {
    const [a, b] = [await jwksKids(nodes[0]!), await jwksKids(nodes[1]!)];
    assert.equal(a.length, 1);
    assert.deepEqual(a, b);
    const user = await nodes[0]!.api.register();
    assert.equal(kidOf(user.access), a[0]);
    assert.equal((await nodes[1]!.api.get("/profile", user.access)).status, 200);
  });

  test("rotate: published on both at once, signing on both after the delay; revoke: refused on both", async () => {
    const user = await nodes[0]!.api.register();
    const k1 = kidOf(user.access);
    for (const n of nodes) assert.equal((await n.api.get("/profile", user.access)).status, 200);

    const rotated = await runCli(["keys", "rotate"], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    const k2 = /published (\S+) \(ES256\)/.exec(rotated.stdout)![1]!;
    for (const n of nodes) {
      assert.deepEqual(await jwksKids(n), [k1, k2].sort(), "published on every node once the command has exited");
      assert.equal(kidOf((await n.api.login(user.email, user.password)).access), k1, "not signing yet");
    }
    await sleep(8500);
    const fresh: string[] = [];
    for (const n of nodes) {
      const token = (await n.api.login(user.email, user.password)).access;
      assert.equal(kidOf(token), k2, "the new key signs on every node after the delay");
      fresh.push(token);
    }
    for (const n of nodes) for (const token of [user.access, ...fresh]) assert.equal((await n.api.get("/profile", token)).status, 200);

    const revoked = await runCli(["keys", "revoke", k1], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    for (const n of nodes) {
      const response = await n.api.get("/profile", user.access);
      assert.equal(response.status, 401);
      assert.equal(response.body.code, "token_invalid");
      for (const token of fresh) assert.equal((await n.api.get("/profile", token)).status, 200);
      assert.deepEqual(await jwksKids(n), [k2]);
    }
  });
});
