import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { Type } from "typebox";
import { createAuth, OptionError, type Auth, type Principal } from "../../src/index.js";
import tokenver from "../../src/http/fastify/plugin.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { PASSWORD, listenFastify } from "./helpers.js";

const userFields = { company: Type.String({ minLength: 1 }), seats: Type.Optional(Type.Integer({ minimum: 1 })) };

// An application of its own, with Fastify's defaults (Ajv coerces types; no trailing-slash
// folding; 1 MiB bodies) and its own error handler: the plugin must still behave as the server.
async function userApp(auth: Auth<typeof userFields>, routes: { prefix: string } | boolean): Promise<FastifyInstance> {
  const app = Fastify();
  app.setErrorHandler((_error, _request, reply) => reply.code(418).send("the app's own error page"));
  await app.register(tokenver, { auth, routes });
  app.get("/new-route", async (request) => ({ user: request.user }));
  app.get("/open", { config: { public: true } }, async (request) => ({ open: true, user: request.user }));
  app.get("/fails", async () => {
    throw new Error("boom: SELECT secret FROM users");
  });
  return app;
}

describe("tokenver/fastify in an application", () => {
  let auth: Auth<typeof userFields>;
  let url: string;
  let close: () => Promise<void>;
  let api: Api;
  let root: Api;

  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, userFields });
    ({ url, close } = await listenFastify(await userApp(auth, { prefix: "/auth" })));
    api = new Api(`${url}/auth`);
    root = new Api(url);
  });
  after(async () => {
    await close();
    await auth.close();
  });

  const register = (extra: Record<string, unknown> = { company: "Acme" }) => api.register(uniqueEmail(), PASSWORD, extra);

  test("default deny: a new route without public is 401 token_missing, problem+json", async () => {
    const response = await root.get("/new-route");
    assert.equal(response.status, 401);
    assert.equal(response.body.code, "token_missing");
    assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="tokenver"');
  });

  test("a bad token on a new route is 401 token_invalid with error=invalid_token", async () => {
    const response = await root.get("/new-route", "not-a-jwt");
    assert.equal(response.status, 401);
    assert.equal(response.body.code, "token_invalid");
    assert.match(response.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  });

  test("request.user is the principal of the token", async () => {
    const user = await register();
    const response = await root.get("/new-route", user.access);
    assert.equal(response.status, 200);
    const principal = response.body.user as Principal;
    assert.equal(principal.userId, user.user.id);
    assert.equal(principal.tokenVersion, 0);
    assert.equal(typeof principal.sessionId, "string");
    assert.equal(principal.claims.sub, user.user.id);
    assert.equal(principal.claims.sid, principal.sessionId);
  });

  test("config.public opts a route out: no token needed, and no principal there", async () => {
    const response = await root.get("/open");
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { open: true, user: null });
  });

  test("errors of the plugin's hook are problem+json despite the app's error handler", async () => {
    const response = await root.get("/new-route", "a.b.c");
    assert.equal(response.status, 401);
    assert.equal(response.body.code, "token_invalid");
    // The app's own routes keep the app's handler: the plugin does not take it over.
    const user = await register();
    const own = await root.get("/fails", user.access);
    assert.equal(own.status, 418);
  });

  test("endpoints are mounted under the prefix only", async () => {
    assert.equal((await root.post("/register", { email: uniqueEmail(), password: PASSWORD, company: "Acme" })).status, 404);
    const user = await register();
    const profile = await api.get("/profile", user.access);
    assert.equal(profile.status, 200);
    assert.equal(profile.body.company, "Acme");
    assert.equal(profile.headers.get("cache-control"), "no-store");
    assert.equal((await api.get("/health")).status, 200);
  });

  test("logout through the mounted endpoint revokes the token on the app's own routes", async () => {
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

  describe("custom user fields", () => {
    test("are stored, returned in user and loaded typed by auth.getUser", async () => {
      const user = await register({ company: "Acme", seats: 3 });
      assert.equal((user.user as Record<string, unknown>).company, "Acme");
      const loaded = await auth.getUser(await auth.verify(`Bearer ${user.access}`));
      assert.equal(loaded.company, "Acme");
      assert.equal(loaded.seats, 3);
    });

    test("a wrong type is 400 validation_failed, never coerced by the app's Ajv", async () => {
      for (const body of [
        { email: uniqueEmail(), password: PASSWORD, company: 5 },
        { email: uniqueEmail(), password: PASSWORD, company: ["Acme"] },
        { email: uniqueEmail(), password: PASSWORD, company: "Acme", seats: "3" },
        { email: 123, password: PASSWORD, company: "Acme" },
      ]) {
        const response = await api.post("/register", body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.body.code, "validation_failed");
      }
    });

    test("a missing required field is 400 naming the field", async () => {
      const response = await api.post("/register", { email: uniqueEmail(), password: PASSWORD });
      assert.equal(response.status, 400);
      assert.equal(response.body.code, "validation_failed");
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
      const good = await api.request("PATCH", "/profile", { token: user.access, body: { seats: 9, plan: "gold" } });
      assert.equal(good.status, 200);
      assert.equal(good.body.seats, 9);
      assert.equal(good.body.company, "Acme");
      assert.equal(good.body.plan, undefined);
      assert.equal((await auth.getUser(await auth.verify(`Bearer ${user.access}`))).seats, 9);
    });
  });

  test("mounted endpoints accept JSON only, up to 64 KiB, whatever the app allows", async () => {
    const text = await api.request("POST", "/login", { raw: "email=a", headers: { "content-type": "text/plain" } });
    assert.equal(text.status, 415);
    assert.equal(text.body.code, "unsupported_media_type");
    const big = await api.request("POST", "/login", { body: { email: "a@example.com", password: "x".repeat(70 * 1024) } });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, "payload_too_large");
    const broken = await api.request("POST", "/login", { raw: "{", headers: { "content-type": "application/json" } });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.code, "bad_request");
    const user = await register();
    const empty = await api.request("POST", "/logout", { token: user.access, raw: "", headers: { "content-type": "application/json" } });
    assert.equal(empty.status, 204);
  });
});

