import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { Type } from "typebox";
import { createAuth, OptionError, type Auth } from "../../src/index.js";
import tokenver from "../../src/http/fastify/plugin.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { describeAdapter, type AppAuth } from "./adapter-suite.js";
import { PASSWORD, listenFastify, userOrError } from "./helpers.js";

// An application of its own, with Fastify's defaults (Ajv coerces types; no trailing-slash
// folding; 1 MiB bodies) and its own error handler: the plugin must still behave as the server.
async function userApp(auth: AppAuth): Promise<FastifyInstance> {
  const app = Fastify();
  app.setErrorHandler((_error, _request, reply) => reply.code(418).send("the app's own error page"));
  await app.register(tokenver, { auth, routes: { prefix: "/auth" } });
  app.get("/new-route", async (request) => ({ user: request.user }));
  app.get("/open", { config: { public: true } }, async (request) => ({ open: true, user: userOrError(() => request.user) }));
  app.get("/fails", async () => {
    throw new Error("boom: SELECT secret FROM users");
  });
  return app;
}

describeAdapter("tokenver/fastify", {
  start: async (auth) => listenFastify(await userApp(auth)),
  protectedPaths: ["/new-route"],
  // Outside the prefix there is no such route: the app's 404 (not authenticated).
  unmountedStatus: 404,
  own: (context) => {
    test("errors of the plugin's hook are problem+json despite the app's error handler", async () => {
      const response = await context.root.get("/new-route", "a.b.c");
      assert.equal(response.status, 401);
      assert.equal(response.body.code, "token_invalid");
      // The app's own routes keep the app's handler: the plugin does not take it over.
      const user = await context.register();
      const own = await context.root.get("/fails", user.access);
      assert.equal(own.status, 418);
    });
  },
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
      const mine = await client.get("/mine", issued.accessToken);
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
