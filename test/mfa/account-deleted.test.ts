// An account deleted while one of its second-factor requests is under way (PostgreSQL): the row the
// request inserts names a user that is gone, and the answer is the one for a gone account (a
// sign-in's invalid_credentials, a token's token_revoked), never a 503. A held DELETE stands for
// the deletion's own transaction, so the request's insert waits for it and then meets its commit.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { AuthError } from "../../src/core/errors.js";
import { createAuth, type Auth } from "../../src/create-auth.js";
import { createTestDatabase, POSTGRES_URL, type TestDatabase } from "../support/databases.js";
import { TEST_SECRET } from "../support/server.js";
import { totpAt } from "../support/totp.js";

const PASSWORD = "a long and unguessable passphrase";

describe(
  "an account deleted during a second-factor request (postgres)",
  { skip: POSTGRES_URL ? false : "TOKENVER_TEST_DATABASE_URL is not set" },
  () => {
    let database: TestDatabase;
    let auth: Auth;
    let deleter: pg.Client;
    let counter = 0;

    before(async () => {
      database = await createTestDatabase("postgres");
      auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, sendMail: async () => {} });
      deleter = new pg.Client({ connectionString: database.url });
      await deleter.connect();
    });
    after(async () => {
      await deleter?.end();
      await auth?.close();
      await database?.drop();
    });

    /** `request` started while the account's deletion is uncommitted, then the deletion committed: its outcome's code. */
    async function duringDeletion(userId: string, request: () => Promise<unknown>): Promise<string> {
      await deleter.query("begin");
      await deleter.query("delete from users where id = $1", [userId]);
      const outcome = request().then(
        () => "ok",
        (error: unknown) => (error instanceof AuthError ? error.code : String(error)),
      );
      for (let i = 0; i < 3000; i++) {
        const { rows } = await deleter.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        if (rows[0]!.n >= 1) break;
        if (i === 2999) throw new Error("the request never waited for the deletion");
        await sleep(10);
      }
      await deleter.query("commit");
      return outcome;
    }

    async function account() {
      const email = `deleted-${counter++}-${Date.now()}@example.com`;
      const signedUp = await auth.register({ email, password: PASSWORD });
      return { email, id: signedUp.user.id, principal: await auth.verify(`Bearer ${signedUp.accessToken}`) };
    }

    test("the right password while the account goes: invalid_credentials, as for an unknown account", async () => {
      const { email, id, principal } = await account();
      const { secret } = await auth.startTotp(principal);
      await auth.confirmTotp(principal, { code: totpAt(secret, Date.now()), password: PASSWORD });
      assert.equal(await duringDeletion(id, () => auth.login({ email, password: PASSWORD })), "invalid_credentials");
    });

    test("an enrolment started while the account goes: token_revoked", async () => {
      const { id, principal } = await account();
      assert.equal(await duringDeletion(id, () => auth.startTotp(principal)), "token_revoked");
    });
  },
);
