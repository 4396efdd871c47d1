import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { createAuth } from "../src/create-auth.js";
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
