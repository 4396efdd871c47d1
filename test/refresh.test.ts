import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { claimsOf, startServer, type TestServer } from "./support/server.js";

function assertCode(response: { status: number; body: any }, status: number, code: string, what: string) {
  assert.equal(response.status, status, `${what}: status`);
  assert.equal(response.body?.code, code, `${what}: code`);
}

for (const dialect of dialects()) {
  describe(`refresh rotation and reuse detection (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      // Reuse detection without the refresh grace of docs/api.md section 6 (a used token presented at once
      // is reuse here); the grace itself is tested in test/browser/refresh-grace.test.ts.
      server = await startServer({ dialect, refreshGrace: 0 });
    });
    after(() => server.close());

    test("a refresh rotates: new pair for the same session and version, no-store headers", async () => {
      const { api } = server;
      const user = await api.register();
      const rotated = await api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(rotated.status, 200);
      assert.deepEqual(Object.keys(rotated.body).sort(), ["access", "expires_in", "refresh", "token_type"]);
      assert.equal(rotated.body.token_type, "Bearer");
      assert.notEqual(rotated.body.refresh, user.refresh);
      assert.equal(claimsOf(rotated.body.access).sid, claimsOf(user.access).sid);
      assert.equal(claimsOf(rotated.body.access).token_version, 0);
      assert.equal(rotated.headers.get("cache-control"), "no-store");
      assert.equal(rotated.headers.get("pragma"), "no-cache");
      assert.equal((await api.get("/profile", rotated.body.access)).status, 200);
      // The rotated token works in turn.
      assert.equal((await api.post("/token/refresh", { refresh: rotated.body.refresh })).status, 200);
    });

    test("a used token presented again is refresh_reused and kills the whole session, child tokens included", async () => {
      const { api } = server;
      const victim = await api.register();
      const otherDevice = await api.login(victim.email, victim.password);

      // The legitimate client rotates; its child pair works.
      const child = await api.post("/token/refresh", { refresh: victim.refresh });
      assert.equal(child.status, 200);
      assert.equal((await api.get("/profile", child.body.access)).status, 200);

      // Someone presents the old (used) token again.
      const replay = await api.post("/token/refresh", { refresh: victim.refresh });
      assertCode(replay, 401, "refresh_reused", "replayed refresh token");
      assert.match(replay.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(replay.body.access, undefined);
      assert.match(replay.headers.get("www-authenticate") ?? "", /error="invalid_token"/);

      assertCode(await api.get("/profile", child.body.access), 401, "token_revoked", "the child access token");
      assertCode(await api.post("/token/refresh", { refresh: child.body.refresh }), 401, "token_revoked", "the newest refresh token");
      assertCode(await api.get("/profile", victim.access), 401, "token_revoked", "the original access token");

      // The user's other session lives on, and the version did not change.
      const alive = await api.get("/profile", otherDevice.access);
      assert.equal(alive.status, 200);
      assert.equal(alive.body.token_version, 0);
      assert.equal((await api.post("/token/refresh", { refresh: otherDevice.refresh })).status, 200);
    });

    test("two concurrent refreshes of one token count as reuse: one wins, and its pair dies too", async () => {
      const { api } = server;
      const user = await api.register();
      const [a, b] = await Promise.all([
        api.post("/token/refresh", { refresh: user.refresh }),
        api.post("/token/refresh", { refresh: user.refresh }),
      ]);
      const statuses = [a.status, b.status].sort();
      assert.deepEqual(statuses, [200, 401]);
      const winner = a.status === 200 ? a : b;
      const loser = a.status === 200 ? b : a;
      assert.equal(loser.body.code, "refresh_reused");
      assertCode(await api.get("/profile", winner.body.access), 401, "token_revoked", "the winner's access token");
      assertCode(await api.post("/token/refresh", { refresh: winner.body.refresh }), 401, "token_revoked", "the winner's refresh token");
    });

    test("the refresh token of a session revoked by logout is token_revoked, not reuse", async () => {
      const { api } = server;
      const user = await api.register();
      const second = await api.login(user.email, user.password);
      assert.equal((await api.post("/logout", { scope: "session" }, user.access)).status, 204);
      assertCode(await api.post("/token/refresh", { refresh: user.refresh }), 401, "token_revoked", "after logout scope session");
      assert.equal((await api.post("/logout", {}, second.access)).status, 204);
      assertCode(await api.post("/token/refresh", { refresh: second.refresh }), 401, "token_revoked", "after logout scope all");
    });

    test("tokens of the wrong kind and malformed tokens are token_invalid", async () => {
      const { api } = server;
      const user = await api.register();
      assertCode(await api.post("/token/refresh", { refresh: user.access }), 401, "token_invalid", "an access token as refresh token");
      assertCode(await api.get("/profile", user.refresh), 401, "token_invalid", "a refresh token as access token");
      assertCode(await api.post("/token/refresh", { refresh: "not-a-token" }), 401, "token_invalid", "garbage");
      // Same id, wrong secret: tampering with the last character.
      const last = user.refresh.at(-1) === "A" ? "B" : "A";
      assertCode(await api.post("/token/refresh", { refresh: user.refresh.slice(0, -1) + last }), 401, "token_invalid", "tampered");
      assert.equal(
        (await api.post("/token/refresh", { refresh: user.refresh })).status,
        200,
        "failed attempts did not burn the real token",
      );
    });

    test("a missing or non-string refresh field is 400 validation_failed", async () => {
      const { api } = server;
      assertCode(await api.post("/token/refresh", {}), 400, "validation_failed", "missing");
      assertCode(await api.post("/token/refresh", { refresh: 42 }), 400, "validation_failed", "a number");
    });
  });

  describe(`token expiry with an injected clock (${dialect})`, () => {
    let server: TestServer;
    let now = Date.parse("2030-06-01T12:00:00Z");
    const accessTtl = 30;
    const refreshTtl = 120;
    const leeway = 5;
    before(async () => {
      server = await startServer({ dialect, accessTtl, refreshTtl, clockTolerance: leeway, clock: () => now });
    });
    after(() => server.close());

    test("an access token is accepted within exp + leeway and token_expired after", async () => {
      const { api } = server;
      const user = await api.register();
      const issuedAt = now;
      assert.equal(claimsOf(user.access).exp, Math.floor(issuedAt / 1000) + accessTtl);
      now = issuedAt + (accessTtl + leeway - 1) * 1000;
      assert.equal((await api.get("/profile", user.access)).status, 200, "inside the leeway");
      now = issuedAt + (accessTtl + leeway) * 1000;
      assertCode(await api.get("/profile", user.access), 401, "token_expired", "past exp + leeway");
      // The session itself is fine: a refresh gives a working token again.
      const rotated = await api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(rotated.status, 200);
      assert.equal((await api.get("/profile", rotated.body.access)).status, 200);
    });

    test("a refresh token past its lifetime is token_expired; rotation extends the window", async () => {
      const { api } = server;
      const user = await api.register();
      now += (refreshTtl - 10) * 1000;
      const rotated = await api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(rotated.status, 200, "still inside the window");
      now += (refreshTtl - 10) * 1000;
      assert.equal(
        (await api.post("/token/refresh", { refresh: rotated.body.refresh })).status,
        200,
        "the rotated token has its own window",
      );

      const idle = await api.register();
      now += refreshTtl * 1000 + 1000;
      assertCode(await api.post("/token/refresh", { refresh: idle.refresh }), 401, "token_expired", "idle past refreshTtl");
    });
  });
}
