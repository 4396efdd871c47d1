import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { createAuth, type Auth } from "../../src/create-auth.js";
import { createTestDatabase, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startRedisProxy } from "../support/nodes.js";
import { TEST_SECRET } from "../support/server.js";
import { decodePart } from "../support/tokens-forge.js";

// docs/api.md sections 7 and 10: `tokenver keys revoke <kid>` (auth.revokeKey) removes the key
// "at once": once it has returned, no node accepts a token signed with it. Found by the fault
// campaign's key revocations (docs/campaign.md): the other nodes learnt of the revocation from a
// best-effort announcement and a one-second poll, so right after the command returned a node
// still accepted the revoked key's tokens. A revocation now goes through the nodes' invalidation
// protocol (acknowledged, or the node's lease ran out and it reads its keys again before it
// answers), like every other revocation.

const PASSWORD = "a long and unguessable passphrase";

describe("a revoked signing key over PostgreSQL + Redis: refused by every node once revokeKey has returned", () => {
  let database: TestDatabase;
  let raw: Redis;
  const closers: Array<() => Promise<void>> = [];
  let n = 0;

  before(async () => {
    database = await createTestDatabase("postgres");
    raw = new Redis(REDIS_URL!);
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    raw?.disconnect();
    await database?.drop();
  });

  /** Two nodes (B through a proxy to Redis when asked), trusting Redis; a user with a token B has verified. */
  async function pair(options: { proxy?: boolean } = {}) {
    const prefix = redisTestPrefix();
    const target = new URL(REDIS_URL!);
    const proxy = options.proxy ? await startRedisProxy(Number(target.port || 6379), target.hostname) : undefined;
    const base = { databaseUrl: database.url, redisPrefix: prefix, secret: TEST_SECRET, redisEntryTtl: 1, redisNodeLease: 1 };
    const a: Auth = await createAuth({ ...base, redisUrl: REDIS_URL! });
    const b: Auth = await createAuth({ ...base, redisUrl: proxy?.url ?? REDIS_URL! });
    closers.push(async () => {
      proxy?.close();
      await a.close();
      await b.close();
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
    });
    await sleep(1100);
    const user = await a.register({ email: `keys${++n}-${prefix}@example.com`, password: PASSWORD });
    const token = `Bearer ${user.accessToken}`;
    assert.equal((await b.verify(token)).userId, user.user.id);
    return { a, b, proxy, token, kid: decodePart(user.accessToken, 0).kid as string };
  }

  test("the other node refuses the key's tokens as soon as revokeKey returns", async () => {
    const { a, b, token, kid } = await pair();
    await a.revokeKey(kid);
    await assert.rejects(b.verify(token), { code: "token_invalid" });
    await assert.rejects(a.verify(token), { code: "token_invalid" });
  });

  test("a node whose subscriber connection dropped (the message lost) reads its keys again before it answers", async () => {
    const { a, b, proxy, token, kid } = await pair({ proxy: true });
    proxy!.dropSubscribers();
    await a.revokeKey(kid);
    await assert.rejects(b.verify(token), { code: "token_invalid" });
  });

  test("the new signer's tokens verify on both nodes", async () => {
    const { a, b, kid } = await pair();
    const { signer } = await a.revokeKey(kid);
    const fresh = await b.register({ email: `keys${++n}-after@example.com`, password: PASSWORD });
    assert.equal(decodePart(fresh.accessToken, 0).kid, signer);
    assert.equal((await a.verify(`Bearer ${fresh.accessToken}`)).userId, fresh.user.id);
  });
});
