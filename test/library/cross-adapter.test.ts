import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import Fastify from "fastify";
import { Type } from "typebox";
import { createAuth, type Auth, type AuthOptions } from "../../src/index.js";
import tokenverFastify from "../../src/http/fastify/plugin.js";
import { problemHandler, tokenver as tokenverExpress } from "../../src/http/express/guard.js";
import { buildServer } from "../../src/server.js";
import { createTestDatabase, dialects, REDIS_URL, redisTestPrefix, type TestDatabase } from "../support/databases.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { PASSWORD, listenExpress, listenFastify } from "./helpers.js";

const userFields = { company: Type.String({ minLength: 1 }) };

/** One auth service, three front ends on it: the server, a Fastify app, an Express app. */
interface FrontEnd {
  name: string;
  /** Base URL of the auth endpoints. */
  auth: Api;
  /** Base URL of the application's own protected route `/whoami`. */
  app: Api;
}

interface Setup {
  auth: Auth<typeof userFields>;
  fronts: FrontEnd[];
  close(): Promise<void>;
}

async function setUp(options: AuthOptions<typeof userFields>, database: TestDatabase): Promise<Setup> {
  const auth = await createAuth({ secret: TEST_SECRET, userFields, ...options, databaseUrl: database.url });

  const server = await listenFastify(await buildServer(auth));

  const fastifyApp = Fastify();
  await fastifyApp.register(tokenverFastify, { auth, routes: { prefix: "/auth" } });
  fastifyApp.get("/whoami", async (request) => ({ userId: request.user.userId }));
  const onFastify = await listenFastify(fastifyApp);

  const expressApp = express();
  expressApp.use(tokenverExpress({ auth, routes: { prefix: "/auth" } }));
  expressApp.get("/whoami", (req, res) => {
    res.json({ userId: req.user.userId });
  });
  expressApp.use(problemHandler);
  const onExpress = await listenExpress(expressApp);

  return {
    auth,
    fronts: [
      { name: "server", auth: new Api(server.url), app: new Api(server.url) },
      { name: "fastify", auth: new Api(`${onFastify.url}/auth`), app: new Api(onFastify.url) },
      { name: "express", auth: new Api(`${onExpress.url}/auth`), app: new Api(onExpress.url) },
    ],
    close: async () => {
      await Promise.all([server.close(), onFastify.close(), onExpress.close()]);
      await auth.close();
      await database.drop();
    },
  };
}

const variants: Array<{ name: string; dialect: "sqlite" | "postgres"; redis: boolean }> = dialects().map((d) => ({
  name: d,
  dialect: d,
  redis: false,
}));
if (dialects().includes("postgres") && REDIS_URL) variants.push({ name: "postgres + redis", dialect: "postgres", redis: true });

for (const variant of variants) {
  describe(`the same revocation through every adapter (${variant.name})`, () => {
    let setup: Setup;
    let server: FrontEnd, onFastify: FrontEnd, onExpress: FrontEnd;
    before(async () => {
      const database = await createTestDatabase(variant.dialect);
      setup = await setUp(variant.redis ? { redisUrl: REDIS_URL!, redisPrefix: redisTestPrefix() } : {}, database);
      [server, onFastify, onExpress] = setup.fronts as [FrontEnd, FrontEnd, FrontEnd];
    });
    after(() => setup.close());

    const whoami = (front: FrontEnd, token: string) => front.app.get("/whoami", token);

    test("a token from one adapter works on the others", async () => {
      const user = await onExpress.auth.register(uniqueEmail(), PASSWORD, { company: "Acme" });
      for (const front of [server, onFastify, onExpress]) {
        const response = await (front === server ? front.auth.get("/profile", user.access) : whoami(front, user.access));
        assert.equal(response.status, 200, front.name);
      }
    });

    test("logout through the Fastify endpoint kills every device's token on the Express routes", async () => {
      const phone = await onFastify.auth.register(uniqueEmail(), PASSWORD, { company: "Acme" });
      const laptop = await onExpress.auth.login(phone.email, phone.password);
      assert.equal((await whoami(onExpress, laptop.access)).status, 200);
      assert.equal((await onFastify.auth.post("/logout", undefined, phone.access)).status, 204);
      for (const token of [phone.access, laptop.access]) {
        const response = await whoami(onExpress, token);
        assert.equal(response.status, 401);
        assert.equal(response.body.code, "token_revoked");
      }
      assert.equal((await onExpress.auth.post("/token/refresh", { refresh: laptop.refresh })).body.code, "token_revoked");
    });

    test("logout through the Express endpoint kills every device's token on the Fastify routes and the server", async () => {
      const phone = await onExpress.auth.register(uniqueEmail(), PASSWORD, { company: "Acme" });
      const laptop = await onFastify.auth.login(phone.email, phone.password);
      assert.equal((await onExpress.auth.post("/logout", {}, phone.access)).status, 204);
      for (const token of [phone.access, laptop.access]) {
        assert.equal((await whoami(onFastify, token)).body.code, "token_revoked");
        assert.equal((await server.auth.get("/profile", token)).body.code, "token_revoked");
      }
      // The next login is allowed everywhere.
      const again = await server.auth.login(phone.email, phone.password);
      assert.equal((await whoami(onFastify, again.access)).status, 200);
      assert.equal((await whoami(onExpress, again.access)).status, 200);
    });

    test("every adapter answers the endpoints with the same statuses and codes as the server", async () => {
      const results = new Map<string, string[]>();
      for (const front of setup.fronts) results.set(front.name, await conformanceRun(front));
      const expected = results.get("server")!;
      assert.ok(expected.length > 15);
      assert.deepEqual(results.get("fastify"), expected);
      assert.deepEqual(results.get("express"), expected);
    });
  });
}

