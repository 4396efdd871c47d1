// Two refreshes of one token at once: exactly one rotates, the other is `refresh_reused` and the
// session is revoked, pair of the winner included (RFC 9700 4.14.2). The race is forced, not hoped
// for: a hook on the query builder's transactions holds each rotation until every request has read
// the token, so each of them sees it unused and only the conditional write tells them apart. Kills
// the mutant that drops the lost-race branch of src/core/sessions/refresh.ts
// (`if (!rotated) await revokeForReuse(...)`, issue #21) on every dialect, SQLite included.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { createAuth, type Auth } from "../src/create-auth.js";
import { createTestDatabase, dialects, type TestDatabase } from "./support/databases.js";
import { TEST_SECRET } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";
let counter = 0;
const email = () => `race-${process.pid}-${counter++}@example.com`;

type Execute = (this: unknown, callback: (trx: unknown) => Promise<unknown>) => Promise<unknown>;

/**
 * Holds the next `count` transactions (of any Kysely instance: the library's is the same class)
 * until all `count` have been asked for, then lets them run. Nothing holds a connection while it
 * waits (the transaction acquires one only once let through), so SQLite's single connection and
 * PostgreSQL's pool both serve every request's read first. Call `restore()` after.
 */
function holdTransactions(count: number) {
  const probe = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(":memory:") }) });
  const prototype = Object.getPrototypeOf(probe.transaction()) as { execute: Execute };
  const original = prototype.execute;
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  prototype.execute = async function (this: unknown, callback) {
    if (arrived < count) {
      if (++arrived === count) open();
      await opened;
    }
    return original.call(this, callback);
  };
  return {
    get arrived() {
      return arrived;
    },
    async restore() {
      prototype.execute = original;
      await probe.destroy();
    },
  };
}

for (const dialect of dialects()) {
  describe(`concurrent refreshes of one token (${dialect})`, () => {
    let database: TestDatabase;
    let auth: Auth;
    let hold: ReturnType<typeof holdTransactions> | undefined;

    before(async () => {
      database = await createTestDatabase(dialect);
      // Reuse detection without the refresh grace of docs/api.md section 6 (a used token presented at once
      // is reuse here); the grace itself is tested in test/browser/refresh-grace.test.ts.
      auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, refreshGrace: 0 });
    });
    afterEach(async () => {
      await hold?.restore();
      hold = undefined;
    });
    after(async () => {
      await auth?.close();
      await database?.drop();
    });

    for (const racers of [2, 5]) {
      test(`${racers} refreshes that all read the token before any rotates: one 200, the rest refresh_reused, the session revoked`, async () => {
        const user = await auth.register({ email: email(), password: PASSWORD });
        const other = await auth.login({ email: user.user.email, password: PASSWORD });
        // Known to the node cache before the race: the reuse must make the cache forget it too.
        assert.equal((await auth.verify(`Bearer ${user.accessToken}`)).userId, user.user.id);
        // The sign-in's security event is written in a transaction of its own (setImmediate): written
        // now, or the hold would count it as a racer and open with one refresh not yet at its read.
        await auth.flushEvents();
        hold = holdTransactions(racers);
        const results = await Promise.allSettled(Array.from({ length: racers }, () => auth.refresh(user.refreshToken)));
        assert.equal(hold.arrived, racers, "every refresh reached its rotation: the race was forced");
        await hold.restore();
        hold = undefined;

        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r) => r.status === "rejected");
        assert.equal(won.length, 1, `exactly one rotation: ${results.map((r) => r.status).join(", ")}`);
        for (const r of lost) {
          const error = r.reason as { code?: string; tokenPresented?: boolean; message?: string };
          assert.equal(error.code, "refresh_reused");
          assert.equal(error.tokenPresented, true);
          assert.ok(error.message && error.message.length > 0);
        }

        // The loser's reuse revoked the session: the winner's new pair dies with it.
        const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<Auth["refresh"]>>>).value;
        await assert.rejects(auth.verify(`Bearer ${winner.accessToken}`), { code: "token_revoked" });
        await assert.rejects(auth.verify(`Bearer ${user.accessToken}`), { code: "token_revoked" });
        await assert.rejects(auth.refresh(winner.refreshToken), { code: "token_revoked", tokenPresented: true });
        // Only that session: the user's other session and version are untouched.
        assert.equal((await auth.verify(`Bearer ${other.accessToken}`)).tokenVersion, 0);
        assert.equal(typeof (await auth.refresh(other.refreshToken)).accessToken, "string");
      });
    }

    test("unhooked: a burst of refreshes of one token still gives exactly one rotation", async () => {
      for (let round = 0; round < 3; round++) {
        const user = await auth.register({ email: email(), password: PASSWORD });
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => auth.refresh(user.refreshToken)));
        const won = results.filter((r) => r.status === "fulfilled");
        assert.equal(won.length, 1, `round ${round}: ${results.map((r) => r.status).join(", ")}`);
        // A request that read the token after a reuse had revoked its session sees it revoked.
        const codes = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as { code?: string }).code] : []));
        assert.ok(codes.includes("refresh_reused"), codes.join(", "));
        for (const code of codes) assert.ok(code === "refresh_reused" || code === "token_revoked", code);
        const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<Auth["refresh"]>>>).value;
        await assert.rejects(auth.verify(`Bearer ${winner.accessToken}`), { code: "token_revoked" });
      }
    });
  });

  describe(`refresh refusals: the code, and that a token was presented (${dialect})`, () => {
    let database: TestDatabase;
    let auth: Auth;
    before(async () => {
      database = await createTestDatabase(dialect);
      // Reuse detection without the refresh grace of docs/api.md section 6 (a used token presented at once
      // is reuse here); the grace itself is tested in test/browser/refresh-grace.test.ts.
      auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, refreshGrace: 0 });
    });
    after(async () => {
      await auth?.close();
      await database?.drop();
    });

    const refused = (code: string) => (error: any) => {
      assert.equal(error.code, code);
      assert.equal(error.tokenPresented, true, "RFC 6750: the challenge carries error attributes");
      assert.ok(typeof error.message === "string" && error.message.length > 0, "a detail");
      return true;
    };

    test("an unknown or malformed refresh token is token_invalid", async () => {
      const user = await auth.register({ email: email(), password: PASSWORD });
      const [id] = user.refreshToken.split(".");
      for (const token of ["not-a-refresh-token", `${id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`]) {
        await assert.rejects(auth.refresh(token), refused("token_invalid"));
      }
    });

    test("after a password change, the caller's previous refresh token is token_revoked, though its session lives on", async () => {
      const user = await auth.register({ email: email(), password: PASSWORD });
      const principal = await auth.verify(`Bearer ${user.accessToken}`);
      const changed = await auth.changePassword(principal, { currentPassword: PASSWORD, newPassword: "another fine passphrase" });
      await assert.rejects(auth.refresh(user.refreshToken), refused("token_revoked"));
      assert.equal((await auth.verify(`Bearer ${changed.accessToken}`)).sessionId, principal.sessionId, "the same session, re-keyed");
      assert.equal(typeof (await auth.refresh(changed.refreshToken)).accessToken, "string");
    });

    test("the refresh token of a session logged out is token_revoked", async () => {
      const user = await auth.register({ email: email(), password: PASSWORD });
      await auth.logout(await auth.verify(`Bearer ${user.accessToken}`), { scope: "session" });
      await assert.rejects(auth.refresh(user.refreshToken), refused("token_revoked"));
    });
  });
}
