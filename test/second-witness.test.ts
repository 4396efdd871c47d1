// Second, independent witnesses (issue #21) for mutants that exactly one test used to catch:
// - the minimum password length, through the library (no HTTP schema in front of the policy);
// - the internal-error detail on the Fastify path: an unexpected error in a tokenver route or in
//   the authentication hook is a bare 500 internal_error, in the response and in the log;
// - the in-flight marker of the Redis state: a read under a marker is not cacheable (with Redis).
// The node lease and the entry expiry of the node cache: test/unit/store/revocation/local-cache-lease.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Fastify, { type FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { createAuth, type Auth } from "../src/create-auth.js";
import tokenver from "../src/http/fastify/plugin.js";
import { PASSWORD_MIN_LENGTH } from "../src/core/limits.js";
import type { DatabaseRevocationState } from "../src/store/revocation/database-state.js";
import type { RedisInvalidation } from "../src/store/redis/invalidation.js";
import { RedisRevocationState } from "../src/store/redis/state.js";
import type { SessionState } from "../src/store/revocation/state.js";
import { redisTestPrefix, REDIS_URL } from "./support/databases.js";
import { Api, TEST_SECRET } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";
let counter = 0;
const email = (tag: string) => `${tag}-${process.pid}-${counter++}@example.com`;

describe("the minimum password length, through the library", () => {
  let auth: Auth;
  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
  });
  after(() => auth.close());

  // Neither common nor a pattern: only the length can refuse these.
  const ofLength = (n: number) => "kq7#Zp2xW9m!Rt4v".slice(0, n);

  test(`register: ${PASSWORD_MIN_LENGTH - 1} characters are refused, ${PASSWORD_MIN_LENGTH} accepted`, async () => {
    assert.equal(PASSWORD_MIN_LENGTH, 8, "the contract's minimum (docs/api.md)");
    await assert.rejects(auth.register({ email: email("short"), password: ofLength(7) }), (error: any) => {
      assert.equal(error.code, "validation_failed");
      assert.deepEqual(
        error.errors.map((e: { field: string }) => e.field),
        ["password"],
      );
      return true;
    });
    const registered = await auth.register({ email: email("eight"), password: ofLength(8) });
    assert.equal(typeof registered.accessToken, "string");
    // Code points, not UTF-16 units: 7 astral characters are 14 units and still too short.
    await assert.rejects(
      auth.register({ email: email("astral"), password: "\u{1F510}\u{1F511}\u{1F512}\u{1F513}\u{1F514}\u{1F515}\u{1F516}" }),
      {
        code: "validation_failed",
      },
    );
  });

  test(`change password: a new password of ${PASSWORD_MIN_LENGTH - 1} characters is refused, ${PASSWORD_MIN_LENGTH} accepted`, async () => {
    const registered = await auth.register({ email: email("change"), password: PASSWORD });
    const principal = await auth.verify(`Bearer ${registered.accessToken}`);
    await assert.rejects(auth.changePassword(principal, { currentPassword: PASSWORD, newPassword: ofLength(7) }), {
      code: "validation_failed",
    });
    const changed = await auth.changePassword(principal, { currentPassword: PASSWORD, newPassword: ofLength(8) });
    assert.equal(typeof changed.accessToken, "string");
  });
});

