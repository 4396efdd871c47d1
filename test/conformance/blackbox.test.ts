/**
 * Black-box conformance: what an independent suite built from /work/shared/API.md and the standards
 * it cites (RFC 6750, 7519, 8725, 9068, 9457, 9700, OWASP ASVS 5.0) would check, over HTTP only,
 * against the real `tokenver serve` process. The library part imports the built package by name
 * (`npm run build` first; CI builds on `npm ci`).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createTestDatabase, POSTGRES_URL, redisTestPrefix, REDIS_URL, type TestDatabase } from "../support/databases.js";
import { startNode, type Node } from "../support/nodes.js";
import { cleanEnv, REPO_ROOT, runCli } from "../support/process.js";
import type { ApiResponse } from "../support/server.js";

const SECRET = "conformance-secret-0123456789abcdefghijklmnop";
const ISSUER = "https://issuer.conformance.test";
const ACCESS_TTL = 600;
const PASSWORD = "a long and unguessable passphrase";
const NO_THROTTLE = {
  TOKENVER_RATE_LIMIT_ACCOUNT: "1000000",
  TOKENVER_RATE_LIMIT_ADDRESS: "1000000",
  TOKENVER_RATE_LIMIT_REGISTER: "1000000",
  TOKENVER_RATE_LIMIT_ADDRESS_LOGINS: "1000000",
};

const dir = mkdtempSync(join(tmpdir(), "tokenver-conformance-"));
const MAIN_DB = join(dir, "main.db");
let node: Node;
let throttled: Node;

/**
 * The stores the server runs on: the embedded SQLite file (always), and PostgreSQL + Redis when
 * their URLs are set (CI sets them). Over PostgreSQL + Redis only the sections whose outcome goes
 * through the store run again (accounts, tokens, sessions, revocation, throttling counters): body
 * parsing, the OpenAPI document, the CLI and the built package do not depend on it.
 */
interface Target {
  name: "sqlite" | "postgres+redis";
  /** The main server's and the throttled server's store settings; `drop` removes what was made. */
  prepare(): Promise<{ main: Record<string, string>; throttled: Record<string, string>; drop(): Promise<void> }>;
}

const TARGETS: Target[] = [
  {
    name: "sqlite",
    prepare: async () => ({
      main: { TOKENVER_DATABASE_URL: `sqlite:${MAIN_DB}` },
      throttled: { TOKENVER_DATABASE_URL: "sqlite::memory:" },
      drop: async () => {},
    }),
  },
];
if (POSTGRES_URL && REDIS_URL) {
  TARGETS.push({
    name: "postgres+redis",
    prepare: async () => {
      // Each server its own database and key prefix: the throttled one's counters stay its own.
      const [main, limited] = await Promise.all([createTestDatabase("postgres"), createTestDatabase("postgres")]);
      // Short entries: a node trusts Redis one entry lifetime after it started (then Redis is read).
      const redis = (database: TestDatabase) => ({
        TOKENVER_DATABASE_URL: database.url,
        TOKENVER_REDIS_URL: REDIS_URL!,
        TOKENVER_REDIS_PREFIX: redisTestPrefix(),
        TOKENVER_REDIS_ENTRY_TTL: "2",
      });
      return { main: redis(main), throttled: redis(limited), drop: async () => void (await Promise.all([main.drop(), limited.drop()])) };
    },
  });
}

after(() => rmSync(dir, { recursive: true, force: true }));

