// Logout with scope `session` and another user's refresh token (docs/api.md section 3): that token
// is ignored, never revoked, and the revocation names none of its sessions. The mutant this kills
// (issue #21): dropping `row.user_id === userId` in src/core/sessions/logout.ts. On SQLite and on
// PostgreSQL alone the database write is filtered by user, so only the revocation state can tell:
// over Redis the victim's session is written as revoked under the caller's id (the victim's next
// request is token_invalid), and on SQLite the change handed to the node cache names it (the spy).
// Two sign-ins of one user ending each other at once end both, without a deadlock on PostgreSQL.
// Several processes: test/scale-out/logout-ownership.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { assembleAuth, type Auth } from "../src/core/auth.js";
import { prepareDummyHash } from "../src/core/passwords/hashing.js";
import { loadPasswordPolicy } from "../src/core/passwords/policy.js";
import { createAuth } from "../src/create-auth.js";
import { resolveOptions } from "../src/settings/resolve.js";
import { MemoryCounterStore } from "../src/store/counters/counter-store.js";
import { openStore } from "../src/store/database.js";
import { migrateToLatest } from "../src/store/migrations/index.js";
import { DatabaseRevocationState } from "../src/store/revocation/database-state.js";
import { LocalRevocationCache } from "../src/store/revocation/local-cache.js";
import type { RevocationChange, RevocationState } from "../src/store/revocation/state.js";
import { createTestDatabase, POSTGRES_URL, redisTestPrefix, REDIS_URL, type TestDatabase } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";
let counter = 0;
const email = (tag: string) => `${tag}-${process.pid}-${counter++}@example.com`;
const bearer = (token: string) => `Bearer ${token}`;

/** The stores: SQLite (one node), PostgreSQL alone, PostgreSQL + Redis as two nodes in this process. */
const STORES = ["sqlite", ...(POSTGRES_URL ? ["postgres"] : []), ...(POSTGRES_URL && REDIS_URL ? ["postgres+redis"] : [])] as const;

