import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { createAuth, type Auth } from "../src/create-auth.js";
import { buildServer } from "../src/server.js";
import { after, before, describe, test } from "node:test";
import { dialects, POSTGRES_URL, REDIS_URL, redisTestPrefix, type DialectName } from "./support/databases.js";
import { Api, startServer, TEST_SECRET, uniqueEmail, type ApiResponse, type TestServer } from "./support/server.js";

// docs/api.md section 8: `POST /register` is throttled per address (TOKENVER_RATE_LIMIT_REGISTER
// per throttling window, default 20): each registration costs an argon2id hash. Counted before
// the hash, so parallel registrations cannot overtake the limit.

const PASSWORD = "a long and unguessable passphrase";
const WINDOW = 600;

/** Each store the counters can live in: memory (SQLite, PostgreSQL) and Redis (shared by nodes). */
function variants(): Array<{ name: string; dialect: DialectName; redis: boolean }> {
  const list = dialects().map((dialect) => ({ name: dialect as string, dialect, redis: false }));
  if (POSTGRES_URL && REDIS_URL) list.push({ name: "postgres + redis", dialect: "postgres", redis: true });
  return list;
}

function register(api: Api, forwardedFor?: string, body: Record<string, unknown> = { email: uniqueEmail(), password: PASSWORD }) {
  return api.request("POST", "/register", {
    body,
    ...(forwardedFor === undefined ? {} : { headers: { "x-forwarded-for": forwardedFor } }),
  });
}

function assertRateLimited(response: ApiResponse, what: string, windowSeconds = WINDOW) {
  assert.equal(response.status, 429, `${what}: ${response.text}`);
  assert.equal(response.body.code, "rate_limited", what);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/, what);
  const retryAfter = response.headers.get("retry-after") ?? "";
  assert.match(retryAfter, /^[1-9][0-9]*$/, `${what}: Retry-After is a positive integer`);
  assert.ok(Number(retryAfter) <= windowSeconds, `${what}: Retry-After ${retryAfter} within the window`);
  assert.equal(response.body.access, undefined, what);
}

for (const variant of variants()) {
  describe(`POST /register throttled per address (${variant.name})`, () => {
    let server: TestServer;
    let now = Date.parse("2030-04-01T08:00:00Z");
    before(async () => {
      server = await startServer({
        dialect: variant.dialect,
        trustProxy: true,
        rateLimit: { registrations: 3, windowSeconds: WINDOW },
        // Memory counters follow the injected clock; Redis windows run on Redis's own clock.
        ...(variant.redis ? { redisUrl: REDIS_URL!, redisPrefix: redisTestPrefix() } : { clock: () => now }),
      });
    });
    after(() => server.close());

    test("3 registrations from an address, then 429 with Retry-After; nothing created", async () => {
      const { api } = server;
      for (let i = 1; i <= 3; i++) assert.equal((await register(api, "203.0.113.1")).status, 201, `registration ${i}`);
      const email = uniqueEmail();
      assertRateLimited(await register(api, "203.0.113.1", { email, password: PASSWORD }), "the 4th");
      // It was refused before anything was stored: the address is free to register elsewhere.
      assert.equal((await register(api, "198.51.100.1", { email, password: PASSWORD })).status, 201, "the same email from another address");
    });

    test("another address is unaffected, and the limit does not touch logins", async () => {
      const { api } = server;
      for (let i = 1; i <= 3; i++) await register(api, "203.0.113.2");
      assertRateLimited(await register(api, "203.0.113.2"), "the 4th");
      assert.equal((await register(api, "198.51.100.2")).status, 201, "another address");
      const user = await api.register(uniqueEmail(), PASSWORD, {});
      const login = await api.request("POST", "/login", {
        body: { email: user.email, password: PASSWORD },
        headers: { "x-forwarded-for": "203.0.113.2" },
      });
      assert.equal(login.status, 200, "a login from the throttled address");
    });

    test("a refused body (400) costs no hash and counts nothing", async () => {
      const { api } = server;
      for (let i = 0; i < 5; i++) {
        const refused = await register(api, "203.0.113.3", { email: "not an email", password: PASSWORD });
        assert.equal(refused.status, 400);
        assert.equal(refused.body.code, "validation_failed");
      }
      for (let i = 1; i <= 3; i++) assert.equal((await register(api, "203.0.113.3")).status, 201, `registration ${i}`);
    });

    test("parallel registrations cannot overtake the limit: exactly 3 of 12", async () => {
      const responses = await Promise.all(Array.from({ length: 12 }, () => register(server.api, "203.0.113.4")));
      const created = responses.filter((r) => r.status === 201);
      assert.equal(created.length, 3, responses.map((r) => r.status).join(" "));
      for (const r of responses.filter((r) => r.status !== 201)) assertRateLimited(r, "a parallel registration");
    });

    if (!variant.redis) {
      test("the window ends: registrations are allowed again after Retry-After", async () => {
        const { api } = server;
        for (let i = 1; i <= 3; i++) await register(api, "203.0.113.5");
        const refused = await register(api, "203.0.113.5");
        assertRateLimited(refused, "the 4th");
        now += Number(refused.headers.get("retry-after")) * 1000;
        assert.equal((await register(api, "203.0.113.5")).status, 201, "after Retry-After seconds");
      });
    }
  });
}

describe("POST /register default limit", () => {
  // Not startServer(): it lifts the registration limit for the other suites.
  let auth: Auth;
  let app: FastifyInstance;
  let api: Api;
  before(async () => {
    auth = await createAuth({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
    app = await buildServer(auth);
    await app.listen({ port: 0, host: "127.0.0.1" });
    api = new Api(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  });
  after(async () => {
    await app.close();
    await auth.close();
  });

  test("20 registrations per address per window (TOKENVER_RATE_LIMIT_REGISTER), then 429", async () => {
    const responses = [];
    for (let i = 0; i < 21; i++) responses.push(await register(api));
    assert.deepEqual(
      responses.slice(0, 20).map((r) => r.status),
      Array(20).fill(201),
    );
    assertRateLimited(responses[20]!, "the 21st", 900);
  });
});
