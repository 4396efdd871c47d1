import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { runCli } from "../support/process.js";
import { TEST_SECRET } from "../support/server.js";
import { decodePart } from "../support/tokens-forge.js";

// docs/api.md section 7 under load (#13): "rotation publishes before it signs". Three nodes over one
// PostgreSQL and one Redis serve GET /profile to a few concurrent clients that never stop, and
// that refresh now and then on one node and use the new access token on the others. A planned
// `keys rotate` in the middle must cost no request at all: every answer, through the switch and
// past it, is 200. Then `keys revoke <old kid>` refuses the old key's tokens on every node.
const PUBLISH_DELAY_S = 2;
const CLIENTS = 4;
const REFRESH_EVERY = 25;

describe("a planned key rotation under load on three nodes over PostgreSQL + Redis", () => {
  let database: TestDatabase;
  let nodes: Node[];
  let env: Record<string, string>;
  const kidOf = (token: string) => decodePart(token, 0).kid as string;

  before(async () => {
    database = await createTestDatabase("postgres");
    env = {
      TOKENVER_DATABASE_URL: database.url,
      TOKENVER_REDIS_URL: REDIS_URL!,
      TOKENVER_REDIS_PREFIX: redisTestPrefix(),
      TOKENVER_SECRET: TEST_SECRET,
      TOKENVER_SIGNING_ALG: "EdDSA",
      TOKENVER_KEY_PUBLISH_DELAY: String(PUBLISH_DELAY_S),
    };
    nodes = await Promise.all([startNode(env), startNode(env), startNode(env)]);
  });
  after(async () => {
    await Promise.all(nodes?.map((n) => n.stop()) ?? []);
    await database?.drop();
  });

  test("rotate mid-load: zero failed requests, the new kid on every node; revoke: old tokens refused everywhere", async () => {
    // Each client's user and first tokens come from a different node.
    const users = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => nodes[i % 3]!.api.register()));
    const k1 = kidOf(users[0]!.access);
    for (const u of users) assert.equal(kidOf(u.access), k1);

    let running = true;
    const failures: string[] = [];
    const seenKids = new Set<string>();
    let requests = 0;
    const client = async (index: number) => {
      let { access, refresh } = users[index]!;
      let n = 0;
      while (running) {
        n++;
        const node = nodes[(index + n) % 3]!;
        if (n % REFRESH_EVERY === 0) {
          // A fresh pair from one node, used on the next ones: across the switch some are signed
          // by the new key and verified at once by nodes that did not sign them.
          const refreshed = await fetch(`${node.url}/token/refresh`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ refresh }),
          });
          const body = (await refreshed.json()) as { access: string; refresh: string };
          requests++;
          if (refreshed.status !== 200) {
            failures.push(`client ${index} refresh on ${node.url}: ${refreshed.status} ${JSON.stringify(body)}`);
            continue;
          }
          ({ access, refresh } = body);
          seenKids.add(kidOf(access));
          continue;
        }
        const response = await fetch(`${node.url}/profile`, { headers: { authorization: `Bearer ${access}` } });
        const text = await response.text();
        requests++;
        if (response.status !== 200)
          failures.push(`client ${index} /profile on ${node.url} (kid ${kidOf(access)}): ${response.status} ${text}`);
      }
      return access;
    };
    const loops = Promise.all(users.map((_, i) => client(i)));

    await sleep(1000);
    const rotated = await runCli(["keys", "rotate"], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    const k2 = /published (\S+) \(EdDSA\)/.exec(rotated.stdout)![1]!;
    assert.notEqual(k2, k1);
    // Keep the load through the switch and well past it.
    await sleep(PUBLISH_DELAY_S * 1000 + 2500);
    running = false;
    await loops;

    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    assert.ok(requests > 200, `load: ${requests} requests`);
    assert.ok(seenKids.has(k2), "the clients' refreshes got tokens of the new key during the load");

    // After the switch every node signs with the new key.
    const fresh: string[] = [];
    for (const node of nodes) {
      const token = (await node.api.post("/token/refresh", { refresh: (await node.api.register()).refresh })).body.access as string;
      assert.equal(kidOf(token), k2, `${node.url} signs with the new key`);
      fresh.push(token);
    }

    // A token of the old key (still verifying while it retires), then the old key revoked.
    const old = users[0]!.access;
    assert.equal(kidOf(old), k1);
    for (const node of nodes) assert.equal((await node.api.get("/profile", old)).status, 200);
    const revoked = await runCli(["keys", "revoke", k1], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    for (const node of nodes) {
      const response = await node.api.get("/profile", old);
      assert.equal(response.status, 401, `${node.url}: ${response.text}`);
      assert.equal(response.body.code, "token_invalid");
      for (const token of fresh) assert.equal((await node.api.get("/profile", token)).status, 200);
    }
  });
});
