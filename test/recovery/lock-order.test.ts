// Two mailed-link flows of one account racing on PostgreSQL: each takes the user's row before its
// link (docs/architecture.md, "Lock order"). Before, each used its link up first and then waited
// for the user's row; the one that got it deleted the user's links and waited for the other's
// link: a deadlock, answered 503. A third connection holds the user's row so that both are under
// way before either gets it, the interleaving that deadlocked every time.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { AuthError } from "../../src/core/errors.js";
import type { MailMessage } from "../../src/core/mail/message.js";
import { createAuth, type Auth } from "../../src/create-auth.js";
import { createTestDatabase, POSTGRES_URL, type TestDatabase } from "../support/databases.js";
import { TEST_SECRET } from "../support/server.js";

const PASSWORD = "a long and unguessable passphrase";

describe("mailed links racing on PostgreSQL", { skip: POSTGRES_URL ? false : "TOKENVER_TEST_DATABASE_URL is not set" }, () => {
  let database: TestDatabase;
  let auth: Auth;
  let holder: pg.Client;
  const mail: MailMessage[] = [];

  before(async () => {
    database = await createTestDatabase("postgres");
    auth = await createAuth({ databaseUrl: database.url, secret: TEST_SECRET, sendMail: async (message) => void mail.push(message) });
    holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
  });
  after(async () => {
    await holder?.end();
    await auth?.close();
    await database?.drop();
  });

  /** The token of the first mail to `to` with a link to `path` (mail goes out in the background). */
  async function linkToken(to: string, path: string): Promise<string> {
    for (let i = 0; i < 3000; i++) {
      for (const message of mail) {
        const found = message.to === to ? new RegExp(`${path}#token=([A-Za-z0-9_-]{43})`).exec(message.text) : null;
        if (found) return found[1]!;
      }
      await sleep(10);
    }
    throw new Error(`no mail to ${to} with ${path}`);
  }

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

  const outcome = (run: Promise<unknown>) =>
    run.then(
      () => "ok",
      (error: unknown) => (error instanceof AuthError ? error.code : String(error)),
    );

  test("a password reset and the cancel link of an email change, at once: one wins, the other's link is invalid, never a 503", async () => {
    for (let round = 0; round < 3; round++) {
      const email = `race-${round}-${Date.now()}@example.com`;
      const { user, accessToken } = await auth.register({ email, password: PASSWORD });
      await auth.forgotPassword({ email });
      const reset = await linkToken(email, "/account/reset");
      await auth.changeEmail(await auth.verify(`Bearer ${accessToken}`), { newEmail: `new-${email}`, password: PASSWORD });
      const cancel = await linkToken(email, "/account/cancel-email");

      await holder.query("begin");
      await holder.query("select id from users where id = $1 for update", [user.id]);
      const both = Promise.all([
        outcome(auth.resetPassword({ token: reset, newPassword: PASSWORD })),
        outcome(auth.cancelEmailChange({ token: cancel })),
      ]);
      await waitersReach(2);
      await holder.query("commit");
      const results = await both;
      // Either one commits first; its version bump and deletion of the user's links void the other's.
      assert.deepEqual([...results].sort(), ["link_invalid", "ok"], `round ${round}: ${JSON.stringify(results)}`);
    }
  });
});
