import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { claimsOf, startServer, uniqueEmail, type ApiResponse, type TestServer } from "./support/server.js";
import { USER_KEYS } from "./support/user-keys.js";

const PAIR_KEYS = ["access", "expires_in", "refresh", "token_type"];
const AUTH_RESULT_KEYS = [...PAIR_KEYS, "user"].sort();
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const REALM_CHALLENGE = /^Bearer realm="tokenver"(, error="invalid_token", error_description="[^"\\]*")?$/;

function assertUser(user: Record<string, unknown>, expected: { email?: string; id?: string; token_version?: number } = {}): void {
  assert.deepEqual(Object.keys(user).sort(), USER_KEYS, JSON.stringify(user));
  assert.equal(typeof user.id, "string");
  assert.equal(typeof user.email, "string");
  assert.ok(user.username === null || typeof user.username === "string");
  assert.ok(Number.isInteger(user.token_version));
  assert.match(user.created_at as string, ISO_8601);
  assert.ok(!Number.isNaN(Date.parse(user.created_at as string)));
  for (const [key, value] of Object.entries(expected)) assert.equal(user[key], value, key);
}

/** Token-bearing responses must not be cached by the client or any intermediary. */
function assertNoStore(response: ApiResponse): void {
  assert.match(response.headers.get("cache-control") ?? "", /\bno-store\b/);
  assert.equal(response.headers.get("pragma"), "no-cache");
}

function assertTokenPair(body: Record<string, unknown>, keys: string[]): void {
  assert.deepEqual(Object.keys(body).sort(), keys);
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 900);
  assertAccessToken(body.access as string);
  assertOpaqueRefresh(body.refresh as string);
}

function assertAccessToken(token: string): void {
  const parts = token.split(".");
  assert.equal(parts.length, 3);
  const header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8"));
  // docs/api.md section 7: every token names its key.
  const { kid, ...rest } = header;
  assert.ok(typeof kid === "string" && kid.length > 0, "kid");
  assert.deepEqual(rest, { alg: "HS256", typ: "at+jwt" });
  const claims = claimsOf(token);
  for (const claim of ["iss", "sub", "sid", "token_version", "jti", "iat", "exp"]) assert.ok(claim in claims, `claim ${claim}`);
  assert.equal(claims.iss, "tokenver");
  for (const claim of ["sub", "sid", "jti"]) assert.ok(typeof claims[claim] === "string" && claims[claim].length > 0, claim);
  for (const claim of ["token_version", "iat", "exp"]) assert.ok(Number.isInteger(claims[claim]), claim);
  assert.equal(claims.exp - claims.iat, 900);
}

/** Opaque: not a JWT, and at least 128 bits of base64url-encoded randomness. */
function assertOpaqueRefresh(token: string): void {
  assert.equal(typeof token, "string");
  assert.match(token, /^[A-Za-z0-9._~-]+$/);
  const randomChars = token.replace(/[^A-Za-z0-9_-]/g, "").length;
  assert.ok(randomChars * 6 >= 128, `only ${randomChars * 6} bits`);
  const looksLikeJwt =
    token.split(".").length === 3 &&
    (() => {
      try {
        return typeof JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString("utf8")) === "object";
      } catch {
        return false;
      }
    })();
  assert.ok(!looksLikeJwt, "the refresh token is opaque, not a JWT");
}

