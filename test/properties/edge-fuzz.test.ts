// Fuzzing of every parser at the edge (issue #17): the Authorization header, JWT segments, refresh
// tokens and JSON bodies, generated at random. Whatever arrives, the answer is a 4xx problem+json
// with a code (or a success where the input happens to be valid), never a 5xx, never a crash, and
// never a token accepted that tokenver did not issue.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { startServer, TEST_SECRET, type ApiResponse, type TestServer } from "../support/server.js";

let server: TestServer;
let live: { access: string; refresh: string; sid: string; sub: string };

before(async () => {
  server = await startServer({ rateLimit: { accountFailures: 1_000_000, addressFailures: 1_000_000 } });
  const user = await server.api.register();
  const claims = JSON.parse(Buffer.from(user.access.split(".")[1]!, "base64url").toString("utf8"));
  live = { access: user.access, refresh: user.refresh, sid: claims.sid, sub: claims.sub };
});
after(() => server.close());

const RUNS = { numRuns: 150 };

function assertClientError(r: ApiResponse, what: string): void {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  assert.ok(r.headers.get("content-type")?.startsWith("application/problem+json"), `${what}: not problem+json`);
  assert.equal(typeof r.body?.code, "string", `${what}: no code`);
  assert.equal(r.body.status, r.status);
  assert.doesNotMatch(r.text, /at .*\.(ts|js):\d+|node_modules|SELECT |sqlite|postgres/i, `${what}: internals leaked`);
}

const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** Header values fetch can send: visible Latin-1 and tabs, no leading or trailing blanks. */
const headerValue = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 300 })
  .map((s) => s.trim())
  .filter((s) => !/[\x7f]/.test(s));

test("any Authorization header on a protected route: 401 problem+json, never 5xx", { timeout: 120_000 }, async () => {
  const scheme = fc.constantFrom("Bearer ", "bearer ", "BEARER   ", "Basic ", "Bearer", "", "Token ", "Bearer\t");
  await fc.assert(
    fc.asyncProperty(scheme, headerValue, async (prefix, value) => {
      const r = await server.api.request("GET", "/profile", { headers: { authorization: `${prefix}${value}`.trim() } });
      assertClientError(r, `Authorization ${JSON.stringify(prefix + value)}`);
      assert.equal(r.status, 401);
    }),
    RUNS,
  );
});

test("forged JWTs (any header, any claims, signed or not): never accepted, never 5xx", { timeout: 120_000 }, async () => {
  const alg = fc.constantFrom("HS256", "HS384", "HS512", "none", "RS256", "ES256", "EdDSA", "hs256", "");
  const header = fc.record(
    {
      alg,
      typ: fc.constantFrom("at+jwt", "JWT", "jwt", "refresh", ""),
      kid: fc.string(),
      crit: fc.array(fc.string(), { maxLength: 2 }),
      jku: fc.webUrl(),
      b64: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  // Claims around the live session's, with the values an attacker would try.
  const claims = fc.record(
    {
      iss: fc.constantFrom("tokenver", "evil", ""),
      sub: fc.oneof(fc.constant(live.sub), fc.string(), fc.integer()),
      sid: fc.oneof(fc.constant(live.sid), fc.string(), fc.constant(null)),
      token_version: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.constant("0"), fc.double(), fc.constant(null)),
      exp: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800 }), fc.constant("9999999999"), fc.double()),
      nbf: fc.integer({ min: 0, max: 4_102_444_800 }),
      iat: fc.integer({ min: 0, max: 4_102_444_800 }),
      jti: fc.string(),
    },
    { requiredKeys: [] },
  );
  const signature = fc.constantFrom("real secret", "empty", "random", "none");
  await fc.assert(
    fc.asyncProperty(header, claims, signature, fc.anything({ maxDepth: 2 }), fc.boolean(), async (h, c, how, junk, addJunk) => {
      const payload = addJunk ? { ...c, extra: junk } : c;
      const input = `${b64(h)}.${b64(payload)}`;
      const sig =
        how === "real secret"
          ? createHmac("sha256", TEST_SECRET).update(input).digest("base64url")
          : how === "random"
            ? b64(String(Math.random()))
            : how === "empty"
              ? ""
              : "none";
      const token = `${input}.${sig}`;
      const r = await server.api.get("/profile", token);
      // A token signed with the real secret is still refused unless it is exactly what tokenver
      // issues (typ at+jwt, iss, a live session at the user's version, unexpired): the generators
      // cannot build that by chance without `typ: "at+jwt"`, HS256 and every claim right.
      const exact =
        how === "real secret" &&
        h.alg === "HS256" &&
        h.typ === "at+jwt" &&
        h.crit === undefined &&
        h.b64 === undefined &&
        c.iss === "tokenver" &&
        c.sub === live.sub &&
        c.sid === live.sid &&
        c.token_version === 0 &&
        typeof c.exp === "number" &&
        Number.isInteger(c.exp) &&
        c.exp * 1000 > Date.now() &&
        (c.nbf === undefined || c.nbf * 1000 <= Date.now() + 60_000);
      if (exact && r.status === 200) return;
      assertClientError(r, `forged token ${JSON.stringify({ h, c, how })}`);
      assert.equal(r.status, 401);
    }),
    RUNS,
  );
});

test("any refresh token: 400 or 401 problem+json, never 5xx, and the live session survives", { timeout: 120_000 }, async () => {
  const [id] = live.refresh.split(".");
  const token = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string().map((s) => `${id}.${s}`),
    fc.string().map((s) => `${s}.${live.refresh.split(".")[1]}`),
    fc.constant(live.access),
    fc.anything({ maxDepth: 2 }),
  );
  await fc.assert(
    fc.asyncProperty(token, async (refresh) => {
      if (refresh === live.refresh) return;
      const r = await server.api.post("/token/refresh", { refresh });
      assertClientError(r, `refresh ${JSON.stringify(refresh)?.slice(0, 80)}`);
    }),
    RUNS,
  );
  assert.equal((await server.api.get("/profile", live.access)).status, 200, "no guess revoked the live session");
});

test("any JSON body, or bytes that are not JSON, on every endpoint that takes one: never 5xx", { timeout: 180_000 }, async () => {
  const endpoints = [
    ["POST", "/register", false],
    ["POST", "/login", false],
    ["POST", "/token/refresh", false],
    ["POST", "/logout", true],
    ["POST", "/password", true],
    ["PATCH", "/profile", true],
  ] as const;
  // Values shaped like the real bodies (the right keys with wrong or odd values), and anything at all.
  const field = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.integer(),
    fc.constant(null),
    fc.array(fc.string()),
    fc.object(),
    fc.constant("a".repeat(5000)),
  );
  const shaped = fc.record(
    {
      email: field,
      password: field,
      username: field,
      refresh: field,
      scope: field,
      current_password: field,
      new_password: field,
      ["__proto__"]: field,
      constructor: field,
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    shaped.map((v) => JSON.stringify(v)),
    fc.json(),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
  );
  const contentType = fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=latin1",
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...endpoints), body, contentType, async ([method, path, bearer], raw, type) => {
      const r = await server.api.request(method, path, {
        raw,
        headers: { "content-type": type },
        ...(bearer ? { token: live.access } : {}),
      });
      if (r.status < 300) return; // valid by chance (an empty logout body, a PATCH of nothing): fine
      assertClientError(r, `${method} ${path} ${type} ${JSON.stringify(raw).slice(0, 120)}`);
    }),
    RUNS,
  );
});
