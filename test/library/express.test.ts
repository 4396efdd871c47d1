import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import { AuthError, createAuth, type Auth } from "../../src/index.js";
import { problemHandler, tokenver } from "../../src/http/express/guard.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { describeAdapter, type AppAuth } from "./adapter-suite.js";
import { PASSWORD, listenExpress, userOrError } from "./helpers.js";

function userApp(auth: AppAuth) {
  const app = express();
  const guard = tokenver({ auth, routes: { prefix: "/auth" } });
  guard.public.get("/open", (req, res) => {
    res.json({ open: true, user: userOrError(() => req.user) });
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

describeAdapter("tokenver/express", {
  start: async (auth) => listenExpress(userApp(auth)),
  // Everything after the guard, nested routers and unknown URLs included.
  protectedPaths: ["/new-route", "/nested/deep", "/no-such-path"],
  // Outside the prefix, /register is one more route after the guard: it needs a token.
  unmountedStatus: 401,
  own: (context) => {
    test("problemHandler renders the app's errors as problem+json without internals", async () => {
      const user = await context.register();
      const boom = await context.root.get("/fails", user.access);
      assert.equal(boom.status, 500);
      assert.equal(boom.body.code, "internal_error");
      assert.doesNotMatch(boom.text, /SELECT|boom|at /);
      const missing = await context.root.get("/not-yours", user.access);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, "not_found");
    });

    test("endpoints answer with and without a trailing slash", async () => {
      const user = await context.register();
      assert.equal((await context.api.get("/profile/", user.access)).status, 200);
      assert.equal((await context.api.get("/health/")).status, 200);
    });

    test("a body without a JSON content type is 415; JSON that is not an object or array is 400", async () => {
      const untyped = await context.api.request("POST", "/login", { raw: "{}" });
      assert.equal(untyped.status, 415);
      for (const raw of ['"just a string"', "nul"]) {
        const broken = await context.api.request("POST", "/login", { raw, headers: { "content-type": "application/json" } });
        assert.equal(broken.status, 400, raw);
        assert.equal(broken.body.code, "bad_request");
      }
      const user = await context.register();
      assert.equal((await context.api.request("POST", "/logout", { token: user.access })).status, 204, "no body at all");
    });
  },
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
      const mine = await client.get("/mine", issued.accessToken);
      assert.equal(mine.status, 200);
      assert.equal(mine.body.userId, issued.user.id);
      // Not mounted: with a token, /register falls through to the app's 404.
      assert.equal((await client.post("/register", { email: uniqueEmail(), password: PASSWORD }, issued.accessToken)).status, 404);
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
