import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { enrolled, mfaToken, startMfaWorld, type MfaWorld } from "../support/mfa.js";
import { startServer, type TestServer } from "../support/server.js";
import { totpAt } from "../support/totp.js";

// The TOTP secret rests sealed under a key derived from the server secret: a server with another
// secret over the same database cannot read it, and fails closed (503) rather than accept or
// refuse a code it cannot check.
for (const dialect of dialects()) {
  describe(`second factor: the secret at rest (${dialect})`, () => {
    let world: MfaWorld;
    let stranger: TestServer;
    before(async () => {
      world = await startMfaWorld(dialect);
      stranger = await startServer({
        dialect,
        databaseUrl: world.server.database.url,
        sqliteLock: false,
        secret: "another-secret-that-is-at-least-32-bytes-long",
        clock: () => world.now(),
        onWarning: () => {},
      });
    });
    after(async () => {
      await stranger?.app.close();
      await stranger?.auth.close();
      await world?.close();
    });

    test("a server with another secret cannot use the stored secret: 503, never a sign-in", async () => {
      const who = await enrolled(world);
      const row = await world.store.db
        .selectFrom("tokenver_totp")
        .select("secret")
        .where("user_id", "=", who.user.id)
        .executeTakeFirstOrThrow();
      assert.ok(!row.secret.includes(who.secret));
      const token = (await stranger.api.post("/login", { email: who.email, password: who.password })).body.mfa_token;
      const answer = await stranger.api.post("/login/mfa", { mfa_token: token, code: totpAt(who.secret, world.now(), 1) });
      assert.equal(answer.status, 503, answer.text);
      assert.equal(answer.body.code, "service_unavailable");
      // The right server still signs in with that code.
      const ok = await world.server.api.post("/login/mfa", {
        mfa_token: await mfaToken(world, who),
        code: totpAt(who.secret, world.now(), 1),
      });
      assert.equal(ok.status, 200, ok.text);
    });
  });
}