describe("tokenver/fastify options", () => {
  let auth: Auth;
  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
  });
  after(() => auth.close());

  test("routes: false mounts no endpoint and still protects every route", async () => {
    const app = Fastify();
    await app.register(tokenver, { auth, routes: false });
    app.get("/mine", async (request) => ({ userId: request.user.userId }));
    const { url, close } = await listenFastify(app);
    try {
      const client = new Api(url);
      assert.equal((await client.post("/register", { email: uniqueEmail(), password: PASSWORD })).status, 404);
      assert.equal((await client.get("/health")).status, 404);
      const issued = await auth.register({ email: uniqueEmail(), password: PASSWORD });
      const mine = await client.get("/mine", issued.access);
      assert.equal(mine.status, 200);
      assert.equal(mine.body.userId, issued.user.id);
      assert.equal((await client.get("/mine")).body.code, "token_missing");
    } finally {
      await close();
    }
  });

  test("routes: true mounts the endpoints at the scope's root", async () => {
    const app = Fastify();
    await app.register(tokenver, { auth });
    const { url, close } = await listenFastify(app);
    try {
      const client = new Api(url);
      const user = await client.register(uniqueEmail(), PASSWORD);
      assert.equal((await client.get("/profile", user.access)).status, 200);
    } finally {
      await close();
    }
  });

  test("the scope is where it is registered: sibling scopes are not protected", async () => {
    const app = Fastify();
    await app.register(
      async (api) => {
        await api.register(tokenver, { auth, routes: false });
        api.get("/private", async () => "private");
      },
      { prefix: "/api" },
    );
    app.get("/landing", async () => "landing");
    await app.ready();
    assert.equal((await app.inject({ url: "/api/private" })).statusCode, 401);
    assert.equal((await app.inject({ url: "/landing" })).statusCode, 200);
    await app.close();
  });

  test("routes registered before the plugin in its scope are protected too", async () => {
    const app = Fastify();
    app.get("/early", async () => "early");
    await app.register(tokenver, { auth, routes: false });
    await app.ready();
    const response = await app.inject({ url: "/early" });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json().code, "token_missing");
    await app.close();
  });

  test("options instead of auth: the plugin creates the service and closes it with the app", async () => {
    const app = Fastify();
    await app.register(tokenver, { options: { databaseUrl: "sqlite::memory:", secret: TEST_SECRET }, routes: { prefix: "/auth" } });
    await app.ready();
    const registered = await app.inject({ method: "POST", url: "/auth/register", payload: { email: uniqueEmail(), password: PASSWORD } });
    assert.equal(registered.statusCode, 201);
    const created = app.tokenver;
    await created.health();
    await app.close();
    await assert.rejects(created.health(), { code: "service_unavailable" });
  });

  test("bad options fail registration with a TypeError naming the problem", async () => {
    const cases: Array<[string, unknown]> = [
      ["no auth", {}],
      ["both auth and options", { auth, options: {} }],
      ["auth is not a service", { auth: { verify: 1 } }],
      ["routes not boolean or object", { auth, routes: "yes" }],
      ["prefix without slash", { auth, routes: { prefix: "auth" } }],
      ["prefix with trailing slash", { auth, routes: { prefix: "/auth/" } }],
      ["prefix not a string", { auth, routes: { prefix: 5 } }],
      ["typo in routes", { auth, routes: { perfix: "/auth" } }],
      ["plugin-level prefix", { auth, prefix: "/auth" }],
      ["unknown option", { auth, rutes: false }],
    ];
    for (const [name, options] of cases) {
      const app = Fastify();
      await assert.rejects(
        async () => {
          await app.register(tokenver, options as never);
          await app.ready();
        },
        (error: unknown) => error instanceof TypeError && error.message.startsWith("tokenver: "),
        name,
      );
      await app.close().catch(() => {});
    }
  });

  test("createAuth refuses custom fields that are not schemas or that shadow built-in fields", async () => {
    for (const [fields, option] of [
      [{ company: "string" }, "userFields.company"],
      [{ id: Type.String() }, "userFields.id"],
      [{ token_version: Type.Integer() }, "userFields.token_version"],
    ] as const) {
      await assert.rejects(
        createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, userFields: fields as never }),
        (error: unknown) => error instanceof OptionError && error instanceof TypeError && error.option === option,
      );
    }
  });

  test("bad auth options in options mode are an OptionError, a TypeError", async () => {
    const app = Fastify();
    await assert.rejects(
      async () => {
        await app.register(tokenver, { options: { secret: "short" } });
        await app.ready();
      },
      (error: unknown) => error instanceof OptionError && error instanceof TypeError && error.option === "secret",
    );
    await app.close().catch(() => {});
  });
});