for (const store of STORES) {
  describe(`logout with another user's refresh token leaves that user's session alive (${store})`, () => {
    let database: TestDatabase | undefined;
    let nodes: Auth<any>[];
    let raw: Redis | undefined;
    const prefix = redisTestPrefix();

    before(async () => {
      if (store === "sqlite") {
        nodes = [await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET })];
        return;
      }
      database = await createTestDatabase("postgres");
      if (store === "postgres") {
        nodes = [await createAuth({ databaseUrl: database.url, secret: TEST_SECRET })];
        return;
      }
      raw = new Redis(REDIS_URL!);
      const options = {
        databaseUrl: database.url,
        redisUrl: REDIS_URL!,
        redisPrefix: prefix,
        secret: TEST_SECRET,
        redisEntryTtl: 1,
        redisNodeLease: 1,
      };
      nodes = [await createAuth(options), await createAuth(options)];
      // Nodes trust Redis one entry lifetime after they first saw it: from then on, Redis is read.
      await sleep(1100);
    });

    after(async () => {
      await Promise.all(nodes?.map((n) => n.close()) ?? []);
      if (raw !== undefined) {
        const keys = await raw.keys(`${prefix}*`);
        if (keys.length > 0) await raw.del(...keys);
        raw.disconnect();
      }
      await database?.drop();
    });

    /** Every node accepts the access token for `userId`, several times (memory, then Redis, then memory). */
    async function acceptedEverywhere(access: string, userId: string, what: string) {
      for (let i = 0; i < 2; i++) {
        for (const [n, node] of nodes.entries()) {
          const principal = await node.verify(bearer(access)).catch((error: { code?: string }) => {
            assert.fail(`${what}: node ${n} refused it: ${error.code ?? String(error)}`);
          });
          assert.equal(principal.userId, userId, `${what}: node ${n}`);
        }
      }
    }

    test("scope session with the victim's refresh: the victim's access and refresh tokens still work on every node", async () => {
      for (let round = 0; round < 4; round++) {
        const here = nodes[round % nodes.length]!;
        const caller = await here.register({ email: email("caller"), password: PASSWORD });
        const victim = await here.register({ email: email("victim"), password: PASSWORD });
        // Warm every node (and Redis) with the victim's session.
        await acceptedEverywhere(victim.accessToken, victim.user.id, `round ${round}, before`);

        const principal = await here.verify(bearer(caller.accessToken));
        await here.logout(principal, { scope: "session", refreshToken: victim.refreshToken });

        for (const node of nodes) await assert.rejects(node.verify(bearer(caller.accessToken)), { code: "token_revoked" });
        await acceptedEverywhere(victim.accessToken, victim.user.id, `round ${round}, the victim's access token`);
        const rotated = await nodes[(round + 1) % nodes.length]!.refresh(victim.refreshToken);
        await acceptedEverywhere(rotated.accessToken, victim.user.id, `round ${round}, the victim's refreshed access token`);
        await acceptedEverywhere(victim.accessToken, victim.user.id, `round ${round}, the victim's access token after the refresh`);
      }
    });

    test("scope session with the caller's own refresh of another session: both of the caller's sessions end", async () => {
      const here = nodes[0]!;
      const registered = await here.register({ email: email("own"), password: PASSWORD });
      const second = await here.login({ email: registered.user.email, password: PASSWORD });
      const third = await here.login({ email: registered.user.email, password: PASSWORD });
      await acceptedEverywhere(second.accessToken, registered.user.id, "second session, before");
      await acceptedEverywhere(third.accessToken, registered.user.id, "third session, before");
      await here.logout(await here.verify(bearer(registered.accessToken)), { scope: "session", refreshToken: second.refreshToken });
      for (const node of nodes) {
        await assert.rejects(node.verify(bearer(registered.accessToken)), { code: "token_revoked" });
        await assert.rejects(node.verify(bearer(second.accessToken)), { code: "token_revoked" });
      }
      await assert.rejects(here.refresh(second.refreshToken), { code: "token_revoked" });
      await acceptedEverywhere(third.accessToken, registered.user.id, "the third session lives on");
    });

    test("two sign-ins ending each other at once (each with the other's refresh token): both end, never a deadlock's 503", async () => {
      // The same two sessions revoked in opposite orders: each logout takes the user's row first.
      for (let round = 0; round < 20; round++) {
        const registered = await nodes[0]!.register({ email: email("crossed"), password: PASSWORD });
        const other = await nodes[0]!.login({ email: registered.user.email, password: PASSWORD });
        const [a, b] = [nodes[0]!, nodes[nodes.length - 1]!];
        const [first, second] = [await a.verify(bearer(registered.accessToken)), await b.verify(bearer(other.accessToken))];
        await Promise.all([
          a.logout(first, { scope: "session", refreshToken: other.refreshToken }),
          b.logout(second, { scope: "session", refreshToken: registered.refreshToken }),
        ]);
        for (const node of nodes) {
          for (const access of [registered.accessToken, other.accessToken]) {
            await assert.rejects(node.verify(bearer(access)), { code: "token_revoked" }, `round ${round}`);
          }
        }
      }
    });
  });
}

/**
 * An auth service built as createAuth() builds it on SQLite (node cache over the database), with a
 * spy between the domain and the revocation state: the changes each revocation announces.
 */
