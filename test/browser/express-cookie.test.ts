import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import { createAuth, type Auth } from "../../src/index.js";
import { problemHandler, tokenver } from "../../src/http/express/guard.js";
import { createTestDatabase, dialects, type TestDatabase } from "../support/databases.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { listenExpress } from "../library/helpers.js";
import { ACCESS, CSRF, PASSWORD, REFRESH, assertProblem, pageHeaders, sessionOf, setCookies, type CookieSession } from "./helpers.js";

// The Express guard follows the same cookie-mode, CSRF and CORS rules as the Fastify plugin
// (docs/api.md section 6): the endpoints under a prefix, and the application's own routes.
const ORIGIN = "http://127.0.0.1:3000";
const OTHER = "http://app.example.test";

for (const dialect of dialects()) {
  describe(`cookie mode with the Express guard (${dialect})`, () => {
    let database: TestDatabase;
    let auth: Auth<any>;
    let server: { url: string; close(): Promise<void> };
    let root: Api;
    let endpoints: Api;
    before(async () => {
      database = await createTestDatabase(dialect);
      auth = await createAuth({
        secret: TEST_SECRET,
        databaseUrl: database.url,
        allowedOrigins: OTHER,
        rateLimit: { registrations: 1_000_000, addressLogins: 1_000_000 },
      });
      const app = express();
      const guard = tokenver({ auth, routes: { prefix: "/auth" } });
      app.use("/api", guard);
      app.get("/api/notes", (req, res) => {
        res.json({ user: req.user.userId });
      });
      app.post("/api/notes", express.json(), (req, res) => {
        res.status(201).json({ user: req.user.userId, note: req.body });
      });
      app.use(problemHandler);
      server = await listenExpress(app);
      root = new Api(server.url + "/api");
      endpoints = new Api(server.url + "/api/auth");
    });
    after(async () => {
      await server.close();
      await auth.close();
      await database.drop();
    });

    async function signIn(): Promise<CookieSession> {
      const email = uniqueEmail();
      const response = await endpoints.request("POST", "/register", {
        body: { email, password: PASSWORD },
        headers: { origin: ORIGIN, "tokenver-mode": "cookie" },
      });
      assert.equal(response.status, 201, JSON.stringify(response.body));
      assert.equal(response.body.token_type, "cookie");
      return sessionOf(response, email);
    }

    test("cookie-mode registration: the refresh cookie's Path carries the mount path and prefix", async () => {
      const response = await endpoints.request("POST", "/register", {
        body: { email: uniqueEmail(), password: PASSWORD },
        headers: { origin: ORIGIN, "tokenver-mode": "cookie" },
      });
      const cookies = setCookies(response);
      assert.deepEqual(cookies.get(REFRESH)!.attributes, {
        "max-age": "1209600",
        path: "/api/auth/token/refresh",
        httponly: "",
        secure: "",
        samesite: "Strict",
      });
      assert.deepEqual(cookies.get(ACCESS)!.attributes, { "max-age": "1209600", path: "/", httponly: "", secure: "", samesite: "Lax" });
      assert.deepEqual(cookies.get(CSRF)!.attributes, { "max-age": "1209600", path: "/", secure: "", samesite: "Lax" });
      assert.doesNotMatch(response.text, /"access"|"refresh"/);
    });

    test("the access cookie authenticates the application's routes; CSRF and origin rules on unsafe ones", async () => {
      const session = await signIn();
      const read = await root.request("GET", "/notes", { headers: { cookie: `${ACCESS}=${session.access}` } });
      assert.equal(read.status, 200);
      const write = (headers: Record<string, string>) => root.request("POST", "/notes", { body: { text: "hi" }, headers });
      assertProblem(await write(pageHeaders(ORIGIN, { access: session.access })), 403, "csrf_failed", "no CSRF token");
      const other = await signIn();
      assertProblem(
        await write(pageHeaders(ORIGIN, { access: session.access, csrf: other.csrf })),
        403,
        "csrf_failed",
        "another session's",
      );
      assertProblem(await write(pageHeaders("http://evil.example.test", session)), 403, "csrf_failed", "foreign origin");
      const { origin: _o, ...noOrigin } = pageHeaders(ORIGIN, session);
      assertProblem(await write(noOrigin), 403, "csrf_failed", "no origin");
      assertProblem(await write(pageHeaders(ORIGIN, session, { "sec-fetch-site": "cross-site" })), 403, "csrf_failed", "cross-site");
      const form = await root.request("POST", "/notes", {
        raw: "text=hi",
        headers: { ...pageHeaders(ORIGIN, session), "content-type": "application/x-www-form-urlencoded" },
      });
      assertProblem(form, 403, "csrf_failed", "a form body");
      const ok = await write(pageHeaders(ORIGIN, session));
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      const fromOther = await write(pageHeaders(OTHER, session));
      assert.equal(fromOther.status, 201);
      assert.equal(fromOther.headers.get("access-control-allow-origin"), OTHER);
      const basic = await root.request("GET", "/notes", {
        headers: { cookie: `${ACCESS}=${session.access}`, authorization: "Basic dXNlcjpwYXNz" },
      });
      assertProblem(basic, 401, "token_invalid", "Basic beside a good cookie");
      const bearer = await root.request("POST", "/notes", {
        body: { text: "b" },
        headers: { authorization: `Bearer not.a.token`, cookie: `${ACCESS}=${session.access}` },
      });
      assertProblem(bearer, 401, "token_invalid", "the header wins");
    });

    test("refresh from the cookie, then logout expires the cookies, on 204 and on 401", async () => {
      const session = await signIn();
      const rotated = await endpoints.request("POST", "/token/refresh", {
        headers: { origin: ORIGIN, "tokenver-mode": "cookie", cookie: `${REFRESH}=${session.refresh}` },
      });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const next = sessionOf(rotated);
      assert.equal(rotated.body.token_type, "cookie");
      const out = await endpoints.request("POST", "/logout", { headers: pageHeaders(ORIGIN, next) });
      assert.equal(out.status, 204);
      for (const response of [
        out,
        await endpoints.request("POST", "/logout", { headers: pageHeaders(ORIGIN, next) }),
        await endpoints.request("POST", "/logout"),
      ]) {
        const cookies = setCookies(response);
        assert.deepEqual([...cookies.keys()].sort(), [ACCESS, CSRF, REFRESH].sort(), `status ${response.status}`);
        for (const cookie of cookies.values()) assert.equal(cookie.attributes["max-age"], "0");
        assert.equal(cookies.get(REFRESH)!.attributes["path"], "/api/auth/token/refresh");
      }
    });

    test("CORS preflight for an allowed origin, none for another", async () => {
      const preflight = await endpoints.request("OPTIONS", "/logout", {
        headers: { origin: OTHER, "access-control-request-method": "POST", "access-control-request-headers": "x-csrf-token" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), OTHER);
      assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");
      assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /X-CSRF-Token/);
      assert.match(preflight.headers.get("vary") ?? "", /Origin/);
      const foreign = await endpoints.request("OPTIONS", "/logout", {
        headers: { origin: "http://evil.example.test", "access-control-request-method": "POST" },
      });
      assert.equal(foreign.headers.get("access-control-allow-origin"), null);
    });
  });
}