for (const target of TARGETS) {
  describe(`the server over ${target.name}`, () => {
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      const stores = await target.prepare();
      drop = stores.drop;
      const main = () =>
        startNode({
          ...stores.main,
          TOKENVER_SECRET: SECRET,
          TOKENVER_ISSUER: ISSUER,
          TOKENVER_ACCESS_TTL: String(ACCESS_TTL),
          ...NO_THROTTLE,
        });
      const limited = () =>
        startNode({ ...stores.throttled, TOKENVER_SECRET: SECRET, TOKENVER_RATE_LIMIT_ACCOUNT: "3", TOKENVER_RATE_LIMIT_ADDRESS: "6" });
      // Over PostgreSQL + Redis one after the other: a node connects, subscribes and migrates at start.
      if (target.name === "sqlite") [node, throttled] = await Promise.all([main(), limited()]);
      else {
        node = await main();
        throttled = await limited();
      }
      if (target.name !== "sqlite") await sleep(2200);
    });
    after(async () => {
      await Promise.all([node?.stop(), throttled?.stop()]);
      await drop?.();
    });

    storeSections();
    if (target.name === "sqlite") storeIndependentSections();
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers: a client, problem+json and WWW-Authenticate checks, token forging with the known secret.

let counter = 0;
const email = (tag = "u") => `${tag}-${process.pid}-${Date.now()}-${counter++}@example.com`;

function call(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {},
) {
  return node.api.request(method, path, options);
}

async function register(address = email()) {
  const response = await call("POST", "/register", { body: { email: address, password: PASSWORD } });
  assert.equal(response.status, 201, response.text);
  return { ...(response.body as { user: Record<string, unknown> & { id: string }; access: string; refresh: string }), email: address };
}

async function login(address: string, password = PASSWORD) {
  const response = await call("POST", "/login", { body: { email: address, password } });
  assert.equal(response.status, 200, response.text);
  return response.body as { user: { id: string; token_version: number }; access: string; refresh: string };
}

const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
const headerOf = (token: string) => decode(token.split(".")[0]!);
const claimsOf = (token: string) => decode(token.split(".")[1]!);
const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A compact JWS signed with HMAC-SHA256 (or another hash) under the server's secret. */
function forge(header: unknown, claims: unknown, hash = "sha256", key = SECRET): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac(hash, key).update(input).digest("base64url")}`;
}

const STACK_OR_SQL = /\bat \S+ \(|node_modules|\/work\/|\.ts:\d+|SELECT\s|INSERT\s|UPDATE\s|sqlite|postgres/i;

/** RFC 9457 problem+json with the contract's members; the `status` member equals the HTTP status. */
function assertProblem(response: ApiResponse, status: number, code: string) {
  assert.equal(response.status, status, response.text);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json(\s*;|$)/);
  const body = response.body as Record<string, unknown>;
  assert.equal(body.status, status);
  assert.equal(body.code, code);
  for (const member of ["type", "title", "detail"]) assert.equal(typeof body[member], "string", `${member} in ${response.text}`);
  assert.doesNotMatch(response.text, STACK_OR_SQL);
  if (status === 401) assertChallenge(response, undefined);
}

// RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash).
const CHALLENGE = /^Bearer realm="tokenver"(?:, error="invalid_token", error_description="[\x20\x21\x23-\x5B\x5D-\x7E]+")?$/;

/** Every 401 carries the Bearer challenge; error attributes exactly when a token was presented. */
function assertChallenge(response: ApiResponse, tokenPresented: boolean | undefined) {
  const challenge = response.headers.get("www-authenticate");
  assert.ok(challenge, `401 without WWW-Authenticate: ${response.text}`);
  assert.match(challenge, CHALLENGE);
  if (tokenPresented === true) assert.match(challenge, /error="invalid_token"/);
  if (tokenPresented === false) assert.doesNotMatch(challenge, /error=/);
}

function assertTokenRejected(response: ApiResponse, code: string) {
  assertProblem(response, 401, code);
  assertChallenge(response, true);
}

function assertNoStore(response: ApiResponse) {
  assert.match(response.headers.get("cache-control") ?? "", /no-store/, `Cache-Control on ${response.status}`);
  assert.equal(response.headers.get("pragma"), "no-cache", `Pragma on ${response.status}`);
}

/** Node's http client, for what fetch cannot send: repeated header lines, chunked bodies. */
function rawRequest(
  method: string,
  path: string,
  headers: Array<[string, string]>,
  chunks: string[] = [],
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(node.url + path, { method }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (c: string) => (text += c));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on("error", reject);
    const grouped = new Map<string, string[]>();
    for (const [name, value] of headers) grouped.set(name, [...(grouped.get(name) ?? []), value]);
    for (const [name, values] of grouped) request.setHeader(name, values.length === 1 ? values[0]! : values);
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

// ---------------------------------------------------------------------------------------------

/** The sections whose outcome goes through the store: they run on every target. */
function storeSections() {
  describe("section 4: errors are problem+json; every 401 carries the Bearer challenge", () => {
    test("each error of the table has its status, code, RFC 9457 members and no internals", async () => {
      const user = await register();
      assertProblem(await call("GET", "/no-such-route"), 404, "not_found");
      assertProblem(await call("POST", "/login", { raw: "{oops", headers: { "content-type": "application/json" } }), 400, "bad_request");
      const invalid = await call("POST", "/register", { body: { email: "not-an-email", password: PASSWORD } });
      assertProblem(invalid, 400, "validation_failed");
      const errors = (invalid.body as { errors: Array<Record<string, unknown>> }).errors;
      assert.ok(Array.isArray(errors) && errors.length > 0);
      for (const e of errors) assert.deepEqual(Object.keys(e).sort(), ["field", "message"]);
      assert.ok(errors.some((e) => e.field === "email"));
      assertProblem(await call("POST", "/register", { body: { email: user.email, password: PASSWORD } }), 409, "email_taken");
      assertProblem(await call("POST", "/login", { raw: "{}", headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type");
      assertProblem(await call("GET", "/profile"), 401, "token_missing");
      assertProblem(
        await call("POST", "/login", { body: { email: user.email, password: "wrong password!!" } }),
        401,
        "invalid_credentials",
      );
      const forbidden = await call("POST", "/password", {
        token: user.access,
        body: { current_password: "wrong password!!", new_password: "another fine passphrase" },
      });
      assertProblem(forbidden, 403, "invalid_credentials");
    });

    test("401 without a token has no error attributes; with one it has error and error_description", async () => {
      const user = await register();
      assertChallenge(await call("GET", "/profile"), false);
      assertChallenge(await call("GET", "/sessions", { headers: { authorization: "Basic dXNlcjpwYXNz" } }), false);
      assertChallenge(await call("POST", "/login", { body: { email: user.email, password: "wrong password!!" } }), false);
      assertChallenge(await call("GET", "/profile", { token: "not-a-jwt" }), true);
      assertChallenge(await call("POST", "/token/refresh", { body: { refresh: "unknown.refresh" } }), true);
      await call("POST", "/logout", { token: user.access });
      assertChallenge(await call("GET", "/profile", { token: user.access }), true);
    });
  });

  describe("section 2: the Authorization header (RFC 6750 section 2.1)", () => {
    test("never from a form body: token_missing without error attributes", async () => {
      const { access } = await register();
      const form = await call("POST", "/logout", {
        raw: `access_token=${access}`,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      assertProblem(form, 401, "token_missing");
      assertChallenge(form, false);
    });

    test("characters outside b64token, or padding, make the credential token_invalid", async () => {
      const { access } = await register();
      for (const header of [
        `Bearer ${access.slice(0, 20)}"${access.slice(20)}`,
        `Bearer ${access.slice(0, 20)},${access.slice(20)}`,
        `Bearer ${access}=`,
      ]) {
        assertTokenRejected(await call("GET", "/profile", { headers: { authorization: header } }), "token_invalid");
      }
    });

    test("a tab is not the separator of RFC 6750 (1*SP): the request is not authenticated", async () => {
      const { access } = await register();
      const response = await call("GET", "/profile", { headers: { authorization: `Bearer\t${access}` } });
      assert.equal(response.status, 401);
      assertChallenge(response, undefined);
    });

    // Was a bug, fixed: Node keeps the first of repeated Authorization lines, so the answer depends on order.
    test("two Authorization header lines are not authenticated (RFC 9110 5.3, RFC 6750 3.1 invalid_request)", async () => {
      const { access } = await register();
      const response = await rawRequest("GET", "/profile", [
        ["authorization", `Bearer ${access}`],
        ["authorization", "Bearer forged.token.value"],
      ]);
      assert.ok(response.status === 400 || response.status === 401, `got ${response.status}`);
    });
  });

  describe("section 2: the access token issued (RFC 9068, RFC 7519)", () => {
    test("header is exactly {alg: HS256, typ: at+jwt}; claims are exactly the contract's", async () => {
      const registered = await register();
      const second = await login(registered.email);
      for (const token of [registered.access, second.access]) {
        // Section 7: every token names its key (kid).
        const { kid, ...header } = headerOf(token) as Record<string, unknown>;
        assert.ok(typeof kid === "string" && kid.length > 0, "kid");
        assert.deepEqual(header, { alg: "HS256", typ: "at+jwt" });
        const claims = claimsOf(token);
        assert.deepEqual(Object.keys(claims).sort(), ["amr", "exp", "iat", "iss", "jti", "sid", "sub", "token_version"]);
        assert.deepEqual(claims.amr, ["pwd"]);
        assert.equal(claims.iss, ISSUER);
        assert.equal(claims.sub, registered.user.id);
        assert.equal(typeof claims.sid, "string");
        assert.ok(Number.isInteger(claims.token_version));
        assert.ok(Number.isInteger(claims.iat) && Number.isInteger(claims.exp));
        assert.equal(claims.exp - claims.iat, ACCESS_TTL);
      }
      assert.notEqual(claimsOf(registered.access).jti, claimsOf(second.access).jti);
      assert.notEqual(claimsOf(registered.access).sid, claimsOf(second.access).sid);
    });

    test("token responses: token_type Bearer, expires_in is TOKENVER_ACCESS_TTL, opaque refresh of >= 128 bits", async () => {
      const registered = await call("POST", "/register", { body: { email: email(), password: PASSWORD } });
      const body = registered.body as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ["access", "expires_in", "refresh", "token_type", "user"]);
      assert.equal(body.token_type, "Bearer");
      assert.equal(body.expires_in, ACCESS_TTL);
      assert.ok(typeof body.refresh === "string" && body.refresh.length >= 22);
      assert.notEqual((body.refresh as string).split(".").length, 3, "the refresh token must not look like a JWS");
      const refreshed = await call("POST", "/token/refresh", { body: { refresh: body.refresh } });
      assert.equal(refreshed.status, 200);
      assert.deepEqual(Object.keys(refreshed.body).sort(), ["access", "expires_in", "refresh", "token_type"]);
      assert.equal(refreshed.body.token_type, "Bearer");
      assert.equal(refreshed.body.expires_in, ACCESS_TTL);
      assert.equal(claimsOf(refreshed.body.access).sid, claimsOf(body.access as string).sid, "a refresh keeps the session");
    });
  });

  describe("section 2: verification of presented tokens (RFC 8725, RFC 9068 section 4)", () => {
    let access: string;
    let claims: Record<string, unknown>;
    const H = { alg: "HS256", typ: "at+jwt" };
    const without = (key: string) => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== key));
    const profile = (token: string) => call("GET", "/profile", { token });
    before(async () => {
      ({ access } = await register());
      claims = claimsOf(access);
    });

    test("a token re-signed from the same header and claims is accepted (the forging below is faithful)", async () => {
      assert.equal((await profile(forge(H, claims))).status, 200);
    });

    // RFC 9068 section 4 (resource servers MUST accept both), RFC 7515 4.1.9 (media types are case-insensitive).
    test("typ application/at+jwt is accepted like at+jwt, case-insensitively", async () => {
      for (const typ of ["application/at+jwt", "AT+JWT"]) assert.equal((await profile(forge({ ...H, typ }, claims))).status, 200, typ);
    });

    test("every contract claim is required and typed", async () => {
      for (const key of ["iss", "sub", "sid", "token_version", "jti", "iat", "exp"]) {
        assertTokenRejected(await profile(forge(H, without(key))), "token_invalid");
      }
      assertTokenRejected(await profile(forge(H, { ...claims, token_version: String(claims.token_version) })), "token_invalid");
      assertTokenRejected(await profile(forge(H, { ...claims, token_version: 0.5 })), "token_invalid");
      assertTokenRejected(await profile(forge(H, { ...claims, exp: String(claims.exp) })), "token_invalid");
    });

    test("with TOKENVER_ISSUER set, the default issuer is foreign: token_invalid", async () => {
      assertTokenRejected(await profile(forge(H, { ...claims, iss: "tokenver" })), "token_invalid");
    });

    // Was a bug, fixed: RFC 7519 4.1.3 (MUST reject an aud that does not name us), RFC 8725 3.9, ASVS 5.0 9.2.3.
    test("a token with an audience that is not this service is refused", async () => {
      assertTokenRejected(await profile(forge(H, { ...claims, aud: "https://another-service.example" })), "token_invalid");
    });
  });

  describe("section 3: routing", () => {
    test("every path works with a trailing slash and with a query string", async () => {
      const user = await register();
      const sid = claimsOf(user.access).sid as string;
      const other = await login(user.email);
      const cases: Array<[string, string, () => unknown, string | undefined, number]> = [
        ["GET", "/health", () => undefined, undefined, 200],
        ["GET", "/openapi.json", () => undefined, undefined, 200],
        ["GET", "/docs", () => undefined, undefined, 200],
        ["POST", "/login", () => ({ email: user.email, password: PASSWORD }), undefined, 200],
        ["POST", "/register", () => ({ email: email(), password: PASSWORD }), undefined, 201],
        ["GET", "/profile", () => undefined, user.access, 200],
        ["PATCH", "/profile", () => ({ username: "slash" }), user.access, 200],
        ["GET", "/sessions", () => undefined, user.access, 200],
      ];
      for (const [method, path, bodyOf, token, status] of cases) {
        for (const variant of [`${path}/`, `${path}?x=1`, `${path}/?x=1`]) {
          const body = bodyOf();
          const options = { ...(body === undefined ? {} : { body }), ...(token === undefined ? {} : { token }) };
          assert.equal((await call(method, variant, options)).status, status, `${method} ${variant}`);
        }
      }
      assert.equal((await call("POST", "/token/refresh/", { body: { refresh: other.refresh } })).status, 200);
      assert.equal((await call("DELETE", `/sessions/${claimsOf(other.access).sid}/`, { token: user.access })).status, 204);
      assert.equal(
        (
          await call("POST", "/password/", {
            token: user.access,
            body: { current_password: PASSWORD, new_password: "another fine passphrase" },
          })
        ).status,
        200,
      );
      assert.notEqual(sid, claimsOf(other.access).sid);
    });

    test("HEAD answers like GET without a body (RFC 9110 9.3.2)", async () => {
      const { access } = await register();
      for (const [path, token, status] of [
        ["/health", undefined, 200],
        ["/openapi.json", undefined, 200],
        ["/docs", undefined, 200],
        ["/profile", access, 200],
        ["/profile", undefined, 401],
      ] as const) {
        const response = await call("HEAD", path, token === undefined ? {} : { token });
        assert.equal(response.status, status, `HEAD ${path}`);
        assert.equal(response.text, "");
        if (status === 401) assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer realm="tokenver"/);
      }
    });

    // Decision (README): a route is a method and a path, so another method on a known path is an
    // unknown route: 404 not_found, as API.md's table has it (it has no code for 405).
    test("a known path with a method it does not support is a 404 not_found problem", async () => {
      for (const [method, path] of [
        ["GET", "/login"],
        ["PUT", "/register"],
        ["DELETE", "/login"], // DELETE /profile exists since v2 (account deletion)
        ["POST", "/health"],
        ["OPTIONS", "/login"],
      ] as const) {
        const response = await call(method, path);
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/);
        assert.equal((response.body as { code: string }).code, "not_found");
      }
    });
  });

  describe("section 3: caching of token responses", () => {
    test("every token-bearing response and the errors of token endpoints carry no-store and no-cache", async () => {
      const address = email();
      const registered = await call("POST", "/register", { body: { email: address, password: PASSWORD } });
      assertNoStore(registered);
      assertNoStore(await call("POST", "/register", { body: { email: address, password: PASSWORD } }));
      const loggedIn = await call("POST", "/login", { body: { email: address, password: PASSWORD } });
      assertNoStore(loggedIn);
      assertNoStore(await call("POST", "/login", { body: { email: address, password: "wrong password!!" } }));
      assertNoStore(await call("POST", "/login", { raw: "{", headers: { "content-type": "application/json" } }));
      const refreshed = await call("POST", "/token/refresh", { body: { refresh: registered.body.refresh } });
      assertNoStore(refreshed);
      assertNoStore(await call("POST", "/token/refresh", { body: { refresh: registered.body.refresh } })); // reuse: 401
      assertNoStore(await call("POST", "/token/refresh", { body: { refresh: "not-a-refresh-token" } }));
      const changed = await call("POST", "/password", {
        token: loggedIn.body.access,
        body: { current_password: PASSWORD, new_password: "another fine passphrase" },
      });
      assert.equal(changed.status, 200);
      assertNoStore(changed);
      assertNoStore(
        await call("POST", "/password", {
          token: changed.body.access,
          body: { current_password: "wrong password!!", new_password: "yet another passphrase" },
        }),
      );
      assertNoStore(await call("GET", "/profile", { token: changed.body.access }));
      assertNoStore(await call("GET", "/sessions", { token: changed.body.access }));
    });
  });

  describe("section 3: registration, emails and passwords", () => {
    // Unicode: lower-cased like the ASCII part, and NFKC: NFC and NFD are one address (section 3).
    test("non-ASCII emails: trimmed, lower-cased and NFKC-normalised", async () => {
      const tag = `${process.pid}${Date.now()}`;
      const upper = await call("POST", "/register", { body: { email: `ÜNÏ${tag}@example.com`, password: PASSWORD } });
      assert.equal(upper.status, 201);
      assert.equal(upper.body.user.email, `ünï${tag}@example.com`);
      assert.equal((await call("POST", "/login", { body: { email: `ünï${tag}@EXAMPLE.com`, password: PASSWORD } })).status, 200);
      const nfc = await call("POST", "/register", { body: { email: `caf\u00e9${tag}@example.com`, password: PASSWORD } });
      const nfd = await call("POST", "/register", { body: { email: `cafe\u0301${tag}@example.com`, password: PASSWORD } });
      assert.equal(nfc.status, 201);
      assert.equal(nfc.body.user.email, `caf\u00e9${tag}@example.com`);
      assertProblem(nfd, 409, "email_taken");
      assertProblem(
        await call("POST", "/register", { body: { email: ` Ünï${tag}@Example.com `, password: PASSWORD } }),
        409,
        "email_taken",
      );
    });

    // Was a bug, fixed: the list is zxcvbn's, which leaves out repeats and sequences (zxcvbn scores those by
    // pattern), yet they are among the commonest passwords of every breach list (top-10k lists).
    test("the commonest repeats and sequences are refused too", async () => {
      const accepted: string[] = [];
      for (const common of ["00000000", "123123123", "987654321", "12341234", "88888888", "abcdefgh", "aaaaaaaa", "12121212"]) {
        const response = await call("POST", "/register", { body: { email: email(), password: common } });
        if (response.status !== 400) accepted.push(common);
      }
      assert.deepEqual(accepted, []);
    });

    // The pattern rule stops at 20 characters: API.md refuses the commonest passwords only, and a
    // tester of the 64- and 256-character limits may well build those passwords by repetition.
    test("long repeats are no common password: accepted at 21, 64 and 256 characters", async () => {
      assert.equal((await call("POST", "/register", { body: { email: email(), password: "ab".repeat(10) } })).status, 400, "20: refused");
      for (const password of ["x".repeat(21), "a".repeat(64), "Aa1!".repeat(64), "abcdefghijklmnopqrstu"]) {
        const response = await call("POST", "/register", { body: { email: email(), password } });
        assert.equal(response.status, 201, `${[...password].length} characters: ${response.text}`);
        assert.equal((await call("POST", "/login", { body: { email: response.body.user.email, password } })).status, 200);
      }
    });

    test("passwords are verified exactly as sent: no truncation, trimming or case folding (ASVS 6.2.8)", async () => {
      const long = `${"correct horse battery staple ".repeat(4)}A`;
      const spaced = "  spaced passphrase  ";
      const a = await call("POST", "/register", { body: { email: email(), password: long } });
      const b = await call("POST", "/register", { body: { email: email(), password: spaced } });
      assert.equal(a.status, 201);
      assert.equal(b.status, 201);
      const attempt = (address: string, password: string) => call("POST", "/login", { body: { email: address, password } });
      assertProblem(await attempt(a.body.user.email, `${long.slice(0, -1)}B`), 401, "invalid_credentials");
      assertProblem(await attempt(a.body.user.email, long.toLowerCase()), 401, "invalid_credentials");
      assertProblem(await attempt(b.body.user.email, spaced.trim()), 401, "invalid_credentials");
      assert.equal((await attempt(b.body.user.email, spaced)).status, 200);
    });
  });

  describe("section 2 and 3: logout, refresh and the token version", () => {
    test("logout with another user's refresh: that token is ignored and never revoked; the logout still happens", async () => {
      for (const scope of ["session", "all", undefined]) {
        const user = await register();
        const victim = await register();
        const body = scope === undefined ? { refresh: victim.refresh } : { scope, refresh: victim.refresh };
        assert.equal((await call("POST", "/logout", { token: user.access, body })).status, 204);
        assertTokenRejected(await call("GET", "/profile", { token: user.access }), "token_revoked");
        assert.equal((await call("POST", "/token/refresh", { body: { refresh: victim.refresh } })).status, 200, `scope ${scope}`);
        assert.equal((await call("GET", "/profile", { token: victim.access })).status, 200);
      }
    });

    // Was a bug, fixed: the caller's pre-change refresh token answers token_invalid ("unknown"): its rows are deleted.
    test("password change: the caller's previous refresh token is token_revoked (revoked by a version change)", async () => {
      const user = await register();
      const changed = await call("POST", "/password", {
        token: user.access,
        body: { current_password: PASSWORD, new_password: "another fine passphrase" },
      });
      assert.equal(changed.status, 200);
      assertTokenRejected(await call("POST", "/token/refresh", { body: { refresh: user.refresh } }), "token_revoked");
    });
  });

  describe("section 3: throttling", () => {
    const attempt = (address: string, password: string, headers: Record<string, string> = {}) =>
      throttled.api.request("POST", "/login", { body: { email: address, password }, headers });

    test("repeated failures for one account: 429 rate_limited with an integer Retry-After, even for the right password", async () => {
      const address = email("throttle");
      assert.equal((await throttled.api.post("/register", { email: address, password: PASSWORD })).status, 201);
      for (let i = 0; i < 3; i++) assert.equal((await attempt(address, "wrong password!!")).status, 401);
      for (const password of ["wrong password!!", PASSWORD]) {
        const limited = await attempt(address, password);
        assertProblem(limited, 429, "rate_limited");
        assert.match(limited.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
      }
      const differentCase = await attempt(address.toUpperCase(), PASSWORD);
      assert.equal(differentCase.status, 429, "the account is the normalised email");
    });
  });
}

