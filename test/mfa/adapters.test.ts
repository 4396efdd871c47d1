import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import Fastify from "fastify";
import { createAuth, type Auth } from "../../src/index.js";
import tokenverFastify from "../../src/http/fastify/plugin.js";
import { problemHandler, tokenver as tokenverExpress } from "../../src/http/express/guard.js";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { PASSWORD, listenExpress, listenFastify } from "../library/helpers.js";
import { totpAt } from "../support/totp.js";

// The second factor through the library's adapters: the endpoints mounted by the Fastify plugin
// and by the Express guard (one auth service), and `request.user.amr` / `req.user.amr` in the
// application's own routes.
for (const dialect of dialects()) {
  describe(`second factor through the Fastify plugin and the Express guard (${dialect})`, () => {
    let database: TestDatabase;
    let auth: Auth;
    let closers: Array<() => Promise<void>>;
    let fastify: { auth: Api; app: Api };
    let onExpress: { auth: Api; app: Api };
    let now = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;

    before(async () => {
      database = await createTestDatabase(dialect);
      auth = await createAuth({
        secret: TEST_SECRET,
        databaseUrl: database.url,
        clock: () => now,
        onWarning: () => {},
        rateLimit: { registrations: 1_000_000, addressLogins: 1_000_000 },
      });
      const fastifyApp = Fastify();
      await fastifyApp.register(tokenverFastify, { auth, routes: { prefix: "/auth" } });
      fastifyApp.get("/whoami", async (request) => ({ amr: request.user.claims.amr }));
      const f = await listenFastify(fastifyApp);
      const expressApp = express();
      expressApp.use(tokenverExpress({ auth, routes: { prefix: "/auth" } }));
      expressApp.get("/whoami", (req, res) => {
        res.json({ amr: req.user.claims.amr });
      });
      expressApp.use(problemHandler);
      const e = await listenExpress(expressApp);
      fastify = { auth: new Api(`${f.url}/auth`), app: new Api(f.url) };
      onExpress = { auth: new Api(`${e.url}/auth`), app: new Api(e.url) };
      closers = [f.close, e.close];
    });
    after(async () => {
      for (const close of closers ?? []) await close();
      await auth?.close();
      await database?.drop();
    });

    test("enrol on one adapter, sign in with the code on the other; amr reaches the application's routes", async () => {
      for (const [enrolOn, signInOn] of [
        [fastify, onExpress],
        [onExpress, fastify],
      ] as const) {
        now += 60_000;
        const email = uniqueEmail();
        const reg = await enrolOn.auth.register(email, PASSWORD);
        assert.deepEqual((await enrolOn.app.get("/whoami", reg.access)).body.amr, ["pwd"]);
        const { secret } = (await enrolOn.auth.post("/mfa/totp", undefined, reg.access)).body;
        const on = await enrolOn.auth.post("/mfa/totp/confirm", { code: totpAt(secret, now), password: PASSWORD }, reg.access);
        assert.equal(on.status, 200, on.text);

        const login = await signInOn.auth.post("/login", { email, password: PASSWORD });
        assert.equal(login.status, 403, login.text);
        assert.equal(login.body.code, "mfa_required");
        assert.equal(login.headers.get("cache-control"), "no-store");
        const wrong = await signInOn.auth.post("/login/mfa", { mfa_token: login.body.mfa_token, code: "12345" });
        assert.equal(wrong.status, 401, wrong.text);
        assert.equal(wrong.body.code, "code_invalid");
        const done = await signInOn.auth.post("/login/mfa", { mfa_token: login.body.mfa_token, code: totpAt(secret, now, 1) });
        assert.equal(done.status, 200, done.text);
        for (const front of [fastify, onExpress])
          assert.deepEqual((await front.app.get("/whoami", done.body.access)).body.amr, ["pwd", "otp", "mfa"]);
        const off = await signInOn.auth.request("DELETE", "/mfa/totp", {
          body: { password: PASSWORD, code: on.body.recovery_codes[0] },
          token: done.body.access,
        });
        assert.equal(off.status, 204, off.text);
        assert.equal((await enrolOn.app.get("/whoami", reg.access)).status, 401, "the other session is revoked");
      }
    });
  });
}
