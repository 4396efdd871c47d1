import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dialects } from "./support/databases.js";
import { claimsOf, startServer, uniqueEmail, type TestServer } from "./support/server.js";

const NEW_PASSWORD = "another long and private passphrase";

function assertCode(response: { status: number; body: any }, status: number, code: string, what: string) {
  assert.equal(response.status, status, `${what}: status`);
  assert.equal(response.body?.code, code, `${what}: code`);
}

function assertPolicyRefusal(response: { status: number; body: any }, field: string, what: string) {
  assertCode(response, 400, "validation_failed", what);
  assert.ok(
    Array.isArray(response.body.errors) && response.body.errors.some((e: { field: string }) => e.field === field),
    `${what}: errors[] names ${field}: ${JSON.stringify(response.body.errors)}`,
  );
}

for (const dialect of dialects()) {
  describe(`POST /password (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      // High limits: throttling has its own suite below; here failures must not lock anyone out.
      server = await startServer({ dialect, rateLimit: { accountFailures: 100, addressFailures: 1000 } });
    });
    after(() => server.close());

    test("success: a new pair for this session, version incremented, every other device's tokens dead", async () => {
      const { api } = server;
      const laptop = await api.register();
      const phone = await api.login(laptop.email, laptop.password);
      const tablet = await api.login(laptop.email, laptop.password);

      const changed = await api.post("/password", { current_password: laptop.password, new_password: NEW_PASSWORD }, laptop.access);
      assert.equal(changed.status, 200);
      assert.deepEqual(Object.keys(changed.body).sort(), ["access", "expires_in", "refresh", "token_type"]);
      assert.equal(changed.headers.get("cache-control"), "no-store");
      const claims = claimsOf(changed.body.access);
      assert.equal(claims.token_version, 1, "version incremented");
      assert.equal(claims.sid, claimsOf(laptop.access).sid, "this session continues");

      // This session: the old access token (old version) is refused; the new pair works.
      assertCode(await api.get("/profile", laptop.access), 401, "token_revoked", "same session, old access token");
      const profile = await api.get("/profile", changed.body.access);
      assert.equal(profile.status, 200);
      assert.equal(profile.body.token_version, 1);
      const rotated = await api.post("/token/refresh", { refresh: changed.body.refresh });
      assert.equal(rotated.status, 200, "the new refresh token works");
      assert.equal((await api.get("/profile", rotated.body.access)).status, 200);

      // Every other device: access and refresh tokens dead.
      for (const [name, device] of [
        ["phone", phone],
        ["tablet", tablet],
      ] as const) {
        assertCode(await api.get("/profile", device.access), 401, "token_revoked", `${name} access token`);
        assertCode(await api.post("/token/refresh", { refresh: device.refresh }), 401, "token_revoked", `${name} refresh token`);
      }
      // Only this session is listed.
      const sessions = await api.get("/sessions", rotated.body.access);
      assert.deepEqual(
        sessions.body.sessions.map((s: { id: string }) => s.id),
        [claims.sid],
      );

      // The old password no longer logs in; the new one does, into version 1.
      assertCode(await api.post("/login", { email: laptop.email, password: laptop.password }), 401, "invalid_credentials", "old password");
      const relogin = await api.login(laptop.email, NEW_PASSWORD);
      assert.equal(claimsOf(relogin.access).token_version, 1);
    });

    test("the same session's pre-change refresh token is refused", async () => {
      const { api } = server;
      const user = await api.register();
      const changed = await api.post("/password", { current_password: user.password, new_password: NEW_PASSWORD }, user.access);
      assert.equal(changed.status, 200);
      const stale = await api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(stale.status, 401);
      // The token is gone with the version change; either code says "not usable", neither revokes the session.
      assert.ok(["token_revoked", "token_invalid"].includes(stale.body.code), stale.body.code);
      assert.equal((await api.get("/profile", changed.body.access)).status, 200, "the new pair is not harmed by a stale refresh");
    });

    test("a wrong current password is 403 invalid_credentials and changes nothing", async () => {
      const { api } = server;
      const user = await api.register();
      const other = await api.login(user.email, user.password);
      const wrong = await api.post("/password", { current_password: "not the password at all", new_password: NEW_PASSWORD }, user.access);
      assertCode(wrong, 403, "invalid_credentials", "wrong current password");
      assert.match(wrong.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal((await api.get("/profile", user.access)).body.token_version, 0);
      assert.equal((await api.get("/profile", other.access)).status, 200);
      assert.equal((await api.login(user.email, user.password)).access.length > 0, true, "the password is unchanged");
    });

    test("the new password policy is enforced with errors[].field new_password, and a refusal changes nothing", async () => {
      const { api } = server;
      const user = await api.register();
      const attempt = (new_password: unknown) => api.post("/password", { current_password: user.password, new_password }, user.access);

      assertPolicyRefusal(await attempt("short"), "new_password", "7 characters or fewer");
      assertPolicyRefusal(await attempt("password123"), "new_password", "a common password");
      assertPolicyRefusal(await attempt("PassWord123"), "new_password", "a common password in other case");
      assertPolicyRefusal(await attempt("x".repeat(257)), "new_password", "257 code points");
      assertPolicyRefusal(await attempt(42), "new_password", "not a string");
      assertPolicyRefusal(await api.post("/password", { new_password: NEW_PASSWORD }, user.access), "current_password", "missing current");

      assert.equal((await api.get("/profile", user.access)).body.token_version, 0, "no refusal changed the version");
      await api.login(user.email, user.password);
    });

    test("length counts code points: 8 astral characters pass, 7 do not", async () => {
      const { api } = server;
      const user = await api.register();
      // Each 🦊 is one code point but two UTF-16 units: 7 of them are 14 units and still too short.
      assertPolicyRefusal(
        await api.post("/password", { current_password: user.password, new_password: "🦊".repeat(7) }, user.access),
        "new_password",
        "7 code points",
      );
      const ok = await api.post("/password", { current_password: user.password, new_password: "🦊🐺🦝🐻🐼🐨🐯🦁" }, user.access);
      assert.equal(ok.status, 200);
      // 256 code points (512 UTF-16 units) is the upper bound and is allowed.
      const long = await api.post(
        "/password",
        { current_password: "🦊🐺🦝🐻🐼🐨🐯🦁", new_password: "🦊🐺🦝🐻🐼🐨🐯🦁".repeat(32) },
        ok.body.access,
      );
      assert.equal(long.status, 200);
    });

    test("no composition rules: a long lower-case passphrase is fine", async () => {
      const { api } = server;
      const user = await api.register();
      const changed = await api.post(
        "/password",
        { current_password: user.password, new_password: "correct horse battery staple" },
        user.access,
      );
      assert.equal(changed.status, 200);
    });

    test("register applies the same policy", async () => {
      const { api } = server;
      assertPolicyRefusal(await api.post("/register", { email: uniqueEmail(), password: "short" }), "password", "too short");
      assertPolicyRefusal(await api.post("/register", { email: uniqueEmail(), password: "iloveyou" }), "password", "common");
      assertPolicyRefusal(await api.post("/register", { email: uniqueEmail(), password: "y".repeat(257) }), "password", "too long");
    });

    test("requires a bearer token", async () => {
      assertCode(
        await server.api.post("/password", { current_password: "x", new_password: NEW_PASSWORD }),
        401,
        "token_missing",
        "no token",
      );
    });
  });

  // Wrong current passwords count per session, not per account (docs/api.md sections 3 and 8):
  // test/password-session-throttle.test.ts.
}
