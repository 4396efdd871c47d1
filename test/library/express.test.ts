import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import { Type } from "typebox";
import { AuthError, createAuth, type Auth, type Principal } from "../../src/index.js";
import { problemHandler, tokenver } from "../../src/http/express/guard.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { PASSWORD, listenExpress } from "./helpers.js";

const userFields = { company: Type.String({ minLength: 1 }), seats: Type.Optional(Type.Integer({ minimum: 1 })) };

function userApp(auth: Auth<typeof userFields>) {
  const app = express();
  const guard = tokenver({ auth, routes: { prefix: "/auth" } });
  guard.public.get("/open", (req, res) => {
    res.json({ open: true, user: req.user ?? null });
  });
  app.use(guard);
  app.get("/new-route", (req, res) => {
    res.json({ user: req.user });
  });
  const nested = express.Router();
  nested.get("/deep", (_req, res) => {
    res.json({ deep: true });
  });
  app.use("/nested", nested);
  app.get("/fails", () => {
    throw new Error("boom: SELECT secret FROM users");
  });
  app.get("/not-yours", () => {
    throw new AuthError("not_found", "No such note.");
  });
  app.use(problemHandler);
  return app;
}

describe("tokenver/express in an application", () => {
  let auth: Auth<typeof userFields>;
  let url: string;
  let close: () => Promise<void>;
  let api: Api;
  let root: Api;

  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, userFields });
    ({ url, close } = await listenExpress(userApp(auth)));
    api = new Api(`${url}/auth`);
    root = new Api(url);
  });
  after(async () => {
    await close();
    await auth.close();
  });

  const register = (extra: Record<string, unknown> = { company: "Acme" }) => api.register(uniqueEmail(), PASSWORD, extra);

  test("default deny: a new route without marking is 401 token_missing, problem+json", async () => {
    for (const path of ["/new-route", "/nested/deep", "/no-such-path"]) {
      const response = await root.get(path);
      assert.equal(response.status, 401, path);
      assert.equal(response.body.code, "token_missing");
      assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="tokenver"');
    }
  });

  test("a bad token is 401 token_invalid with error=invalid_token", async () => {
    const response = await root.get("/new-route", "a.b.c");
    assert.equal(response.status, 401);
    assert.equal(response.body.code, "token_invalid");
    assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  });

  test("req.user is the principal of the token, on routes and nested routers", async () => {
    const user = await register();
    const response = await root.get("/new-route", user.access);
    assert.equal(response.status, 200);
    const principal = response.body.user as Principal;
    assert.equal(principal.userId, user.user.id);
    assert.equal(principal.tokenVersion, 0);
    assert.equal(principal.claims.sid, principal.sessionId);
    assert.equal((await root.get("/nested/deep", user.access)).status, 200);
  });

  test("routes on guard.public need no token and carry no principal", async () => {
    const response = await root.get("/open");
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { open: true, user: null });
  });

  test("problemHandler renders the app's errors as problem+json without internals", async () => {
    const user = await register();
    const boom = await root.get("/fails", user.access);
    assert.equal(boom.status, 500);
    assert.equal(boom.body.code, "internal_error");
    assert.doesNotMatch(boom.text, /SELECT|boom|at /);
    const missing = await root.get("/not-yours", user.access);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "not_found");
  });

  test("endpoints are mounted under the prefix only, with and without a trailing slash", async () => {
    assert.equal((await root.post("/register", { email: uniqueEmail(), password: PASSWORD, company: "Acme" })).status, 401);
    const user = await register();
    const profile = await api.get("/profile/", user.access);
    assert.equal(profile.status, 200);
    assert.equal(profile.body.company, "Acme");
    assert.equal(profile.headers.get("cache-control"), "no-store");
    assert.equal(profile.headers.get("pragma"), "no-cache");
    const health = await api.get("/health");
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: "ok" });
  });

  test("the endpoint set: refresh rotates, reuse is refresh_reused, sessions list and delete", async () => {
    const user = await register();
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
    assert.equal((await api.request("DELETE", `/sessions/${current.id}`, { token: second.access })).status, 204);
    assert.equal((await root.get("/new-route", second.access)).body.code, "token_revoked");
    assert.equal((await api.request("DELETE", "/sessions/unknown", { token: user.access })).status, 401, "the first session died on reuse");
  });

  test("password change: wrong current is 403, success kills every other token", async () => {
    const phone = await register();
    const laptop = await api.login(phone.email, phone.password);
    const wrong = await api.post(
      "/password",
      { current_password: "not the password", new_password: "another long passphrase" },
      phone.access,
    );
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.code, "invalid_credentials");
    const changed = await api.post("/password", { current_password: PASSWORD, new_password: "another long passphrase" }, phone.access);
    assert.equal(changed.status, 200);
    assert.equal((await root.get("/new-route", laptop.access)).body.code, "token_revoked");
    assert.equal((await root.get("/new-route", changed.body.access)).status, 200);
  });

  test("logout on one device revokes every device's token on the app's routes", async () => {
    const phone = await register();
    const laptop = await api.login(phone.email, phone.password);
    assert.equal((await root.get("/new-route", laptop.access)).status, 200);
    assert.equal((await api.post("/logout", undefined, phone.access)).status, 204);
    for (const token of [phone.access, laptop.access]) {
      const response = await root.get("/new-route", token);
      assert.equal(response.status, 401);
      assert.equal(response.body.code, "token_revoked");
    }
  });

  test("logout with scope session leaves the other device alive", async () => {
    const phone = await register();
    const laptop = await api.login(phone.email, phone.password);
    assert.equal((await api.post("/logout", { scope: "session" }, phone.access)).status, 204);
    assert.equal((await root.get("/new-route", phone.access)).body.code, "token_revoked");
    assert.equal((await root.get("/new-route", laptop.access)).status, 200);
    const badScope = await api.post("/logout", { scope: "everything" }, laptop.access);
    assert.equal(badScope.status, 400);
    assert.equal(badScope.body.code, "validation_failed");
  });

  describe("custom user fields", () => {
    test("are stored, returned in user and loaded typed by auth.getUser", async () => {
      const user = await register({ company: "Acme", seats: 3 });
      assert.equal((user.user as Record<string, unknown>).company, "Acme");
      const loaded = await auth.getUser(await auth.verify(`Bearer ${user.access}`));
      assert.equal(loaded.company, "Acme");
      assert.equal(loaded.seats, 3);
    });

    test("a wrong type is 400 validation_failed (no coercion)", async () => {
      for (const body of [
        { email: uniqueEmail(), password: PASSWORD, company: 5 },
        { email: uniqueEmail(), password: PASSWORD, company: ["Acme"] },
        { email: uniqueEmail(), password: PASSWORD, company: "Acme", seats: "3" },
        { email: 123, password: PASSWORD, company: "Acme" },
        { email: uniqueEmail(), password: PASSWORD, company: "Acme", username: 7 },
      ]) {
        const response = await api.post("/register", body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.body.code, "validation_failed");
      }
      for (const body of [{ email: 1, password: PASSWORD }, { email: "a@example.com" }, [1, 2]]) {
        const login = await api.post("/login", body);
        assert.equal(login.status, 400, JSON.stringify(body));
        assert.equal(login.body.code, "validation_failed");
      }
      const refresh = await api.post("/token/refresh", { refresh: 5 });
      assert.equal(refresh.status, 400);
      assert.equal(refresh.body.code, "validation_failed");
    });

    test("a missing required field is 400 naming the field", async () => {
      const response = await api.post("/register", { email: uniqueEmail(), password: PASSWORD });
      assert.equal(response.status, 400);
      assert.deepEqual(
        response.body.errors.map((e: { field: string }) => e.field),
        ["company"],
      );
    });

    test("unknown and protected fields are ignored", async () => {
      const user = await register({ company: "Acme", plan: "gold", token_version: 7, id: "mine" });
      assert.equal((user.user as Record<string, unknown>).plan, undefined);
      assert.equal(user.user.token_version, 0);
      assert.notEqual(user.user.id, "mine");
    });

    test("PATCH /profile validates and stores them", async () => {
      const user = await register();
      const bad = await api.request("PATCH", "/profile", { token: user.access, body: { company: 42 } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, "validation_failed");
      const good = await api.request("PATCH", "/profile", { token: user.access, body: { seats: 9, plan: "gold", username: "ann" } });
      assert.equal(good.status, 200);
      assert.equal(good.body.seats, 9);
      assert.equal(good.body.company, "Acme");
      assert.equal(good.body.username, "ann");
      assert.equal(good.body.plan, undefined);
    });
  });

  test("endpoints accept JSON only, up to 64 KiB; broken JSON is 400, never 500", async () => {
    const text = await api.request("POST", "/login", { raw: "email=a", headers: { "content-type": "text/plain" } });
    assert.equal(text.status, 415);
    assert.equal(text.body.code, "unsupported_media_type");
    const untyped = await api.request("POST", "/login", { raw: "{}" });
    assert.equal(untyped.status, 415);
    const compressed = await api.request("POST", "/login", {
      raw: "{}",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
    assert.equal(compressed.status, 415);
    assert.equal(compressed.body.code, "unsupported_media_type");
    const big = await api.request("POST", "/login", { body: { email: "a@example.com", password: "x".repeat(70 * 1024) } });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, "payload_too_large");
    for (const raw of ["{", '"just a string"', "nul"]) {
      const broken = await api.request("POST", "/login", { raw, headers: { "content-type": "application/json" } });
      assert.equal(broken.status, 400, raw);
      assert.equal(broken.body.code, "bad_request");
    }
    const user = await register();
    const empty = await api.request("POST", "/logout", { token: user.access });
    assert.equal(empty.status, 204);
  });

  test("wrong credentials are 401 invalid_credentials", async () => {
    const user = await register();
    const response = await api.post("/login", { email: user.email, password: "not the password at all" });
    assert.equal(response.status, 401);
    assert.equal(response.body.code, "invalid_credentials");
  });
});