/** Parsing, documents, the CLI and the package: the same whatever the store; SQLite only. */
function storeIndependentSections() {
  describe("section 3: request bodies", () => {
    const creds = () => ({ email: email(), password: PASSWORD });

    test("application/json with parameters or in any case is JSON", async () => {
      for (const type of [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json; Charset=UTF-8",
        "application/json;charset=utf-8",
      ]) {
        const response = await call("POST", "/register", { raw: JSON.stringify(creds()), headers: { "content-type": type } });
        assert.equal(response.status, 201, type);
      }
    });

    // Was a bug, fixed: the body is parsed as if Content-Encoding were absent (the Express adapter answers 415).
    test("a Content-Encoding the server does not decode is 415, not read as plain JSON", async () => {
      const response = await call("POST", "/register", {
        raw: JSON.stringify(creds()),
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
      });
      assertProblem(response, 415, "unsupported_media_type");
    });

    test("a JSON body with a BOM or duplicate keys never gives 500; a +json type is 415", async () => {
      assertProblem(
        await call("POST", "/register", { raw: JSON.stringify(creds()), headers: { "content-type": "application/vnd.api+json" } }),
        415,
        "unsupported_media_type",
      );
      const bom = await call("POST", "/register", {
        raw: `\uFEFF${JSON.stringify(creds())}`,
        headers: { "content-type": "application/json" },
      });
      assert.ok(bom.status === 201 || bom.status === 400, `BOM: ${bom.status}`);
      const duplicate = await call("POST", "/register", {
        raw: `{"email":"x@example.com","email":"${email()}","password":"${PASSWORD}"}`,
        headers: { "content-type": "application/json" },
      });
      assert.ok(duplicate.status === 201 || duplicate.status === 400, `duplicate keys: ${duplicate.status}`);
    });

    test("413 payload_too_large above 64 KiB exactly, not at 64 KiB, counted in bytes, also when chunked", async () => {
      const padded = (bytes: number, char = "x") => {
        const base = JSON.stringify({ email: "nobody@example.com", password: PASSWORD, pad: "" });
        const room = bytes - Buffer.byteLength(base);
        const unit = Buffer.byteLength(char);
        return base.replace('"pad":""', `"pad":"${char.repeat(Math.floor(room / unit))}${"x".repeat(room % unit)}"`);
      };
      const json = { "content-type": "application/json" };
      for (const char of ["x", "é"]) {
        const at = padded(65536, char);
        const over = padded(65537, char);
        assert.equal(Buffer.byteLength(at), 65536);
        assert.equal(
          (await call("POST", "/login", { raw: at, headers: json })).status,
          401,
          "64 KiB is accepted (and fails as credentials)",
        );
        const tooLarge = await call("POST", "/login", { raw: over, headers: json });
        assertProblem(tooLarge, 413, "payload_too_large");
      }
      for (const path of ["/register", "/token/refresh"])
        assertProblem(await call("POST", path, { raw: padded(70000), headers: json }), 413, "payload_too_large");
      const chunked = await rawRequest("POST", "/login", [["content-type", "application/json"]], [padded(40000), " ".repeat(40000)]);
      assert.equal(chunked.status, 413);
    });
  });

  describe("section 3: OpenAPI and response headers", () => {
    test("/openapi.json is an OpenAPI 3.1 document (no 3.0 keywords) with every endpoint, secured where the contract says", async () => {
      const response = await call("GET", "/openapi.json");
      assert.equal(response.status, 200);
      const doc = response.body as {
        openapi: string;
        info: { title: string; version: string };
        paths: Record<string, Record<string, any>>;
        components?: any;
        security?: unknown;
      };
      assert.match(doc.openapi, /^3\.1\.\d+$/);
      assert.equal(typeof doc.info.title, "string");
      assert.equal(typeof doc.info.version, "string");
      assert.doesNotMatch(response.text, /"nullable"\s*:/, "nullable is OpenAPI 3.0; 3.1 uses type arrays");
      const expected: Array<[string, string, boolean]> = [
        ["post", "/register", false],
        ["post", "/login", false],
        ["post", "/token/refresh", false],
        ["post", "/logout", true],
        ["get", "/profile", true],
        ["patch", "/profile", true],
        ["post", "/password", true],
        ["get", "/sessions", true],
        ["delete", "/sessions/{id}", true],
        ["get", "/health", false],
        ["get", "/openapi.json", false],
        ["get", "/docs", false],
      ];
      for (const [method, path, secured] of expected) {
        const operation = doc.paths[path]?.[method];
        assert.ok(operation, `${method.toUpperCase()} ${path} missing`);
        assert.ok(operation.responses && Object.keys(operation.responses).length > 0, `${method} ${path} responses`);
        const security = operation.security ?? doc.security ?? [];
        assert.equal(Array.isArray(security) && security.length > 0, secured, `${method} ${path} security`);
      }
      const scheme = Object.values(doc.components?.securitySchemes ?? {})[0] as { type: string; scheme: string } | undefined;
      assert.equal(scheme?.type, "http");
      assert.equal(scheme?.scheme.toLowerCase(), "bearer");
      const parameters = doc.paths["/sessions/{id}"]!.delete.parameters as Array<{ name: string; in: string; required: boolean }>;
      assert.ok(parameters.some((p) => p.name === "id" && p.in === "path" && p.required === true));
    });

    // Was a bug, fixed: no response carries X-Content-Type-Options (ASVS 5.0 3.4.4, Level 2).
    test("responses carry X-Content-Type-Options: nosniff", async () => {
      for (const path of ["/health", "/openapi.json", "/docs", "/nope"]) {
        assert.equal((await call("GET", path)).headers.get("x-content-type-options"), "nosniff", path);
      }
    });
  });

  describe("section 1: running it", () => {
    test("`tokenver migrate` applies migrations and exits 0, twice; the bin entry is the CLI", async () => {
      const url = `sqlite:${join(dir, "migrate.db")}`;
      for (let i = 0; i < 2; i++) assert.equal((await runCli(["migrate"], { TOKENVER_DATABASE_URL: url })).code, 0);
      const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
      assert.equal(pkg.bin?.tokenver, "dist/cli.js");
      assert.equal(pkg.type, "module");
      assert.match(pkg.engines?.node ?? "", />=\s*20/);
      assert.match(readFileSync(join(REPO_ROOT, "src/cli.ts"), "utf8").split("\n")[0]!, /^#!\/usr\/bin\/env node/);
    });

    test("defaults: 127.0.0.1:3000 and sqlite:./data/tokenver.db in the working directory, generated secret with a warning", async () => {
      const cwd = mkdtempSync(join(tmpdir(), "tokenver-defaults-"));
      const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(REPO_ROOT, "src/cli.ts"), "serve"], {
        cwd,
        env: cleanEnv({}),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      const exited = once(child, "exit");
      try {
        // Port 3000 may be taken on a shared machine: then the refusal names the same default address.
        const outcome = await new Promise<"listening" | "busy">((resolve, reject) => {
          const onData = (chunk: Buffer) => {
            output += chunk.toString();
            if (output.includes("Server listening at http://127.0.0.1:3000")) resolve("listening");
            if (/cannot listen on 127\.0\.0\.1:3000/.test(output)) resolve("busy");
          };
          child.stdout!.on("data", onData);
          child.stderr!.on("data", onData);
          void exited.then(() => setTimeout(() => reject(new Error(`exited: ${output}`)), 100));
          setTimeout(() => reject(new Error(`no start: ${output}`)), 30_000).unref();
        });
        if (outcome === "listening") assert.equal((await fetch("http://127.0.0.1:3000/health")).status, 200);
        assert.ok(existsSync(join(cwd, "data", "tokenver.db")), "the embedded SQLite file");
        assert.match(output, /secret/i, "a warning that a secret was generated");
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          await exited;
        }
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  });

  describe("section 5: the built package", () => {
    // By name, as an application imports it (package.json "exports"); typed from the sources.
    const load = async () => {
      const names = ["tokenver", "tokenver/fastify", "tokenver/express"];
      const [core, fastify, express] = await Promise.all(names.map((name) => import(name)));
      return { core: core as typeof import("../../src/index.js"), fastify, express };
    };

    test("createAuth().verify() resolves the principal or rejects with AuthError {code, status}", async () => {
      const { core, fastify, express } = await load();
      assert.equal(typeof fastify.default, "function");
      assert.equal(typeof express.tokenver, "function");
      // Its own database: the server's SQLite file is locked to the server.
      const auth = await core.createAuth({ databaseUrl: "sqlite::memory:", secret: SECRET, issuer: ISSUER });
      try {
        const user = await auth.register({ email: email(), password: PASSWORD });
        const principal = await auth.verify(`Bearer ${user.accessToken}`);
        assert.deepEqual(Object.keys(principal).sort(), ["claims", "sessionId", "tokenVersion", "userId"]);
        assert.equal(principal.userId, user.user.id);
        assert.equal(principal.sessionId, claimsOf(user.accessToken).sid);
        assert.equal(principal.tokenVersion, 0);
        assert.equal(principal.claims.sub, user.user.id);
        for (const [header, code] of [
          [undefined, "token_missing"],
          ["Bearer not.a.token", "token_invalid"],
          ["Basic abc", "token_missing"],
        ] as const) {
          await assert.rejects(
            auth.verify(header),
            (error: any) => error instanceof core.AuthError && error.code === code && error.status === 401,
          );
        }
      } finally {
        await auth.close();
      }
    });

    // Was a bug, fixed: a second process over the same SQLite file kept an in-process version cache
    // that never saw the server's writes. Now the file is locked to the server: a second instance is
    // refused at start-up (it could not honour the server's revocations).
    test("a library instance over the server's SQLite file is refused while the server runs", async () => {
      const { core } = await load();
      await assert.rejects(core.createAuth({ databaseUrl: `sqlite:${MAIN_DB}`, secret: SECRET, issuer: ISSUER }), (error: any) => {
        assert.ok(error instanceof TypeError);
        assert.match(String(error.message), /databaseUrl/);
        return true;
      });
    });
  });
}