for (const dialect of dialects()) {
  describe(`HTTP contract (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      // Reuse detection without the refresh grace of docs/api.md section 6 (a used token presented at once
      // is reuse here); the grace itself is tested in test/browser/refresh-grace.test.ts.
      server = await startServer({ dialect, refreshGrace: 0, rateLimit: { accountFailures: 1000, addressFailures: 1000 } });
    });
    after(() => server.close());

    test("every path works with and without a trailing slash", async () => {
      const { api } = server;
      for (const slash of ["", "/"]) {
        const email = uniqueEmail();
        const password = "a long and unguessable passphrase";
        const registered = await api.post(`/register${slash}`, { email, password });
        assert.equal(registered.status, 201, `/register${slash}: ${registered.text}`);
        const login = await api.post(`/login${slash}`, { email, password });
        assert.equal(login.status, 200, `/login${slash}`);
        const refreshed = await api.post(`/token/refresh${slash}`, { refresh: login.body.refresh });
        assert.equal(refreshed.status, 200, `/token/refresh${slash}`);
        const token = refreshed.body.access as string;
        assert.equal((await api.get(`/profile${slash}`, token)).status, 200, `GET /profile${slash}`);
        assert.equal(
          (await api.request("PATCH", `/profile${slash}`, { token, body: { username: "slash" } })).status,
          200,
          `PATCH /profile${slash}`,
        );
        const sessions = await api.get(`/sessions${slash}`, token);
        assert.equal(sessions.status, 200, `/sessions${slash}`);
        const other = sessions.body.sessions.find((s: { current: boolean }) => !s.current);
        assert.equal((await api.request("DELETE", `/sessions/${other.id}${slash}`, { token })).status, 204, `DELETE /sessions/:id${slash}`);
        const changed = await api.post(
          `/password${slash}`,
          { current_password: password, new_password: "a different long passphrase" },
          token,
        );
        assert.equal(changed.status, 200, `/password${slash}: ${changed.text}`);
        assert.equal((await api.post(`/logout${slash}`, {}, changed.body.access)).status, 204, `/logout${slash}`);
        assert.equal((await api.get(`/health${slash}`)).status, 200, `/health${slash}`);
        assert.equal((await api.get(`/openapi.json${slash}`)).status, 200, `/openapi.json${slash}`);
      }
    });

    test("token responses carry Cache-Control: no-store and Pragma: no-cache", async () => {
      const { api } = server;
      const email = uniqueEmail();
      const password = "a long and unguessable passphrase";
      const registered = await api.post("/register", { email, password });
      assertNoStore(registered);
      const login = await api.post("/login", { email, password });
      assertNoStore(login);
      const refreshed = await api.post("/token/refresh", { refresh: login.body.refresh });
      assertNoStore(refreshed);
      const changed = await api.post(
        "/password",
        { current_password: password, new_password: "another long passphrase" },
        refreshed.body.access,
      );
      assert.equal(changed.status, 200);
      assertNoStore(changed);
      // Personal data is not cached either.
      assertNoStore(await api.get("/profile", changed.body.access));
    });

    test("unknown routes and methods are a 404 not_found problem, with or without a token", async () => {
      const { api } = server;
      const user = await api.register();
      const cases: Array<[string, string]> = [
        ["GET", "/nope"],
        ["POST", "/admin"],
        ["GET", "/profile/extra"],
        ["GET", "/token"],
        ["DELETE", "/sessions"],
        ["PUT", "/login"],
        ["GET", "/../etc/passwd"],
      ];
      for (const [method, path] of cases) {
        for (const token of [undefined, user.access]) {
          const response = await api.request(method, path, token === undefined ? {} : { token });
          assert.equal(response.status, 404, `${method} ${path}: ${response.text}`);
          assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
          assert.equal(response.body.code, "not_found");
          assert.equal(response.body.status, 404);
        }
      }
    });

    test("a malformed percent-encoded path is a problem, not Fastify's own error body", async () => {
      const user = await server.api.register();
      for (const path of ["/sessions/%E2%82", "/profile%", "/%zz"]) {
        const response = await server.api.request("GET", path, { token: user.access });
        assert.ok([400, 404].includes(response.status), `${path}: ${response.status}`);
        assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/, `${path}: ${response.text}`);
        assert.ok(["bad_request", "not_found"].includes(response.body?.code), response.text);
        assert.doesNotMatch(response.text, /FST_ERR/);
      }
    });

    test('every 401 carries WWW-Authenticate with realm="tokenver"', async () => {
      const { api } = server;
      const user = await api.register();
      const reused = await api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(reused.status, 200);
      const unauthorized: ApiResponse[] = [
        await api.get("/profile"),
        await api.get("/profile", "not-a-token"),
        await api.get("/sessions"),
        await api.post("/logout"),
        await api.post("/password", { current_password: "x", new_password: "y" }),
        await api.request("PATCH", "/profile", { body: { username: "x" } }),
        await api.request("DELETE", "/sessions/abc"),
        await api.post("/login", { email: user.email, password: "wrong password here" }),
        await api.post("/login", { email: uniqueEmail(), password: "wrong password here" }),
        await api.post("/token/refresh", { refresh: "garbage" }),
        await api.post("/token/refresh", { refresh: user.refresh }), // reused
      ];
      for (const response of unauthorized) {
        assert.equal(response.status, 401, response.text);
        assert.match(response.headers.get("www-authenticate") ?? "", REALM_CHALLENGE, response.text);
      }
      // The reuse really was a reuse (so the last case is the refresh_reused path).
      assert.equal(unauthorized.at(-1)!.body.code, "refresh_reused");
    });

    test("wrong email and wrong password give the identical 401 invalid_credentials", async () => {
      const { api } = server;
      const user = await api.register();
      const wrongPassword = await api.post("/login", { email: user.email, password: "not the right passphrase" });
      const wrongEmail = await api.post("/login", { email: uniqueEmail(), password: user.password });
      assert.equal(wrongPassword.status, 401);
      assert.equal(wrongPassword.body.code, "invalid_credentials");
      assert.equal(wrongEmail.status, wrongPassword.status);
      assert.equal(wrongEmail.text, wrongPassword.text);
      assert.equal(wrongEmail.headers.get("www-authenticate"), wrongPassword.headers.get("www-authenticate"));
      assert.equal(wrongEmail.headers.get("content-type"), wrongPassword.headers.get("content-type"));
    });

    test('GET /health is 200 {status: "ok"} without a token', async () => {
      const response = await server.api.get("/health");
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, { status: "ok" });
    });

    test("register, login, refresh and password responses have exactly the contract's shape", async () => {
      const { api } = server;
      const email = uniqueEmail();
      const password = "a long and unguessable passphrase";
      const registered = await api.post("/register", { email: `  ${email.toUpperCase()} `, password, username: "shape" });
      assert.equal(registered.status, 201);
      assert.match(registered.headers.get("content-type") ?? "", /^application\/json/);
      assertTokenPair(registered.body, AUTH_RESULT_KEYS);
      assertUser(registered.body.user, { email, token_version: 0 });
      assert.equal(registered.body.user.username, "shape");
      assert.equal(claimsOf(registered.body.access).sub, registered.body.user.id);
      assert.equal(claimsOf(registered.body.access).token_version, 0);

      const login = await api.post("/login", { email, password });
      assert.equal(login.status, 200);
      assertTokenPair(login.body, AUTH_RESULT_KEYS);
      assertUser(login.body.user, { email, id: registered.body.user.id, token_version: 0 });
      assert.notEqual(claimsOf(login.body.access).sid, claimsOf(registered.body.access).sid, "a login is a new session");

      const refreshed = await api.post("/token/refresh", { refresh: login.body.refresh });
      assert.equal(refreshed.status, 200);
      assertTokenPair(refreshed.body, PAIR_KEYS);
      assert.equal(claimsOf(refreshed.body.access).sid, claimsOf(login.body.access).sid, "the session is kept across refreshes");
      assert.notEqual(refreshed.body.refresh, login.body.refresh);
      assert.notEqual(claimsOf(refreshed.body.access).jti, claimsOf(login.body.access).jti);

      const changed = await api.post(
        "/password",
        { current_password: password, new_password: "another long passphrase" },
        refreshed.body.access,
      );
      assert.equal(changed.status, 200);
      assertTokenPair(changed.body, PAIR_KEYS);
      assert.equal(claimsOf(changed.body.access).token_version, 1);

      const profile = await api.get("/profile", changed.body.access);
      assertUser(profile.body, { email, id: registered.body.user.id, token_version: 1 });
      const patched = await api.request("PATCH", "/profile", { token: changed.body.access, body: { username: null } });
      assert.equal(patched.status, 200);
      assertUser(patched.body, { id: registered.body.user.id, token_version: 1 });
      assert.equal(patched.body.username, null);
    });

    test("no response contains a password hash or secret", async () => {
      const { api } = server;
      const user = await api.register();
      const responses = [
        await api.post("/login", { email: user.email, password: user.password }),
        await api.get("/profile", user.access),
        await api.get("/sessions", user.access),
        await api.get("/openapi.json"),
      ];
      for (const response of responses) {
        assert.equal(response.status, 200);
        assert.doesNotMatch(response.text, /\$argon2|password_hash|signing_secret/);
        assert.ok(!response.text.includes(user.password));
      }
    });

    test("refresh tokens are unique and opaque; jti is unique per access token", async () => {
      const { api } = server;
      const user = await api.register();
      const refreshTokens = new Set<string>([user.refresh]);
      const jtis = new Set<string>([claimsOf(user.access).jti]);
      for (let i = 0; i < 5; i++) {
        const login = await api.login(user.email, user.password);
        assertOpaqueRefresh(login.refresh);
        refreshTokens.add(login.refresh);
        jtis.add(claimsOf(login.access).jti);
      }
      assert.equal(refreshTokens.size, 6);
      assert.equal(jtis.size, 6);
    });
  });
}
