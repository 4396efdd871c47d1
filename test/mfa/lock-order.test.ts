// The second step of a sign-in racing a second-factor change of the same account (PostgreSQL):
// loginMfa takes the user's row before the challenge and the code (docs/architecture.md, "Lock
// order"). Before, it held the challenge and the TOTP row and then waited for the user's row, which
// the change (turning the factor off, deleting the account, an email change with a code) held
// while it waited for the TOTP row: a deadlock, answered 503. A third connection holds the
// caller's session row, so that the change has the user's row and waits while loginMfa starts.
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
// The middle of a TOTP step, fixed: the codes below are current for the whole run.
const NOW = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;

describe(
  "a sign-in's code step racing a second-factor change (postgres)",
  { skip: POSTGRES_URL ? false : "TOKENVER_TEST_DATABASE_URL is not set" },
  () => {
    let database: TestDatabase;
    let auth: Auth;
    let holder: pg.Client;

    before(async () => {
      database = await createTestDatabase("postgres");
      auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, sendMail: async () => {}, clock: () => NOW });
      holder = new pg.Client({ connectionString: database.url });
      await holder.connect();
    });
    after(async () => {
      await holder?.end();
      await auth?.close();
      await database?.drop();
    });

    const outcome = (run: Promise<unknown>) =>
      run.then(
        () => "ok",
        (error: unknown) => (error instanceof AuthError ? error.code : String(error)),
      );

    /** Until `count` statements of this database wait for a lock. */
    async function waitersReach(count: number): Promise<void> {
      for (let i = 0; i < 3000; i++) {
        const { rows } = await holder.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        if (rows[0]!.n >= count) return;
        await sleep(10);
      }
      throw new Error(`fewer than ${count} statements waited for a lock`);
    }

    for (const change of ["disableTotp", "deleteOwnAccount", "changeEmail"] as const) {
      test(`${change} first: it commits, and the code step is refused as a client error, never a 503`, async () => {
        const email = `${change.toLowerCase()}-${Date.now()}@example.com`;
        const { accessToken } = await auth.register({ email, password: PASSWORD });
        const principal = await auth.verify(`Bearer ${accessToken}`);
        const { secret } = await auth.startTotp(principal);
        const recoveryCodes = await auth.confirmTotp(principal, { code: totpAt(secret, NOW), password: PASSWORD });
        const mfaToken = await auth.login({ email, password: PASSWORD }).then(
          () => assert.fail("a second factor is on"),
          (error: AuthError) => error.members!.mfa_token as string,
        );

        await holder.query("begin");
        await holder.query("select id from sessions where id = $1 for update", [principal.sessionId]);
        const changed = outcome(
          change === "disableTotp"
            ? auth.disableTotp(principal, { password: PASSWORD, code: recoveryCodes[0]! })
            : change === "deleteOwnAccount"
              ? auth.deleteOwnAccount(principal, { password: PASSWORD })
              : auth.changeEmail(principal, { newEmail: `moved-${email}`, password: PASSWORD, code: totpAt(secret, NOW, 1) }),
        );
        await waitersReach(1);
        const signedIn = outcome(auth.loginMfa({ mfaToken, code: totpAt(secret, NOW, 1) }));
        await waitersReach(2);
        await holder.query("commit");
        assert.equal(await changed, "ok");
        const code = await signedIn;
        assert.ok(code === "mfa_token_invalid" || code === "code_invalid", `loginMfa: ${code}`);
      });
    }
  },
);
