import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "../support/databases.js";
import { claimsOf, startServer, uniqueEmail, type TestServer } from "../support/server.js";
import { ACCESS, CSRF, PASSWORD, REFRESH, assertProblem, pageHeaders, registerInCookieMode, sessionOf, setCookies } from "./helpers.js";

// docs/api.md section 6: cookie mode, cookie authentication, the origin checks and CSRF tokens,
// CORS, and POST /logout's cookies, over real HTTP against the built-in server.
const OTHER = "http://app.example.test:8080";
const FOREIGN = "http://evil.example.test";
const REFRESH_TTL = 3600;

for (const dialect of dialects()) {
  describe(`cookie mode (${dialect})`, () => {
    let server: TestServer;
    let origin: string;
    let now = Date.now();
    before(async () => {
      server = await startServer({
        dialect,
        refreshTtl: REFRESH_TTL,
        accessTtl: 60,
        clockTolerance: 0,
        allowedOrigins: `${OTHER}, http://second.example.test`,
        publicUrl: "http://127.0.0.1:1/base/",
        clock: () => now,
      });
      origin = "http://127.0.0.1:1";
    });
    after(() => server.close());

    test("registration in cookie mode: no token in the body, the three cookies exactly as specified", async () => {
      const { response } = await registerInCookieMode(server.api, origin);
      assert.deepEqual(Object.keys(response.body).sort(), ["csrf_token", "expires_in", "token_type", "user"]);
      assert.equal(response.body.token_type, "cookie");
      assert.equal(response.body.expires_in, 60);
      assert.doesNotMatch(response.text, /"access"|"refresh"/);
      assert.equal(response.headers.get("cache-control"), "no-store");
      const cookies = setCookies(response);
      assert.deepEqual([...cookies.keys()].sort(), [ACCESS, CSRF, REFRESH].sort());
      const max = String(REFRESH_TTL);
      assert.deepEqual(cookies.get(ACCESS)!.attributes, { "max-age": max, path: "/", httponly: "", secure: "", samesite: "Lax" });
      // The public URL's path (/base) and the mount prefix (none) before /token/refresh.
      assert.deepEqual(cookies.get(REFRESH)!.attributes, {
        "max-age": max,
        path: "/base/token/refresh",
        httponly: "",
        secure: "",
        samesite: "Strict",
      });
      assert.deepEqual(cookies.get(CSRF)!.attributes, { "max-age": max, path: "/", secure: "", samesite: "Lax" });
      assert.equal(cookies.get(CSRF)!.value, response.body.csrf_token);
      assert.equal(claimsOf(cookies.get(ACCESS)!.value).sub, response.body.user.id);
      assert.match(cookies.get(REFRESH)!.value, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    });

    test("login and the bearer mode: the header decides the answer", async () => {
      const email = uniqueEmail();
      await server.api.request("POST", "/register", { body: { email, password: PASSWORD } });
      const bearer = await server.api.request("POST", "/login", {
        body: { email, password: PASSWORD },
        headers: { "tokenver-mode": "bearer" },
      });
      assert.equal(bearer.status, 200);
      assert.equal(bearer.body.token_type, "Bearer");
      assert.equal(bearer.headers.getSetCookie().length, 0);
      const cookie = await server.api.request("POST", "/login", {
        body: { email, password: PASSWORD },
        headers: { origin, "tokenver-mode": "cookie" },
      });
      assert.equal(cookie.status, 200);
      assert.equal(cookie.body.token_type, "cookie");
      assert.equal(setCookies(cookie).size, 3);
      const odd = await server.api.request("POST", "/login", {
        body: { email, password: PASSWORD },
        headers: { "tokenver-mode": "cookies" },
      });
      assertProblem(odd, 400, "bad_request", "a Tokenver-Mode that is neither cookie nor bearer");
    });

    test("the access cookie authenticates; a Bearer header wins over it; another scheme is 401 token_invalid", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const profile = await server.api.request("GET", "/profile", { headers: { cookie: `${ACCESS}=${session.access}` } });
      assert.equal(profile.status, 200);
      assert.equal(profile.body.email, session.email);
      const headerWins = await server.api.request("GET", "/profile", {
        headers: { cookie: `${ACCESS}=${session.access}`, authorization: "Bearer not.a.token" },
      });
      assertProblem(headerWins, 401, "token_invalid", "a bad Bearer header beside a good cookie");
      const basic = await server.api.request("GET", "/profile", {
        headers: { cookie: `${ACCESS}=${session.access}`, authorization: "Basic dXNlcjpwYXNz" },
      });
      assertProblem(basic, 401, "token_invalid", "Basic on a protected route");
      assert.equal(basic.headers.get("www-authenticate"), 'Bearer realm="tokenver"', "no bearer token presented: no error attribute");
      const twice = await server.api.request("GET", "/profile", {
        headers: { cookie: `${ACCESS}=${session.access}; ${ACCESS}=${session.access}` },
      });
      assertProblem(twice, 401, "token_invalid", "the access cookie twice");
      assertProblem(await server.api.request("GET", "/profile"), 401, "token_missing", "neither");
      // A Bearer request needs no Origin and no CSRF token, cookies or not.
      const bearer = await server.api.request("PATCH", "/profile", {
        body: { username: "bearer-user" },
        headers: { authorization: `Bearer ${session.access}`, cookie: `${ACCESS}=junk` },
      });
      assert.equal(bearer.status, 200);
    });

    test("an expired access cookie is token_expired, not token_missing", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const start = now;
      now += 61_000;
      try {
        const expired = await server.api.request("GET", "/profile", { headers: { cookie: `${ACCESS}=${session.access}` } });
        assertProblem(expired, 401, "token_expired", "expired access cookie");
      } finally {
        now = start;
      }
    });

    test("CSRF: missing, wrong, another session's token are 403 csrf_failed; the session's own passes", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const other = await registerInCookieMode(server.api, origin);
      const patch = (headers: Record<string, string>) => server.api.request("PATCH", "/profile", { body: { username: "csrf" }, headers });
      assertProblem(await patch(pageHeaders(origin, { access: session.access })), 403, "csrf_failed", "no X-CSRF-Token");
      const [nonce] = session.csrf.split(".");
      assertProblem(
        await patch(pageHeaders(origin, { access: session.access, csrf: `${nonce}.${"A".repeat(43)}` })),
        403,
        "csrf_failed",
        "a forged token",
      );
      assertProblem(await patch(pageHeaders(origin, { access: session.access, csrf: "garbage" })), 403, "csrf_failed", "garbage");
      assertProblem(await patch(pageHeaders(origin, { ...session, csrf: other.csrf })), 403, "csrf_failed", "another session's token");
      const ok = await patch(pageHeaders(origin, session));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      // Any token of the current epoch: the CSRF cookie's copy too.
      const second = await server.api.request("POST", "/login", {
        body: { email: session.email, password: PASSWORD },
        headers: { origin, "tokenver-mode": "cookie" },
      });
      assert.notEqual(second.body.csrf_token, session.csrf);
      assert.equal((await patch(pageHeaders(origin, session))).status, 200);
      // GET needs none.
      assert.equal(
        (await server.api.request("GET", "/sessions", { headers: pageHeaders(FOREIGN, { access: session.access }) })).status,
        200,
      );
    });

    test("origin checks: missing, null or foreign Origin and Sec-Fetch-Site cross-site are 403; allowed origins pass", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const patch = (headers: Record<string, string>) => server.api.request("PATCH", "/profile", { body: { username: "o" }, headers });
      const { origin: _o, ...noOrigin } = pageHeaders(origin, session);
      assertProblem(await patch(noOrigin), 403, "csrf_failed", "no Origin");
      assertProblem(await patch(pageHeaders("null", session)), 403, "csrf_failed", "Origin null");
      assertProblem(await patch(pageHeaders(FOREIGN, session)), 403, "csrf_failed", "a foreign Origin");
      assertProblem(await patch(pageHeaders(`${origin}/`, session)), 403, "csrf_failed", "not a serialised origin");
      assertProblem(
        await patch(pageHeaders(origin, session, { "sec-fetch-site": "cross-site" })),
        403,
        "csrf_failed",
        "Sec-Fetch-Site cross-site",
      );
      assert.equal((await patch(pageHeaders(origin, session, { "sec-fetch-site": "same-origin" }))).status, 200);
      const fromOther = await patch(pageHeaders(OTHER, session, { "sec-fetch-site": "same-site" }));
      assert.equal(fromOther.status, 200);
      assert.equal(fromOther.headers.get("access-control-allow-origin"), OTHER);
      assert.equal(fromOther.headers.get("access-control-allow-credentials"), "true");
      // Login CSRF: a cookie-mode sign-in from a foreign page, or with no Origin, is refused too.
      const login = (headers: Record<string, string>) =>
        server.api.request("POST", "/login", {
          body: { email: session.email, password: PASSWORD },
          headers: { "tokenver-mode": "cookie", ...headers },
        });
      assertProblem(await login({ origin: FOREIGN }), 403, "csrf_failed", "cookie-mode login from a foreign page");
      assertProblem(await login({}), 403, "csrf_failed", "cookie-mode login without Origin");
      assert.equal((await login({ origin: OTHER })).status, 200);
    });

    test("a form-encoded body in cookie mode is 403 csrf_failed, never parsed", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const form = await server.api.request("POST", "/login", {
        raw: `email=${encodeURIComponent(session.email)}&password=x`,
        headers: { origin, "tokenver-mode": "cookie", "content-type": "application/x-www-form-urlencoded" },
      });
      assertProblem(form, 403, "csrf_failed", "form login in cookie mode");
      const authed = await server.api.request("POST", "/logout", {
        raw: "scope=all",
        headers: { ...pageHeaders(origin, session), "content-type": "text/plain" },
      });
      assertProblem(authed, 403, "csrf_failed", "cookie-authenticated text/plain body");
      assert.equal((await server.api.request("GET", "/profile", { headers: { cookie: `${ACCESS}=${session.access}` } })).status, 200);
    });

    test("POST /token/refresh from the refresh cookie: needs Tokenver-Mode cookie and the origin checks; cookies re-set", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const refresh = (headers: Record<string, string>) => server.api.request("POST", "/token/refresh", { headers });
      const noMode = await refresh({ origin, cookie: `${REFRESH}=${session.refresh}` });
      assertProblem(noMode, 400, "validation_failed", "no refresh and no cookie mode");
      assertProblem(await refresh({ "tokenver-mode": "cookie", cookie: `${REFRESH}=${session.refresh}` }), 403, "csrf_failed", "no Origin");
      assertProblem(await refresh({ "tokenver-mode": "cookie", origin }), 401, "token_missing", "no refresh cookie");
      const rotated = await refresh({ "tokenver-mode": "cookie", origin, cookie: `${REFRESH}=${session.refresh}` });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      assert.deepEqual(Object.keys(rotated.body).sort(), ["csrf_token", "expires_in", "token_type"]);
      const next = sessionOf(rotated);
      assert.notEqual(next.refresh, session.refresh);
      assert.equal(setCookies(rotated).get(REFRESH)!.attributes["path"], "/base/token/refresh");
      assert.equal(setCookies(rotated).get(ACCESS)!.attributes["max-age"], String(REFRESH_TTL));
      assert.equal(claimsOf(next.access).sid, claimsOf(session.access).sid);
      // The CSRF tokens of before the refresh still work (same epoch), the new one too.
      const patch = (csrf: string) =>
        server.api.request("PATCH", "/profile", { body: { username: "r" }, headers: pageHeaders(origin, { access: next.access, csrf }) });
      assert.equal((await patch(next.csrf)).status, 200);
      assert.equal((await patch(session.csrf)).status, 200);
      // A body's refresh token wins in cookie mode too.
      const fromBody = await server.api.request("POST", "/token/refresh", {
        body: { refresh: next.refresh },
        headers: { "tokenver-mode": "cookie", origin },
      });
      assert.equal(fromBody.status, 200);
      assert.equal(fromBody.body.token_type, "cookie");
    });

    test("two tabs refreshing from the same cookie at once both stay signed in (the grace)", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const headers = { "tokenver-mode": "cookie", origin, cookie: `${REFRESH}=${session.refresh}` };
      const [a, b] = await Promise.all([
        server.api.request("POST", "/token/refresh", { headers }),
        server.api.request("POST", "/token/refresh", { headers }),
      ]);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(sessionOf(a).refresh, sessionOf(b).refresh);
      for (const tab of [sessionOf(a), sessionOf(b)]) {
        const patch = await server.api.request("PATCH", "/profile", { body: { username: "tab" }, headers: pageHeaders(origin, tab) });
        assert.equal(patch.status, 200);
      }
    });

    test("a refresh cookie that can never work again is expired with its companions; a failing body token leaves them", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const headers = { "tokenver-mode": "cookie", origin, cookie: `${REFRESH}=${session.refresh}` };
      assert.equal((await server.api.request("POST", "/logout", { headers: pageHeaders(origin, session) })).status, 204);
      const dead = await server.api.request("POST", "/token/refresh", { headers });
      assertProblem(dead, 401, "token_revoked", "refresh cookie of a logged-out session");
      const cookies = setCookies(dead);
      assert.deepEqual([...cookies.keys()].sort(), [ACCESS, CSRF, REFRESH].sort());
      for (const cookie of cookies.values()) assert.equal(cookie.attributes["max-age"], "0");
      // A bad token in the body leaves the cookies alone: they were not what failed.
      const fromBody = await server.api.request("POST", "/token/refresh", { body: { refresh: session.refresh }, headers });
      assert.equal(fromBody.status, 401);
      assert.equal(fromBody.headers.getSetCookie().length, 0);
    });

    test("a password change moves the CSRF epoch: the old tokens are refused, the new one passes", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const changed = await server.api.request("POST", "/password", {
        body: { current_password: PASSWORD, new_password: "another long passphrase 42" },
        headers: pageHeaders(origin, session, { "tokenver-mode": "cookie" }),
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.equal(changed.body.token_type, "cookie");
      const next = sessionOf(changed);
      const patch = (access: string, csrf: string) =>
        server.api.request("PATCH", "/profile", { body: { username: "p" }, headers: pageHeaders(origin, { access, csrf }) });
      assertProblem(await patch(next.access, session.csrf), 403, "csrf_failed", "a token of the old epoch");
      assert.equal((await patch(next.access, next.csrf)).status, 200);
    });

    test("POST /logout expires the three cookies: on 204, and on 401", async () => {
      const session = await registerInCookieMode(server.api, origin);
      const out = await server.api.request("POST", "/logout", { headers: pageHeaders(origin, session) });
      assert.equal(out.status, 204);
      const assertExpired = (response: typeof out, what: string) => {
        const cookies = setCookies(response);
        assert.deepEqual([...cookies.keys()].sort(), [ACCESS, CSRF, REFRESH].sort(), what);
        for (const cookie of cookies.values()) {
          assert.equal(cookie.value, "", `${what}: ${cookie.name} emptied`);
          assert.equal(cookie.attributes["max-age"], "0", `${what}: ${cookie.name} Max-Age=0`);
          assert.equal(cookie.attributes["secure"], "", `${what}: ${cookie.name} Secure`);
        }
        assert.equal(cookies.get(REFRESH)!.attributes["path"], "/base/token/refresh");
        assert.equal(cookies.get(ACCESS)!.attributes["path"], "/");
      };
      assertExpired(out, "204");
      const again = await server.api.request("POST", "/logout", { headers: pageHeaders(origin, session) });
      assertProblem(again, 401, "token_revoked", "logout with a revoked cookie");
      assertExpired(again, "401 token_revoked");
      const bare = await server.api.request("POST", "/logout");
      assertProblem(bare, 401, "token_missing", "logout with nothing");
      assertExpired(bare, "401 token_missing");
    });

    test("CORS: preflight for an allowed origin; nothing for another; no wildcard", async () => {
      const preflight = await server.api.request("OPTIONS", "/logout", {
        headers: { origin: OTHER, "access-control-request-method": "POST", "access-control-request-headers": "content-type, x-csrf-token" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), OTHER);
      assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");
      const allowed = (preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/\s*,\s*/);
      for (const header of ["authorization", "content-type", "tokenver-mode", "x-csrf-token"]) assert.ok(allowed.includes(header), header);
      assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.match(preflight.headers.get("vary") ?? "", /Origin/i);
      const foreign = await server.api.request("OPTIONS", "/logout", {
        headers: { origin: FOREIGN, "access-control-request-method": "POST" },
      });
      assert.equal(foreign.headers.get("access-control-allow-origin"), null);
      const simple = await server.api.request("GET", "/health", { headers: { origin: OTHER } });
      assert.equal(simple.headers.get("access-control-allow-origin"), OTHER);
      assert.match(simple.headers.get("vary") ?? "", /Origin/i);
      const denied = await server.api.request("GET", "/profile", { headers: { origin: OTHER } });
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get("access-control-allow-origin"), OTHER, "a 401 is readable by an allowed page");
    });
  });
}