/** One walk over the endpoints; returns "step status code" lines to compare between adapters. */
async function conformanceRun(front: FrontEnd): Promise<string[]> {
  const api = front.auth;
  const lines: string[] = [];
  const record = (step: string, response: { status: number; body: any }) => {
    lines.push(`${step} ${response.status} ${response.body?.code ?? ""}`);
    return response;
  };
  const email = uniqueEmail();
  record("register email 123", await api.post("/register", { email: 123, password: PASSWORD, company: "Acme" }));
  record("register company 5", await api.post("/register", { email, password: PASSWORD, company: 5 }));
  record("register no company", await api.post("/register", { email, password: PASSWORD }));
  record("register common password", await api.post("/register", { email, password: "password1", company: "Acme" }));
  const registered = record("register", await api.post("/register", { email, password: PASSWORD, company: "Acme", plan: "x" }));
  lines.push(`register user keys ${Object.keys(registered.body.user).sort().join(",")}`);
  record("register again", await api.post("/register", { email: email.toUpperCase(), password: PASSWORD, company: "Acme" }));
  record("login wrong", await api.post("/login", { email, password: "not the right passphrase" }));
  record("login not json", await api.request("POST", "/login", { raw: "email=a", headers: { "content-type": "text/plain" } }));
  record("login too big", await api.post("/login", { email, password: "x".repeat(70 * 1024) }));
  record("login broken json", await api.request("POST", "/login", { raw: "{", headers: { "content-type": "application/json" } }));
  const login = record("login", await api.post("/login", { email, password: PASSWORD }));
  const access: string = login.body.access;
  record("refresh wrong type", await api.post("/token/refresh", { refresh: 5 }));
  const refreshed = record("refresh", await api.post("/token/refresh", { refresh: login.body.refresh }));
  record("refresh reused", await api.post("/token/refresh", { refresh: login.body.refresh }));
  record("refresh of a reused session", await api.post("/token/refresh", { refresh: refreshed.body.refresh }));
  const token: string = registered.body.access;
  record("profile no token", await api.get("/profile"));
  record("profile", await api.get("/profile", token));
  record("patch bad", await api.request("PATCH", "/profile", { token, body: { company: 5 } }));
  const patched = record("patch", await api.request("PATCH", "/profile", { token, body: { company: "Beta", username: "bee" } }));
  lines.push(`patch company ${patched.body.company} ${patched.body.username}`);
  record("sessions", await api.get("/sessions", token));
  record("delete unknown session", await api.request("DELETE", "/sessions/nope", { token }));
  record(
    "password wrong",
    await api.post("/password", { current_password: "not the right passphrase", new_password: "a brand new passphrase" }, token),
  );
  const changed = record(
    "password",
    await api.post("/password", { current_password: PASSWORD, new_password: "a brand new passphrase" }, token),
  );
  record("old token after password", await api.get("/profile", token));
  record("access of the revoked refresh session", await api.get("/profile", access));
  record("logout bad scope", await api.post("/logout", { scope: "everything" }, changed.body.access));
  record("logout", await api.post("/logout", undefined, changed.body.access));
  record("after logout", await api.get("/profile", changed.body.access));
  record("health", await api.get("/health"));
  return lines;
}
