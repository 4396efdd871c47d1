import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { createAuth, type Auth } from "../../src/index.js";
import { AuthError } from "../../src/core/errors.js";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { TEST_SECRET } from "../support/server.js";
import { totpAt } from "../support/totp.js";

// Turning a second factor on revokes every other session (docs/api.md section 9), including the
// ones signed in while it was being turned on: password sign-ins racing the confirmation, started
// a little before and after it. Each ends as `mfa_required`, or with a session the confirmation
// revoked; never with a live password-only session. On each dialect (PostgreSQL's row locks, SQLite's
// one writer). The step-by-step cases are test/unit/core/accounts/login-race.test.ts.
const PASSWORD = "a long enough passphrase 42";
const TRIALS = 4;

for (const dialect of dialects()) {
  describe(`a second factor turned on while the password signs in elsewhere (${dialect})`, () => {
    let database: TestDatabase;
    let auth: Auth;
    // The middle of a 30-second step, so the code stays the current one throughout.
    const now = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;

    before(async () => {
      database = await createTestDatabase(dialect);
      auth = await createAuth({
        secret: TEST_SECRET,
        databaseUrl: database.url,
        clock: () => now,
        rateLimit: { accountFailures: 1000, addressFailures: 1000, addressLogins: 1000 },
      });
    });
    after(async () => {
      await auth.close();
      await database.drop();
    });

    test("every sign-in that raced the confirmation is mfa_required or revoked; the enrolling session lives", async () => {
      for (let trial = 0; trial < TRIALS; trial++) {
        const email = `race${trial}@example.com`;
        await auth.register({ email, password: PASSWORD });
        const ownerToken = (await auth.login({ email, password: PASSWORD })).accessToken;
        const owner = await auth.verify(`Bearer ${ownerToken}`);
        const { secret } = await auth.startTotp(owner);
        const logins = [0, 1, 3, 6].map(async (delay) => {
          await sleep(delay + trial);
          return auth.login({ email, password: PASSWORD });
        });
        const confirmation = auth.confirmTotp(owner, { code: totpAt(secret, now), password: PASSWORD });
        const settled = await Promise.allSettled([confirmation, ...logins]);
        assert.equal(settled[0]!.status, "fulfilled", `trial ${trial}: the confirmation failed`);
        for (const result of settled.slice(1)) {
          if (result.status === "rejected") {
            assert.ok(result.reason instanceof AuthError, String(result.reason));
            assert.equal(result.reason.code, "mfa_required", `trial ${trial}`);
            continue;
          }
          const token = (result.value as { accessToken: string }).accessToken;
          await assert.rejects(auth.verify(`Bearer ${token}`), { code: "token_revoked" }, `trial ${trial}: a live password-only session`);
        }
        assert.equal((await auth.verify(`Bearer ${ownerToken}`)).sessionId, owner.sessionId);
      }
    });
  });
}
