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