describe("tokenver/express options", () => {
  let auth: Auth;
  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
  });
  after(() => auth.close());

  test("routes: false mounts no endpoint and still protects every route", async () => {
    const app = express();
    app.use(tokenver({ auth, routes: false }));
    app.get("/mine", (req, res) => {
      res.json({ userId: req.user.userId });
    });
    const { url, close } = await listenExpress(app);
    try {
      const client = new Api(url);
      assert.equal((await client.post("/register", { email: uniqueEmail(), password: PASSWORD })).body.code, "token_missing");
      const issued = await auth.register({ email: uniqueEmail(), password: PASSWORD });
      const mine = await client.get("/mine", issued.access);
      assert.equal(mine.status, 200);
      assert.equal(mine.body.userId, issued.user.id);
      // Not mounted: with a token, /register falls through to the app's 404.
      assert.equal((await client.post("/register", { email: uniqueEmail(), password: PASSWORD }, issued.access)).status, 404);
    } finally {
      await close();
    }
  });

  test("a guard mounted on a path protects that path only", async () => {
    const app = express();
    app.get("/landing", (_req, res) => {
      res.send("landing");
    });
    const guard = tokenver({ auth });
    app.use("/api", guard);
    app.get("/api/private", (_req, res) => {
      res.send("private");
    });
    const { url, close } = await listenExpress(app);
    try {
      const client = new Api(url);
      assert.equal((await client.get("/landing")).status, 200);
      assert.equal((await client.get("/api/private")).status, 401);
      const user = await new Api(`${url}/api`).register(uniqueEmail(), PASSWORD);
      assert.equal((await client.get("/api/private", user.access)).status, 200);
    } finally {
      await close();
    }
  });

  test("bad options throw a TypeError at once", () => {
    const cases: Array<[string, unknown]> = [
      ["nothing", undefined],
      ["no auth", {}],
      ["auth is not a service", { auth: { verify: "no" } }],
      ["routes not boolean or object", { auth, routes: "yes" }],
      ["prefix without slash", { auth, routes: { prefix: "auth" } }],
      ["typo in routes", { auth, routes: { perfix: "/auth" } }],
      ["unknown option", { auth, public: ["/health"] }],
    ];
    for (const [name, options] of cases) {
      assert.throws(
        () => tokenver(options as never),
        (error: unknown) => error instanceof TypeError && error.message.startsWith("tokenver: "),
        name,
      );
    }
  });
});