async function spiedAuth(): Promise<{ auth: Auth<any>; changes: Array<["before" | "after", RevocationChange]> }> {
  const resolved = resolveOptions({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
  const store = await openStore(resolved.databaseUrl);
  await migrateToLatest(store.db);
  const cache = new LocalRevocationCache(new DatabaseRevocationState(store.db, store.sqlite));
  const changes: Array<["before" | "after", RevocationChange]> = [];
  const copy = (change: RevocationChange) => structuredClone(change);
  const revocation: RevocationState = {
    get: (sessionId, userId) => cache.get(sessionId, userId),
    beforeRevoke: (change) => (changes.push(["before", copy(change)]), cache.beforeRevoke(change)),
    afterRevoke: (change) => (changes.push(["after", copy(change)]), cache.afterRevoke(change)),
    ping: () => cache.ping(),
    close: () => cache.close(),
  };
  await Promise.all([loadPasswordPolicy(), prepareDummyHash()]);
  const auth = assembleAuth<any>({
    store,
    revocation,
    counters: new MemoryCounterStore(resolved.clock),
    // The resolved options, with the allowed origins as createAuth() derives them.
    config: { ...resolved, allowedOrigins: [new URL(resolved.publicUrl).origin] },
    secret: TEST_SECRET,
  });
  return { auth, changes };
}

describe("logout with another user's refresh token: what the revocation state is told (SQLite)", () => {
  let auth: Auth<any>;
  let changes: Array<["before" | "after", RevocationChange]>;
  before(async () => {
    ({ auth, changes } = await spiedAuth());
  });
  after(() => auth.close());

  test("the revocation names the caller and the caller's session only, before and after the commit", async () => {
    const caller = await auth.register({ email: email("spy-caller"), password: PASSWORD });
    const victim = await auth.register({ email: email("spy-victim"), password: PASSWORD });
    const principal = await auth.verify(bearer(caller.accessToken));
    const victimSession = (await auth.verify(bearer(victim.accessToken))).sessionId;
    changes.length = 0;
    await auth.logout(principal, { scope: "session", refreshToken: victim.refreshToken });
    assert.deepEqual(changes, [
      ["before", { userId: principal.userId, sessionIds: [principal.sessionId] }],
      ["after", { userId: principal.userId, sessionIds: [principal.sessionId] }],
    ]);
    assert.ok(!JSON.stringify(changes).includes(victimSession), "the victim's session is never named");
    assert.equal((await auth.verify(bearer(victim.accessToken))).userId, victim.user.id);
    assert.equal(typeof (await auth.refresh(victim.refreshToken)).accessToken, "string");
  });

  test("the caller's own refresh token of another session: both sessions are named", async () => {
    const registered = await auth.register({ email: email("spy-own"), password: PASSWORD });
    const second = await auth.login({ email: registered.user.email, password: PASSWORD });
    const principal = await auth.verify(bearer(registered.accessToken));
    const secondSession = (await auth.verify(bearer(second.accessToken))).sessionId;
    changes.length = 0;
    await auth.logout(principal, { scope: "session", refreshToken: second.refreshToken });
    const expected = { userId: principal.userId, sessionIds: [principal.sessionId, secondSession] };
    assert.deepEqual(changes, [
      ["before", expected],
      ["after", expected],
    ]);
  });

  test("the caller's own refresh token of the same session: that session is named once", async () => {
    const registered = await auth.register({ email: email("spy-same"), password: PASSWORD });
    const principal = await auth.verify(bearer(registered.accessToken));
    changes.length = 0;
    await auth.logout(principal, { scope: "session", refreshToken: registered.refreshToken });
    const expected = { userId: principal.userId, sessionIds: [principal.sessionId] };
    assert.deepEqual(changes, [
      ["before", expected],
      ["after", expected],
    ]);
  });

  test("scope all (the default): the user's new version and every session are named, and every token of the user dies", async () => {
    for (const input of [{ scope: "all" as const }, {}]) {
      const registered = await auth.register({ email: email("spy-all"), password: PASSWORD });
      const second = await auth.login({ email: registered.user.email, password: PASSWORD });
      const principal = await auth.verify(bearer(registered.accessToken));
      const secondSession = (await auth.verify(bearer(second.accessToken))).sessionId;
      changes.length = 0;
      await auth.logout(principal, input);
      assert.deepEqual(changes[0], ["before", { userId: principal.userId }], "a bump of the user is announced");
      const [, after] = changes[1]!;
      assert.equal(after.userId, principal.userId);
      assert.equal(after.tokenVersion, 1);
      assert.deepEqual([...after.sessionIds!].sort(), [principal.sessionId, secondSession].sort());
      for (const token of [registered.accessToken, second.accessToken]) {
        await assert.rejects(auth.verify(bearer(token)), { code: "token_revoked" });
      }
      await assert.rejects(auth.refresh(second.refreshToken), { code: "token_revoked" });
    }
  });

  test("an unknown scope is validation_failed naming scope, and nothing is revoked", async () => {
    const registered = await auth.register({ email: email("spy-scope"), password: PASSWORD });
    const principal = await auth.verify(bearer(registered.accessToken));
    changes.length = 0;
    await assert.rejects(auth.logout(principal, { scope: "everything" as never }), (error: any) => {
      assert.equal(error.code, "validation_failed");
      assert.deepEqual(
        error.errors.map((e: { field: string; message: string }) => e.field),
        ["scope"],
      );
      assert.ok(error.errors[0].message.length > 0);
      return true;
    });
    assert.deepEqual(changes, []);
    assert.equal((await auth.verify(bearer(registered.accessToken))).userId, registered.user.id);
  });
});
