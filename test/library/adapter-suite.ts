import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Type } from "typebox";
import { createAuth, type Auth, type Principal } from "../../src/index.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { PASSWORD } from "./helpers.js";

export const userFields = { company: Type.String({ minLength: 1 }), seats: Type.Optional(Type.Integer({ minimum: 1 })) };
export type AppAuth = Auth<typeof userFields>;

/** What the adapter tests share: the service, the endpoints under `/auth`, the app's root. */
export interface AppContext {
  auth: AppAuth;
  /** The endpoints, mounted under /auth. */
  api: Api;
  /** The application: `/new-route` answers `{ user }` and needs a token; `/open` is public and answers `{ open: true, user }` with the status and code of the error that reading its user threw. */
  root: Api;
  register(extra?: Record<string, unknown>): ReturnType<Api["register"]>;
}

export interface AdapterSuite {
  /** Builds the application around the adapter, listening on a loopback port. */
  start(auth: AppAuth): Promise<{ url: string; close(): Promise<void> }>;
  /** Routes of the app that are protected without being marked (the first is `/new-route`). */
  protectedPaths: string[];
  /** What `POST /register` at the root (outside the prefix) answers without a token. */
  unmountedStatus: number;
  /** The adapter's own tests, in the same describe block. */
  own?(context: AppContext): void;
}

/**
 * The behaviour both adapters (tokenver/fastify, tokenver/express) must share in an application
 * of their own: default deny, the principal, public routes, and the endpoints of the table
 * (endpoints.ts) mounted under a prefix with the server's validation and limits.
 */
