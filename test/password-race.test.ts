import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import pg from "pg";
import { createAuth } from "../src/create-auth.js";
import type { Principal } from "../src/core/types.js";
import { createTestDatabase, dialects } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";

// The owner changes the password, which revokes a thief's session. A change the thief started a
// moment earlier on that session (authenticated, hashing) must not commit after the owner's 200.
for (const dialect of dialects()) {
  describe(`password change racing a revocation (${dialect})`, () => {
    test("a session revoked mid-request cannot change the password afterwards", async () => {
      const database = await createTestDatabase(dialect);
      const auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, rateLimit: { accountFailures: 1000 } });
      const original = "original passphrase zero";
      try {
        for (let trial = 0; trial < 6; trial++) {
          const email = `race${trial}@example.com`;
          await auth.register({ email, password: original });
          const owner = await auth.verify(`Bearer ${(await auth.login({ email, password: original })).accessToken}`);
          const thief = await auth.verify(`Bearer ${(await auth.login({ email, password: original })).accessToken}`);
          const ownerChange = auth.changePassword(owner, { currentPassword: original, newPassword: "the owner's new passphrase" });
          await sleep(1 + trial);
          const thiefChange = auth.changePassword(thief, { currentPassword: original, newPassword: "the thief's new passphrase" });
          const [o, t] = await Promise.allSettled([ownerChange, thiefChange]);
          // Exactly one change wins; if the owner's won, the thief's is refused as revoked.
          assert.equal([o, t].filter((r) => r.status === "fulfilled").length, 1, `trial ${trial}: ${o.status}/${t.status}`);
          if (o.status === "fulfilled") {
            assert.equal(t.status === "rejected" && (t.reason as { code: string }).code, "token_revoked");
            await auth.login({ email, password: "the owner's new passphrase" });
            await assert.rejects(auth.login({ email, password: "the thief's new passphrase" }), { code: "invalid_credentials" });
          }
        }
      } finally {
        await auth.close();
        await database.drop();
      }
    });
  });
}

// The request that began before a revocation and reads the account after it: the token's version is
// no longer the account's, so the answer is `401 token_revoked`, never `403 invalid_credentials`
// (the password it holds was right when it was verified; the session is what ended). Deterministic:
// the owner's change has committed before the stale principal is used.
for (const dialect of dialects()) {
  describe(`a principal verified before a revocation (${dialect})`, () => {
    test("every operation that re-reads the account refuses it as revoked, whatever password it brings", async () => {
      const database = await createTestDatabase(dialect);
      const auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, sendMail: async () => {} });
      const original = "original passphrase zero";
      try {
        const email = "stale@example.com";
        await auth.register({ email, password: original });
        const owner = await auth.verify(`Bearer ${(await auth.login({ email, password: original })).accessToken}`);
        const stale = await auth.verify(`Bearer ${(await auth.login({ email, password: original })).accessToken}`);
        const renewed = await auth.changePassword(owner, { currentPassword: original, newPassword: "the owner's new passphrase" });
        const attempts: Array<[string, () => Promise<unknown>]> = [
          ["changePassword", () => auth.changePassword(stale, { currentPassword: original, newPassword: "the thief's new passphrase" })],
          ["changeEmail", () => auth.changeEmail(stale, { newEmail: "thief@example.com", password: original })],
          ["deleteOwnAccount", () => auth.deleteOwnAccount(stale, { password: original })],
          ["startTotp", () => auth.startTotp(stale)],
          ["confirmTotp", () => auth.confirmTotp(stale, { password: original, code: "000000" })],
          ["disableTotp", () => auth.disableTotp(stale, { password: original, code: "000000" })],
          ["renewRecoveryCodes", () => auth.renewRecoveryCodes(stale, { password: original, code: "000000" })],
        ];
        for (const [name, attempt] of attempts) {
          await assert.rejects(attempt(), (error: { code?: string }) => error.code === "token_revoked", name);
        }
        // Nothing of the stale principal's attempts landed: the owner's password stands, the address too.
        await auth.login({ email, password: "the owner's new passphrase" });
        assert.equal((await auth.getUser(await auth.verify(`Bearer ${renewed.accessToken}`))).email, email);
      } finally {
        await auth.close();
        await database.drop();
      }
    });
  });
}

// The same race made exact on PostgreSQL: a revocation holds its row locks (uncommitted) while a
// stale principal's write reaches its transaction; the write must wait for it and then refuse,
// never commit after it. Without the in-transaction check the write waited for the same lock and
// then went ahead (the account deleted, the address changed, after the owner's revocation).
if (dialects().includes("postgres")) {
  describe("a write racing an uncommitted revocation (postgres)", () => {
    const password = "original passphrase zero";
    const revocations = {
      "the version bumped": (c: pg.Client, userId: string) =>
        c.query("update users set token_version = token_version + 1 where id = $1", [userId]),
      "the session revoked": (c: pg.Client, _userId: string, sessionId: string) =>
        c.query("update sessions set revoked_at = now() where id = $1", [sessionId]),
    };
    for (const [revocation, revoke] of Object.entries(revocations)) {
      test(`${revocation}: deleting the account and changing the address wait for it, then refuse`, async () => {
        const database = await createTestDatabase("postgres");
        const auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, sendMail: async () => {} });
        const owner = new pg.Client({ connectionString: database.url });
        const watcher = new pg.Client({ connectionString: database.url });
        await owner.connect();
        await watcher.connect();
        try {
          const writes: Record<string, (p: Principal) => Promise<unknown>> = {
            deleteOwnAccount: (p) => auth.deleteOwnAccount(p, { password }),
            changeEmail: (p) => auth.changeEmail(p, { newEmail: `new-${p.sessionId}@example.com`, password }),
          };
          for (const [name, write] of Object.entries(writes)) {
            const email = `${name}-${revocation.length}@example.com`.toLowerCase();
            const { user } = await auth.register({ email, password });
            const stale = await auth.verify(`Bearer ${(await auth.login({ email, password })).accessToken}`);
            await owner.query("begin");
            await revoke(owner, user.id, stale.sessionId);
            const attempt = write(stale).then(
              () => "committed",
              (error: { code?: string }) => error.code,
            );
            await waitUntilBlocked(watcher);
            await owner.query("commit");
            assert.equal(await attempt, "token_revoked", `${name}: ${revocation}`);
            const row = await watcher.query("select email from users where id = $1", [user.id]);
            assert.deepEqual(row.rows, [{ email }], `${name}: the account and its address are as they were`);
          }
        } finally {
          await owner.query("rollback").catch(() => {});
          await owner.end();
          await watcher.end();
          await auth.close();
          await database.drop();
        }
      });
    }
  });
}

/** Until a backend of this database waits for a row lock (the write reached the revocation's rows). */
async function waitUntilBlocked(watcher: pg.Client): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await watcher.query(
      "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
    );
    if (rows[0].n > 0) return;
    await sleep(10);
  }
  throw new Error("the write never waited for the revocation's lock");
}
