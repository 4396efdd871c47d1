import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { claimsOf, startServer, uniqueEmail, type ApiResponse, type TestServer } from "./support/server.js";

const PARALLEL = 20;

/** How many responses had each status, e.g. {200: 1, 401: 19}. */
function countStatuses(responses: ApiResponse[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

for (const dialect of dialects()) {
  describe(`concurrency (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      // Reuse detection without the refresh grace of docs/api.md section 6 (a used token presented at once
      // is reuse here); the grace itself is tested in test/browser/refresh-grace.test.ts.
      server = await startServer({ dialect, refreshGrace: 0 });
    });
    after(() => server.close());

    test(`${PARALLEL} parallel refreshes of one token give exactly one 200`, async () => {
      const { api } = server;
      const user = await api.register();
      const responses = await Promise.all(Array.from({ length: PARALLEL }, () => api.post("/token/refresh", { refresh: user.refresh })));
      assert.deepEqual(countStatuses(responses), { 200: 1, 401: PARALLEL - 1 }, responses.map((r) => r.text).join("\n"));
      for (const loser of responses.filter((r) => r.status === 401)) {
        // Every loser presented an already used token: reuse, or the session reuse already revoked.
        assert.ok(["refresh_reused", "token_revoked"].includes(loser.body.code), loser.text);
        assert.equal(loser.body.access, undefined);
      }
      // Reuse revokes the whole session (RFC 9700 4.14.2): the winner's new pair is dead too.
      const winner = responses.find((r) => r.status === 200)!;
      assert.equal((await api.get("/profile", winner.body.access)).body.code, "token_revoked");
      const again = await api.post("/token/refresh", { refresh: winner.body.refresh });
      assert.equal(again.status, 401);
      assert.equal(again.body.code, "token_revoked");
      // Another session of the user is untouched.
      const other = await api.login(user.email, user.password);
      assert.equal((await api.get("/profile", other.access)).status, 200);
    });

    test(`${PARALLEL} parallel registrations of one email give exactly one 201`, async () => {
      const { api } = server;
      const email = uniqueEmail();
      // Half of them differ only in case and surrounding whitespace: the same address.
      const variants = Array.from({ length: PARALLEL }, (_, i) => (i % 2 === 0 ? email : `  ${email.toUpperCase()} `));
      const responses = await Promise.all(
        variants.map((e) => api.post("/register", { email: e, password: "a long and unguessable passphrase" })),
      );
      assert.deepEqual(countStatuses(responses), { 201: 1, 409: PARALLEL - 1 }, responses.map((r) => r.text).join("\n"));
      for (const loser of responses.filter((r) => r.status === 409)) assert.equal(loser.body.code, "email_taken");
      const winner = responses.find((r) => r.status === 201)!;
      assert.equal(winner.body.user.email, email);
      const login = await api.login(email, "a long and unguessable passphrase");
      assert.equal(login.user.id, winner.body.user.id);
    });

    test("parallel logouts (scope all): the final version equals the number of 204s", async () => {
      const { api } = server;
      const user = await api.register();
      const tokens = [user.access];
      for (let i = 1; i < 10; i++) tokens.push((await api.login(user.email, user.password)).access);
      const responses = await Promise.all(tokens.map((token) => api.post("/logout", { scope: "all" }, token)));
      const counts = countStatuses(responses);
      const loggedOut = counts[204] ?? 0;
      assert.ok(loggedOut >= 1, JSON.stringify(counts));
      assert.equal(loggedOut + (counts[401] ?? 0), tokens.length, responses.map((r) => r.text).join("\n"));
      for (const refused of responses.filter((r) => r.status === 401)) assert.equal(refused.body.code, "token_revoked");

      const fresh = await api.login(user.email, user.password);
      assert.equal(claimsOf(fresh.access).token_version, loggedOut);
      const profile = await api.get("/profile", fresh.access);
      assert.equal(profile.status, 200);
      assert.equal(profile.body.token_version, loggedOut);
      // And every token from before is dead.
      for (const token of tokens) assert.equal((await api.get("/profile", token)).body.code, "token_revoked");
    });
  });
}
