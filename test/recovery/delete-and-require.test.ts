import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import { createAuth, type Auth } from "../../src/index.js";
import { problemHandler, tokenver } from "../../src/http/express/guard.js";
import { dialects } from "../support/databases.js";
import { linkToken, mailTo, VERIFY } from "../support/recovery-mail.js";
import { Api, startServer, TEST_SECRET, uniqueEmail, type TestServer } from "../support/server.js";
import { startSmtp, type TestSmtp } from "../support/smtp.js";
import { listenExpress } from "../library/helpers.js";

// DELETE /profile {password} (a JSON body on DELETE, through both adapters), and
// TOKENVER_REQUIRE_VERIFIED_EMAIL with the pruning of unverified accounts (docs/api.md section 8).
const BASE = "http://127.0.0.1:3999";
const DELETED = "Your account was deleted";

for (const dialect of dialects()) {
  describe(`account deletion (${dialect})`, () => {
    let smtp: TestSmtp;
    let server: TestServer;

    before(async () => {
      smtp = await startSmtp();
      server = await startServer({ dialect, smtpUrl: smtp.url, publicUrl: BASE });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    test("DELETE /profile: wrong password 403; right: 204, every token dies, a notice, the address registers again with a new id", async () => {
      const user = await server.api.register();
      const other = await server.api.login(user.email, user.password);
      const wrong = await server.api.request("DELETE", "/profile", { token: user.access, body: { password: "not the password at all" } });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.code, "invalid_credentials");
      const missing = await server.api.request("DELETE", "/profile", { token: user.access });
      assert.equal(missing.status, 400, "the password is required");
      const response = await server.api.request("DELETE", "/profile", { token: user.access, body: { password: user.password } });
      assert.equal(response.status, 204, response.text);
      for (const access of [user.access, other.access]) {
        const r = await server.api.get("/profile", access);
        assert.equal(r.status, 401);
        assert.ok(["token_revoked", "token_invalid"].includes(r.body.code), r.text);
      }
      assert.equal((await server.api.post("/token/refresh", { refresh: other.refresh })).status, 401);
      assert.equal((await server.api.post("/login", { email: user.email, password: user.password })).status, 401);
      await mailTo(smtp, user.email, DELETED);
      const again = await server.api.register(user.email);
      assert.notEqual(again.user.id, user.user.id, "ids are never reused");
      assert.equal(again.user.token_version, 0);
      await server.auth.flushEvents();
      const events = (await server.auth.listEvents({ userId: user.user.id, type: "account.deleted" })).events;
      assert.equal(events.length, 1);
      assert.equal(events[0]!.actor, "self");
    });

    test("a deletion racing a refresh: afterwards no token of the account works", async () => {
      for (let round = 0; round < 3; round++) {
        const user = await server.api.register();
        const [deleted, refreshed] = await Promise.all([
          server.api.request("DELETE", "/profile", { token: user.access, body: { password: user.password } }),
          server.api.post("/token/refresh", { refresh: user.refresh }),
        ]);
        assert.equal(deleted.status, 204, deleted.text);
        const tokens = refreshed.status === 200 ? [refreshed.body.access as string] : [];
        for (const access of [user.access, ...tokens]) assert.equal((await server.api.get("/profile", access)).status, 401);
        if (refreshed.status === 200)
          assert.equal((await server.api.post("/token/refresh", { refresh: refreshed.body.refresh })).status, 401);
      }
    });

    test("the links of a deleted account die with it", async () => {
      const user = await server.api.register();
      const token = linkToken(await mailTo(smtp, user.email, VERIFY), BASE, "/account/verify");
      assert.equal((await server.api.request("DELETE", "/profile", { token: user.access, body: { password: user.password } })).status, 204);
      assert.equal((await server.api.post("/email/verify", { token })).body.code, "link_invalid");
    });
  });

  describe(`a verified address required (${dialect})`, () => {
    let smtp: TestSmtp;
    let server: TestServer;
    let offset = 0;

    before(async () => {
      smtp = await startSmtp();
      server = await startServer({
        dialect,
        smtpUrl: smtp.url,
        publicUrl: BASE,
        requireVerifiedEmail: true,
        unverifiedTtl: 3600,
        clock: () => Date.now() + offset,
      });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    test("register answers 201 {user} without tokens; sign-in is 403 email_unverified until the link is followed", async () => {
      const email = uniqueEmail();
      const password = "a long and unguessable passphrase";
      const registered = await server.api.post("/register", { email, password });
      assert.equal(registered.status, 201, registered.text);
      assert.deepEqual(Object.keys(registered.body), ["user"]);
      assert.equal(registered.body.user.email_verified, false);
      const refused = await server.api.post("/login", { email, password });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, "email_unverified");
      const wrong = await server.api.post("/login", { email, password: "not the password at all" });
      assert.equal(wrong.status, 401, "a wrong password says nothing about verification");
      const token = linkToken(await mailTo(smtp, email, VERIFY), BASE, "/account/verify");
      assert.equal((await server.api.post("/email/verify", { token })).status, 200);
      const signIn = await server.api.login(email, password);
      assert.equal((signIn.user as any).email_verified, true);
      await assert.rejects(server.auth.register({ email: uniqueEmail(), password }), TypeError);
    });

    test("prune deletes unverified accounts older than TOKENVER_UNVERIFIED_TTL, never verified ones", async () => {
      const password = "a long and unguessable passphrase";
      const [stale, kept] = [uniqueEmail(), uniqueEmail()];
      for (const email of [stale, kept]) assert.equal((await server.api.post("/register", { email, password })).status, 201);
      const token = linkToken(await mailTo(smtp, kept, VERIFY), BASE, "/account/verify");
      assert.equal((await server.api.post("/email/verify", { token })).status, 200);
      assert.equal((await server.auth.prune()).unverifiedUsers, 0, "not old enough yet");
      offset = 3601 * 1000;
      try {
        const removed = await server.auth.prune();
        assert.ok(removed.unverifiedUsers >= 1);
        assert.equal(await server.auth.findUserByEmail(stale), null);
        assert.notEqual(await server.auth.findUserByEmail(kept), null);
      } finally {
        offset = 0;
      }
      assert.equal((await server.api.post("/register", { email: stale, password })).status, 201, "the address is free again");
    });
  });
}

describe("DELETE /profile with a JSON body through the Express guard", () => {
  let auth: Auth;
  let listening: { url: string; close(): Promise<void> };

  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, sendMail: async () => {} });
    const app = express();
    app.use(tokenver({ auth, routes: { prefix: "/auth" } }));
    app.use(problemHandler);
    listening = await listenExpress(app);
  });
  after(async () => {
    await listening?.close();
    await auth?.close();
  });

  test("wrong password 403, right password 204", async () => {
    const api = new Api(`${listening.url}/auth`);
    const user = await api.register();
    const wrong = await api.request("DELETE", "/profile", { token: user.access, body: { password: "not the password at all" } });
    assert.equal(wrong.status, 403, wrong.text);
    const response = await api.request("DELETE", "/profile", { token: user.access, body: { password: user.password } });
    assert.equal(response.status, 204, response.text);
    assert.equal((await api.get("/profile", user.access)).status, 401);
  });
});