describe("an unexpected error on the Fastify path: a bare 500 internal_error", () => {
  const SECRET_DETAIL = "boom: SELECT password_hash FROM users WHERE id = 42 at /srv/app/src/core/x.ts:12";
  let auth: Auth;
  let app: FastifyInstance;
  let api: Api;
  const logLines: string[] = [];
  let failVerify = false;

  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
    // The service, except that `register` and (on demand) `verify` fail with an error full of internals.
    const failing = new Proxy(auth, {
      get(target, property) {
        if (property === "register" || property === "signUp") return async () => Promise.reject(new Error(SECRET_DETAIL));
        if (property === "verify" && failVerify) {
          return async () => {
            throw Object.assign(new TypeError(SECRET_DETAIL), { code: "ECONNRESET", statusCode: 500 });
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    app = Fastify({ logger: { level: "info", stream: { write: (line: string) => void logLines.push(line) } } });
    await app.register(tokenver, { auth: failing });
    app.get("/mine", async (request) => ({ userId: request.user.userId }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    api = new Api(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
  });
  after(async () => {
    await app?.close();
    await auth?.close();
  });

  function assertBare500(response: { status: number; headers: Headers; body: any; text: string }) {
    assert.equal(response.status, 500, response.text);
    assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal(response.body.code, "internal_error");
    assert.equal(response.body.status, 500);
    assert.deepEqual(Object.keys(response.body).sort(), ["code", "detail", "status", "title", "type"]);
    assert.equal(response.body.detail, "The server could not handle the request.");
    for (const leak of ["boom", "SELECT", "password_hash", "/srv/app", ".ts:", "TypeError", "ECONNRESET"]) {
      assert.ok(!response.text.includes(leak), `the response leaks ${leak}: ${response.text}`);
    }
  }

  function assertLogBare(from: number) {
    const lines = logLines.slice(from).join("\n");
    assert.match(lines, /request failed/, "the failure is logged");
    for (const leak of ["boom", "SELECT", "password_hash", "/srv/app", "\n    at "]) {
      assert.ok(!lines.includes(leak), `the log leaks ${leak}: ${lines}`);
    }
  }

  test("a tokenver route whose operation throws", async () => {
    const from = logLines.length;
    assertBare500(await api.post("/register", { email: email("fails"), password: PASSWORD }));
    assertLogBare(from);
  });

  test("the authentication hook of a protected route whose verify throws", async () => {
    const user = await auth.register({ email: email("hook"), password: PASSWORD });
    assert.equal((await api.get("/mine", user.accessToken)).status, 200);
    failVerify = true;
    try {
      const from = logLines.length;
      assertBare500(await api.get("/mine", user.accessToken));
      assertLogBare(from);
    } finally {
      failVerify = false;
    }
  });
});

describe("the Redis in-flight markers make a read uncacheable", { skip: REDIS_URL ? false : "set TOKENVER_TEST_REDIS_URL" }, () => {
  const prefix = redisTestPrefix();
  let redis: Redis;
  let raw: Redis;
  let state: RedisRevocationState;
  const rows = new Map<string, SessionState>();

  before(async () => {
    redis = new Redis(REDIS_URL!);
    raw = new Redis(REDIS_URL!);
    // The database below, and an invalidation that nobody needs here: only `read` is under test.
    const database = { get: async (sessionId: string) => rows.get(sessionId), ping: async () => {} } as unknown as DatabaseRevocationState;
    const invalidation = { longestBroadcastMs: 1000, broadcast: async () => {}, close: async () => {} } as unknown as RedisInvalidation;
    state = new RedisRevocationState({ redis, database, prefix, entryTtlSeconds: 1, invalidation, onWarning: () => {} });
    await sleep(1100); // Redis is trusted one entry lifetime after start
  });
  after(async () => {
    await state?.close();
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
  });

  test("a session marker `p`, or a version bump in flight: the database answers, uncacheable; unmarked, cacheable", async () => {
    for (const [marker, key, value] of [
      ["session", "s:s1", "p"],
      ["version", "pv:u1", "1"],
    ] as const) {
      rows.set("s1", { userId: "u1", tokenVersion: 0, revoked: false });
      await raw.del(`${prefix}v:u1`, `${prefix}pv:u1`, `${prefix}s:s1`);
      await raw.set(`${prefix}${key}`, value, "EX", 60);
      const marked = await state.read("s1", "u1");
      assert.deepEqual(marked.state, { userId: "u1", tokenVersion: 0, revoked: false }, marker);
      assert.equal(marked.cacheable, false, `read under the ${marker} marker was cacheable`);
      // A hit while marked is no hit: even with both values present, the marker wins.
      await raw.set(`${prefix}v:u1`, "0", "EX", 60);
      if (marker === "version") await raw.set(`${prefix}s:s1`, "u1:0", "EX", 60);
      rows.set("s1", { userId: "u1", tokenVersion: 7, revoked: true });
      const still = await state.read("s1", "u1");
      assert.equal(still.cacheable, false, `${marker}: a marked key is never a cacheable hit`);
      assert.deepEqual(still.state, { userId: "u1", tokenVersion: 7, revoked: true }, `${marker}: read from the database`);
      await raw.del(`${prefix}${key}`);
    }
    // Unmarked and absent: read from the database, filled, and cacheable (no revocation in flight).
    await raw.del(`${prefix}v:u1`, `${prefix}pv:u1`, `${prefix}s:s1`);
    rows.set("s1", { userId: "u1", tokenVersion: 3, revoked: false });
    const unmarked = await state.read("s1", "u1");
    assert.equal(unmarked.cacheable, true);
    assert.deepEqual(unmarked.state, { userId: "u1", tokenVersion: 3, revoked: false });
  });
});
