import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { claimsOf, startServer, type TestServer } from "./support/server.js";

// The seed write-up's five-step lifecycle, step by step, on every dialect.
for (const dialect of dialects()) {
  describe(`token-version lifecycle (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ dialect });
    });
    after(() => server.close());

    test("register, logout, login, logout, login", async () => {
      const { api } = server;
      // 1. Register: db 0, token 0, allowed.
      const registered = await api.register();
      assert.equal(registered.user.token_version, 0);
      assert.equal(claimsOf(registered.access).token_version, 0);
      const p1 = await api.get("/profile", registered.access);
      assert.equal(p1.status, 200);
      assert.equal(p1.body.token_version, 0);

      // 2. Logout: db 1; the old token (version 0) is refused.
      assert.equal((await api.post("/logout", undefined, registered.access)).status, 204);
      const stale0 = await api.get("/profile", registered.access);
      assert.equal(stale0.status, 401);
      assert.equal(stale0.body.code, "token_revoked");

      // 3. Login again: the token embeds 1 and is allowed.
      const second = await api.login(registered.email, registered.password);
      assert.equal(claimsOf(second.access).token_version, 1);
      const p2 = await api.get("/profile", second.access);
      assert.equal(p2.status, 200);
      assert.equal(p2.body.token_version, 1);

      // 4. Logout again: db 2; token 1 refused (and token 0 still refused).
      assert.equal((await api.post("/logout", undefined, second.access)).status, 204);
      assert.equal((await api.get("/profile", second.access)).body.code, "token_revoked");
      assert.equal((await api.get("/profile", registered.access)).body.code, "token_revoked");

      // 5. Login again: token 2, allowed.
      const third = await api.login(registered.email, registered.password);
      assert.equal(claimsOf(third.access).token_version, 2);
      const p3 = await api.get("/profile", third.access);
      assert.equal(p3.status, 200);
      assert.equal(p3.body.token_version, 2);
    });

    test("logout on one device kills every device's access and refresh tokens", async () => {
      const { api } = server;
      const phone = await api.register();
      const laptop = await api.login(phone.email, phone.password);
      assert.equal((await api.get("/profile", laptop.access)).status, 200);

      assert.equal((await api.post("/logout", {}, phone.access)).status, 204);

      const laptopProfile = await api.get("/profile", laptop.access);
      assert.equal(laptopProfile.status, 401);
      assert.equal(laptopProfile.body.code, "token_revoked");
      const laptopRefresh = await api.post("/token/refresh", { refresh: laptop.refresh });
      assert.equal(laptopRefresh.status, 401);
      assert.equal(laptopRefresh.body.code, "token_revoked");
      assert.equal(laptopRefresh.body.access, undefined);
      const phoneRefresh = await api.post("/token/refresh", { refresh: phone.refresh });
      assert.equal(phoneRefresh.body.code, "token_revoked");
    });

    test("logout with scope session leaves the other devices alive", async () => {
      const { api } = server;
      const phone = await api.register();
      const laptop = await api.login(phone.email, phone.password);
      assert.equal((await api.post("/logout", { scope: "session" }, phone.access)).status, 204);
      assert.equal((await api.get("/profile", phone.access)).body.code, "token_revoked");
      assert.equal((await api.post("/token/refresh", { refresh: phone.refresh })).body.code, "token_revoked");
      const alive = await api.get("/profile", laptop.access);
      assert.equal(alive.status, 200);
      assert.equal(alive.body.token_version, 0, "scope session does not increment the version");
      assert.equal((await api.post("/token/refresh", { refresh: laptop.refresh })).status, 200);
    });

    test("login does not change the version", async () => {
      const { api } = server;
      const user = await api.register();
      const again = await api.login(user.email, user.password);
      assert.equal(claimsOf(again.access).token_version, 0);
      assert.equal((await api.get("/profile", user.access)).status, 200, "an earlier token survives a new login");
    });
  });
}