export function describeAdapter(name: string, suite: AdapterSuite): void {
  describe(`${name} in an application`, () => {
    const context = {} as AppContext;
    let close: () => Promise<void>;

    before(async () => {
      // Reuse detection without the refresh grace of docs/api.md section 6 (a used token presented at once
      // is reuse here); the grace itself is tested in test/browser/refresh-grace.test.ts.
      context.auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, userFields, refreshGrace: 0 });
      const started = await suite.start(context.auth);
      close = started.close;
      context.api = new Api(`${started.url}/auth`);
      context.root = new Api(started.url);
      context.register = (extra = { company: "Acme" }) => context.api.register(uniqueEmail(), PASSWORD, extra);
    });
    after(async () => {
      await close();
      await context.auth.close();
    });

    test("default deny: a route without marking is 401 token_missing, problem+json", async () => {
      for (const path of suite.protectedPaths) {
        const response = await context.root.get(path);
        assert.equal(response.status, 401, path);
        assert.equal(response.body.code, "token_missing");
        assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
        assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="tokenver"');
      }
    });

    test("a bad token is 401 token_invalid with error=invalid_token", async () => {
      for (const token of ["not-a-jwt", "a.b.c"]) {
        const response = await context.root.get("/new-route", token);
        assert.equal(response.status, 401);
        assert.equal(response.body.code, "token_invalid");
        assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
      }
    });

    test("the request's user is the principal of the token, on every protected route", async () => {
      const user = await context.register();
      const response = await context.root.get("/new-route", user.access);
      assert.equal(response.status, 200);
      const principal = response.body.user as Principal;
      assert.equal(principal.userId, user.user.id);
      assert.equal(principal.tokenVersion, 0);
      assert.equal(typeof principal.sessionId, "string");
      assert.equal(principal.claims.sub, user.user.id);
      assert.equal(principal.claims.sid, principal.sessionId);
      for (const path of suite.protectedPaths.filter((p) => p !== "/no-such-path")) {
        assert.equal((await context.root.get(path, user.access)).status, 200, path);
      }
    });

    test("a public route needs no token, verifies none, and reading its user throws a 401 token_missing", async () => {
      // /open answers the code of the AuthError that reading the request's user threw.
      const response = await context.root.get("/open");
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, { open: true, user: { status: 401, code: "token_missing" } });
      // A token sent to a public route is not verified: there is still no principal.
      const user = await context.register();
      assert.deepEqual((await context.root.get("/open", user.access)).body.user, { status: 401, code: "token_missing" });
    });

    test("endpoints are mounted under the prefix only, never cached", async () => {
      const outside = await context.root.post("/register", { email: uniqueEmail(), password: PASSWORD, company: "Acme" });
      assert.equal(outside.status, suite.unmountedStatus);
      const user = await context.register();
      const profile = await context.api.get("/profile", user.access);
      assert.equal(profile.status, 200);
      assert.equal(profile.body.company, "Acme");
      assert.equal(profile.headers.get("cache-control"), "no-store");
      assert.equal(profile.headers.get("pragma"), "no-cache");
      const health = await context.api.get("/health");
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: "ok" });
    });

    test("logout through the mounted endpoint revokes every device's token on the app's routes", async () => {
      const phone = await context.register();
      const laptop = await context.api.login(phone.email, phone.password);
      assert.equal((await context.root.get("/new-route", laptop.access)).status, 200);
      assert.equal((await context.api.post("/logout", undefined, phone.access)).status, 204);
      for (const token of [phone.access, laptop.access]) {
        const response = await context.root.get("/new-route", token);
        assert.equal(response.status, 401);
        assert.equal(response.body.code, "token_revoked");
      }
    });

    test("the endpoint set: refresh rotates, reuse is refresh_reused, sessions list and delete", async () => {
      const { api, root } = context;
      const user = await context.register();
      const refreshed = await api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(refreshed.status, 200);
      assert.equal(refreshed.body.token_type, "Bearer");
      const reused = await api.post("/token/refresh", { refresh: user.refresh });
      assert.equal(reused.status, 401);
      assert.equal(reused.body.code, "refresh_reused");
      const second = await api.login(user.email, user.password);
      const sessions = await api.get("/sessions", second.access);
      assert.equal(sessions.status, 200);
      const current = sessions.body.sessions.find((s: { current: boolean }) => s.current);
      assert.ok(current);
      assert.deepEqual(Object.keys(current).sort(), ["created_at", "current", "id", "last_used_at", "user_agent"]);
      assert.equal((await api.request("DELETE", `/sessions/${current.id}`, { token: second.access })).status, 204);
      assert.equal((await root.get("/new-route", second.access)).body.code, "token_revoked");
      assert.equal(
        (await api.request("DELETE", "/sessions/unknown", { token: user.access })).status,
        401,
        "the first session died on reuse",
      );
    });

    test("password change: wrong current is 403, a bad new one names new_password, success kills every other token", async () => {
      const { api, root } = context;
      const phone = await context.register();
      const laptop = await api.login(phone.email, phone.password);
      const wrong = await api.post(
        "/password",
        { current_password: "not the password", new_password: "another long passphrase" },
        phone.access,
      );
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.code, "invalid_credentials");
      const weak = await api.post("/password", { current_password: PASSWORD, new_password: "short" }, phone.access);
      assert.equal(weak.status, 400);
      assert.deepEqual(
        weak.body.errors.map((e: { field: string }) => e.field),
        ["new_password"],
      );
      const changed = await api.post("/password", { current_password: PASSWORD, new_password: "another long passphrase" }, phone.access);
      assert.equal(changed.status, 200);
      assert.deepEqual(Object.keys(changed.body).sort(), ["access", "expires_in", "refresh", "token_type"]);
      assert.equal((await root.get("/new-route", laptop.access)).body.code, "token_revoked");
      assert.equal((await root.get("/new-route", changed.body.access)).status, 200);
    });

    test("logout with scope session leaves the other device alive; a bad scope is 400", async () => {
      const { api, root } = context;
      const phone = await context.register();
      const laptop = await api.login(phone.email, phone.password);
      assert.equal((await api.post("/logout", { scope: "session", refresh: phone.refresh }, phone.access)).status, 204);
      assert.equal((await root.get("/new-route", phone.access)).body.code, "token_revoked");
      assert.equal((await root.get("/new-route", laptop.access)).status, 200);
      const badScope = await api.post("/logout", { scope: "everything" }, laptop.access);
      assert.equal(badScope.status, 400);
      assert.equal(badScope.body.code, "validation_failed");
    });

    describe("custom user fields", () => {
      test("are stored, returned in user and loaded typed by auth.getUser", async () => {
        const user = await context.register({ company: "Acme", seats: 3 });
        assert.equal((user.user as Record<string, unknown>).company, "Acme");
        const loaded = await context.auth.getUser(await context.auth.verify(`Bearer ${user.access}`));
        assert.equal(loaded.company, "Acme");
        assert.equal(loaded.seats, 3);
        assert.equal(loaded.tokenVersion, 0);
      });

      test("a wrong type is 400 validation_failed, never coerced", async () => {
        for (const body of [
          { email: uniqueEmail(), password: PASSWORD, company: 5 },
          { email: uniqueEmail(), password: PASSWORD, company: ["Acme"] },
          { email: uniqueEmail(), password: PASSWORD, company: "Acme", seats: "3" },
          { email: 123, password: PASSWORD, company: "Acme" },
          { email: uniqueEmail(), password: PASSWORD, company: "Acme", username: 7 },
        ]) {
          const response = await context.api.post("/register", body);
          assert.equal(response.status, 400, JSON.stringify(body));
          assert.equal(response.body.code, "validation_failed");
        }
        for (const body of [{ email: 1, password: PASSWORD }, { email: "a@example.com" }, [1, 2]]) {
          const login = await context.api.post("/login", body);
          assert.equal(login.status, 400, JSON.stringify(body));
          assert.equal(login.body.code, "validation_failed");
        }
        const refresh = await context.api.post("/token/refresh", { refresh: 5 });
        assert.equal(refresh.status, 400);
        assert.equal(refresh.body.code, "validation_failed");
      });

      test("a missing required field is 400 naming the field", async () => {
        const response = await context.api.post("/register", { email: uniqueEmail(), password: PASSWORD });
        assert.equal(response.status, 400);
        assert.equal(response.body.code, "validation_failed");
        assert.deepEqual(
          response.body.errors.map((e: { field: string }) => e.field),
          ["company"],
        );
      });

      test("unknown and protected fields are ignored", async () => {
        const user = await context.register({ company: "Acme", plan: "gold", token_version: 7, tokenVersion: 7, id: "mine" });
        assert.equal((user.user as Record<string, unknown>).plan, undefined);
        assert.equal((user.user as Record<string, unknown>).tokenVersion, undefined);
        assert.equal(user.user.token_version, 0);
        assert.notEqual(user.user.id, "mine");
      });

      test("PATCH /profile validates and stores them", async () => {
        const user = await context.register();
        const bad = await context.api.request("PATCH", "/profile", { token: user.access, body: { company: 42 } });
        assert.equal(bad.status, 400);
        assert.equal(bad.body.code, "validation_failed");
        const patch = { seats: 9, plan: "gold", username: "ann" };
        const good = await context.api.request("PATCH", "/profile", { token: user.access, body: patch });
        assert.equal(good.status, 200);
        assert.equal(good.body.seats, 9);
        assert.equal(good.body.company, "Acme");
        assert.equal(good.body.username, "ann");
        assert.equal(good.body.plan, undefined);
        assert.equal((await context.auth.getUser(await context.auth.verify(`Bearer ${user.access}`))).seats, 9);
      });
    });

    test("endpoints accept JSON only, up to 64 KiB, whatever the app allows", async () => {
      const { api } = context;
      const text = await api.request("POST", "/login", { raw: "email=a", headers: { "content-type": "text/plain" } });
      assert.equal(text.status, 415);
      assert.equal(text.body.code, "unsupported_media_type");
      const compressed = await api.request("POST", "/login", {
        raw: "{}",
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
      assert.equal(compressed.status, 415);
      assert.equal(compressed.body.code, "unsupported_media_type");
      const big = await api.request("POST", "/login", { body: { email: "a@example.com", password: "x".repeat(70 * 1024) } });
      assert.equal(big.status, 413);
      assert.equal(big.body.code, "payload_too_large");
      const broken = await api.request("POST", "/login", { raw: "{", headers: { "content-type": "application/json" } });
      assert.equal(broken.status, 400);
      assert.equal(broken.body.code, "bad_request");
      const user = await context.register();
      const empty = await api.request("POST", "/logout", { token: user.access, raw: "", headers: { "content-type": "application/json" } });
      assert.equal(empty.status, 204);
    });

    test("wrong credentials are 401 invalid_credentials", async () => {
      const user = await context.register();
      const response = await context.api.post("/login", { email: user.email, password: "not the password at all" });
      assert.equal(response.status, 401);
      assert.equal(response.body.code, "invalid_credentials");
    });

    suite.own?.(context);
  });
}
