/**
 * The `errors` option of both adapters: tokenver's errors (the guard's 401s, the endpoints'
 * 4xx) in the application's own format, through the application's own error handler or a
 * renderer, with the protocol headers (WWW-Authenticate) kept. The default (problem+json) is
 * what every other library test checks.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express, { type NextFunction, type Request, type Response } from "express";
import Fastify, { type FastifyInstance } from "fastify";
import { AuthError, createAuth, type Auth } from "../../src/index.js";
import tokenver from "../../src/http/fastify/plugin.js";
import { tokenver as tokenverExpress } from "../../src/http/express/guard.js";
import type { ErrorsOption } from "../../src/http/error-rendering.js";
import { TEST_SECRET, uniqueEmail } from "../support/server.js";
import { PASSWORD, listenExpress, listenFastify } from "./helpers.js";

/** The application's own error format: `{ error: { code, message } }`, status from the error. */
const appBody = (error: AuthError) => ({ error: { code: error.code, message: error.message } });

const renderer: ErrorsOption = (problem) => ({
  status: problem.status,
  headers: { ...problem.headers, "content-type": "application/vnd.app+json" },
  body: { failure: problem.body.code },
});

let auth: Auth;
before(async () => {
  auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET, rateLimit: { registrations: 1000 } });
});
after(() => auth.close());

async function fastifyApp(errors: ErrorsOption): Promise<FastifyInstance> {
  const app = Fastify();
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof AuthError) return reply.code(error.status).send(appBody(error));
    return reply.code(500).send({ error: { code: "oops" } });
  });
  await app.register(tokenver, { auth, routes: { prefix: "/auth" }, errors });
  app.get("/private", async (request) => ({ id: request.user.userId }));
  app.get("/open", { config: { public: true } }, async (request) => ({ id: request.user.userId }));
  return app;
}

function expressApp(errors: ErrorsOption) {
  const app = express();
  const guard = tokenverExpress({ auth, routes: { prefix: "/auth" }, errors });
  guard.public.get("/open", (req, res) => {
    res.json({ id: req.user.userId });
  });
  app.use(guard);
  app.get("/private", (req, res) => {
    res.json({ id: req.user.userId });
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof AuthError) res.status(error.status).json(appBody(error));
    else res.status(500).json({ error: { code: "oops" } });
  });
  return app;
}

const adapters = {
  fastify: async (errors: ErrorsOption) => listenFastify(await fastifyApp(errors)),
  express: async (errors: ErrorsOption) => listenExpress(expressApp(errors)),
};

for (const [name, start] of Object.entries(adapters)) {
  describe(`${name}: errors option`, () => {
    test("\"app\": the 401s and the endpoints' errors reach the application's error handler, headers kept", async () => {
      const { url, close } = await start("app");
      try {
        const missing = await fetch(`${url}/private`);
        assert.equal(missing.status, 401);
        assert.match(missing.headers.get("content-type") ?? "", /^application\/json/);
        assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="tokenver"');
        assert.deepEqual(await missing.json(), { error: { code: "token_missing", message: "A bearer token is required." } });

        const invalid = await fetch(`${url}/private`, { headers: { authorization: "Bearer a.b.c" } });
        assert.equal(invalid.status, 401);
        assert.match(invalid.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
        assert.equal(((await invalid.json()) as { error: { code: string } }).error.code, "token_invalid");

        // An endpoint's own error (a schema violation, a framework 415) is an AuthError there too.
        const bad = await post(url, "/auth/register", { email: "not an email", password: PASSWORD });
        assert.equal(bad.status, 400);
        assert.equal(((await bad.json()) as { error: { code: string } }).error.code, "validation_failed");
        const text = await fetch(`${url}/auth/login`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x" });
        assert.equal(text.status, 415);
        assert.equal(((await text.json()) as { error: { code: string } }).error.code, "unsupported_media_type");

        // Success paths are untouched, and request.user on a public route is a 401 the app renders.
        const registered = await post(url, "/auth/register", { email: uniqueEmail(), password: PASSWORD });
        assert.equal(registered.status, 201);
        const { access } = (await registered.json()) as { access: string };
        assert.equal((await fetch(`${url}/private`, { headers: { authorization: `Bearer ${access}` } })).status, 200);
        const open = await fetch(`${url}/open`);
        assert.equal(open.status, 401);
        assert.equal(((await open.json()) as { error: { code: string } }).error.code, "token_missing");
      } finally {
        await close();
      }
    });

    test("a renderer function: its status, headers and body are sent for tokenver's errors", async () => {
      const { url, close } = await start(renderer);
      try {
        const missing = await fetch(`${url}/private`);
        assert.equal(missing.status, 401);
        assert.match(missing.headers.get("content-type") ?? "", /^application\/vnd\.app\+json/);
        assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="tokenver"');
        assert.deepEqual(await missing.json(), { failure: "token_missing" });
        const bad = await post(url, "/auth/login", { email: "a@example.com" });
        assert.equal(bad.status, 400);
        assert.deepEqual(await bad.json(), { failure: "validation_failed" });
      } finally {
        await close();
      }
    });

    test("a renderer that throws or returns no error status falls back to problem+json", async () => {
      for (const broken of [
        () => {
          throw new Error("renderer bug");
        },
        () => ({ status: 200, headers: {}, body: "fine" }),
      ] as ErrorsOption[]) {
        const { url, close } = await start(broken);
        try {
          const missing = await fetch(`${url}/private`);
          assert.equal(missing.status, 401);
          assert.match(missing.headers.get("content-type") ?? "", /^application\/problem\+json/);
          assert.equal(((await missing.json()) as { code: string }).code, "token_missing");
        } finally {
          await close();
        }
      }
    });
  });
}

describe("errors option checks", () => {
  test("a bad value is a TypeError at registration, in both adapters", async () => {
    const app = Fastify();
    await assert.rejects(
      async () => {
        await app.register(tokenver, { auth, errors: "html" as unknown as ErrorsOption });
        await app.ready();
      },
      { name: "TypeError", message: /^tokenver: errors must be/ },
    );
    await app.close();
    assert.throws(() => tokenverExpress({ auth, errors: 42 as unknown as ErrorsOption }), {
      name: "TypeError",
      message: /^tokenver: errors must be/,
    });
  });

  test("registering the Fastify plugin twice in one scope chain is a clear error", async () => {
    const app = Fastify();
    await app.register(tokenver, { auth, routes: false });
    await assert.rejects(
      async () => {
        await app.register(async (child) => {
          await child.register(tokenver, { auth, routes: false });
        });
        await app.ready();
      },
      { name: "TypeError", message: /^tokenver: is already registered in this scope or a parent scope/ },
    );
    await app.close();
  });

  test("two sibling scopes may each register it (protect two prefixes)", async () => {
    const app = Fastify();
    for (const prefix of ["/a", "/b"]) {
      await app.register(
        async (scope) => {
          await scope.register(tokenver, { auth, routes: false });
          scope.get("/private", async (request) => ({ id: request.user.userId }));
        },
        { prefix },
      );
    }
    app.get("/public", async () => ({ ok: true }));
    await app.ready();
    assert.equal((await app.inject({ url: "/a/private" })).statusCode, 401);
    assert.equal((await app.inject({ url: "/b/private" })).statusCode, 401);
    assert.equal((await app.inject({ url: "/public" })).statusCode, 200);
    await app.close();
  });
});

function post(url: string, path: string, body: unknown): Promise<globalThis.Response> {
  return fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}
