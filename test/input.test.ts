import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { USER_KEYS } from "./support/user-keys.js";
import { dialects } from "./support/databases.js";
import { startServer, TEST_SECRET, uniqueEmail, type ApiResponse, type TestServer } from "./support/server.js";

const PASSWORD = "a long and unguessable passphrase";
const PROBLEM_KEYS = ["code", "detail", "status", "title", "type"];

/** Nothing a response carries may reveal internals: stack, SQL, driver, file path, secret. */
function assertNoLeak(response: ApiResponse, secrets: string[] = []): void {
  const text = response.text;
  assert.doesNotMatch(text, /\bat [\w.<>]+ \(|\bat (file|node):|\n\s+at /, "stack trace");
  assert.doesNotMatch(text, /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b/i, "SQL");
  assert.doesNotMatch(text, /sqlite|better-sqlite3|kysely|\bpg\b|postgres|SQLSTATE/i, "store details");
  assert.doesNotMatch(text, /(\/[\w.-]+)+\.(ts|js|mjs|db)\b|node_modules|[A-Z]:\\/, "file path");
  for (const secret of [TEST_SECRET, ...secrets]) assert.ok(!text.includes(secret), "a secret or password is echoed");
}

/** An RFC 9457 problem with the contract's fields; `errors` on validation_failed. */
function assertProblem(response: ApiResponse, status: number | number[], code?: string | string[], secrets: string[] = []): void {
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(response.status), `expected ${statuses.join("/")}, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/problem\+json/, response.text);
  const body = response.body as Record<string, unknown>;
  assert.ok(body !== null && typeof body === "object", "a JSON object body");
  assert.deepEqual(
    Object.keys(body)
      .filter((k) => k !== "errors")
      .sort(),
    PROBLEM_KEYS,
    response.text,
  );
  assert.equal(body.status, response.status);
  for (const key of ["type", "title", "detail", "code"]) assert.equal(typeof body[key], "string", key);
  if (code !== undefined) {
    const codes = Array.isArray(code) ? code : [code];
    assert.ok(codes.includes(body.code as string), `expected code ${codes.join("/")}, got ${String(body.code)}`);
  }
  if (body.code === "validation_failed") {
    assert.ok(Array.isArray(body.errors) && body.errors.length > 0, "validation_failed lists errors");
    for (const e of body.errors as unknown[]) {
      assert.deepEqual(Object.keys(e as object).sort(), ["field", "message"]);
      assert.equal(typeof (e as { field: unknown }).field, "string");
      assert.equal(typeof (e as { message: unknown }).message, "string");
    }
  } else {
    assert.equal(body.errors, undefined);
  }
  assertNoLeak(response, secrets);
}

interface Endpoint {
  method: string;
  path: string;
  /** Needs a bearer token. */
  auth: boolean;
  /** A body the endpoint accepts, used as a base for wrong-typed variants. */
  valid: () => Record<string, unknown>;
  /** Each field and a few values of the wrong type for it. */
  wrongTypes: Record<string, unknown[]>;
  /** Fields that are required (missing one is validation_failed). */
  required: string[];
}

const WRONG = [123, true, null, [], {}, ["x"]];

for (const dialect of dialects()) {
  describe(`bad input on every endpoint (${dialect})`, () => {
    let server: TestServer;
    let email: string;
    let access: string;
    let refresh: string;

    const endpoints: Endpoint[] = [
      {
        method: "POST",
        path: "/register",
        auth: false,
        valid: () => ({ email: uniqueEmail(), password: PASSWORD, username: "someone" }),
        wrongTypes: { email: WRONG, password: [12345678, true, null, [], {}], username: [5, true, [], {}] },
        required: ["email", "password"],
      },
      {
        method: "POST",
        path: "/login",
        auth: false,
        valid: () => ({ email, password: PASSWORD }),
        wrongTypes: { email: WRONG, password: [12345678, true, null, [], {}] },
        required: ["email", "password"],
      },
      {
        method: "POST",
        path: "/token/refresh",
        auth: false,
        valid: () => ({ refresh }),
        wrongTypes: { refresh: WRONG },
        required: ["refresh"],
      },
      {
        method: "POST",
        path: "/logout",
        auth: true,
        valid: () => ({ scope: "session" }),
        wrongTypes: { scope: [1, true, [], {}, "everything", "ALL"], refresh: [1, true, [], {}] },
        required: [],
      },
      {
        method: "PATCH",
        path: "/profile",
        auth: true,
        valid: () => ({ username: "renamed" }),
        wrongTypes: { username: [5, true, [], {}] },
        required: [],
      },
      {
        method: "POST",
        path: "/password",
        auth: true,
        valid: () => ({ current_password: PASSWORD, new_password: "another long passphrase" }),
        wrongTypes: { current_password: WRONG, new_password: [12345678, true, null, [], {}] },
        required: ["current_password", "new_password"],
      },
    ];

    const send = (endpoint: Endpoint, options: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string> }) => {
      const headers: Record<string, string> = { ...options.headers };
      if (endpoint.auth) headers.authorization = `Bearer ${access}`;
      if (options.raw !== undefined && typeof options.raw !== "string") {
        // A Buffer body: fetch adds no content-type for it, so "no content type" can be tested.
        return rawFetch(server.url + endpoint.path, endpoint.method, headers, options.raw);
      }
      return server.api.request(endpoint.method, endpoint.path, { ...options, raw: options.raw as string | undefined, headers });
    };
    const json = (endpoint: Endpoint, raw: string) => send(endpoint, { raw, headers: { "content-type": "application/json" } });

    /** A fresh account, so a bad-input case that is wrongly accepted cannot break the next one. */
    const freshAccount = async () => {
      const registered = await server.api.register();
      email = registered.email;
      access = registered.access;
      refresh = registered.refresh;
    };

    before(async () => {
      // Generous throttling: these tests send many bad requests from one address on purpose.
      server = await startServer({ dialect, rateLimit: { accountFailures: 1000, addressFailures: 1000 } });
      await freshAccount();
    });
    after(() => server.close());

    for (const endpoint of endpoints) {
      describe(`${endpoint.method} ${endpoint.path}`, () => {
        // Valid variants (e.g. the body just under 64 KiB) log out, rotate or change the password.
        if (endpoint.auth || endpoint.path === "/token/refresh") beforeEach(freshAccount);

        test("malformed JSON is 400, never 500", async () => {
          for (const raw of ['{"email":', "{'a': 1}", "{,}", '{"a":1}}', "nul", "\u0000", '{"a": 01}']) {
            assertProblem(await json(endpoint, raw), 400, ["bad_request", "validation_failed"]);
          }
        });

        test("null, arrays, numbers, strings and booleans as the body are 400", async () => {
          const bodies = ["[]", `[${JSON.stringify(endpoint.valid())}]`, "42", '"a string"', "true", "false"];
          // An empty JSON body is allowed only where the body itself is optional (POST /logout).
          if (endpoint.path !== "/logout") bodies.push("null");
          for (const raw of bodies) assertProblem(await json(endpoint, raw), 400, ["validation_failed", "bad_request"]);
        });

        test("wrong types per field are 400 validation_failed, never coerced", async () => {
          for (const [field, values] of Object.entries(endpoint.wrongTypes)) {
            for (const value of values) {
              const response = await send(endpoint, { body: { ...endpoint.valid(), [field]: value } });
              assertProblem(response, 400, "validation_failed");
              assert.ok(
                (response.body.errors as Array<{ field: string }>).some((e) => e.field === field || e.field === ""),
                `${field}=${JSON.stringify(value)}: the error names the field: ${response.text}`,
              );
            }
          }
        });

        if (endpoint.required.length > 0) {
          test("missing fields and an empty body are 400 validation_failed", async () => {
            for (const field of endpoint.required) {
              const { [field]: _removed, ...rest } = endpoint.valid();
              assertProblem(await send(endpoint, { body: rest }), 400, "validation_failed");
            }
            assertProblem(await send(endpoint, { body: {} }), 400, "validation_failed");
            assertProblem(await json(endpoint, ""), 400, ["validation_failed", "bad_request"]);
          });
        }

        test("a 2 MiB body is 413 payload_too_large", async () => {
          const raw = JSON.stringify({ ...endpoint.valid(), padding: "x".repeat(2 * 1024 * 1024) });
          assertProblem(await json(endpoint, raw), 413, "payload_too_large");
        });

        test("a body just over 64 KiB is 413, one just under is not", async () => {
          const over = JSON.stringify({ ...endpoint.valid(), padding: "x".repeat(64 * 1024) });
          assertProblem(await json(endpoint, over), 413, "payload_too_large");
          const under = JSON.stringify({ ...endpoint.valid(), padding: "x".repeat(60 * 1024) });
          const response = await json(endpoint, under);
          assert.notEqual(response.status, 413);
          assert.ok(response.status < 500, response.text);
        });

        test("text/plain, another type or no content type with a body is 415 or 400, never 500", async () => {
          const body = JSON.stringify(endpoint.valid());
          for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x"]) {
            assertProblem(
              await send(endpoint, { raw: body, headers: { "content-type": type } }),
              [400, 415],
              ["unsupported_media_type", "bad_request"],
            );
          }
          assertProblem(await send(endpoint, { raw: Buffer.from(body) }), [400, 415], ["unsupported_media_type", "bad_request"]);
        });

        test("__proto__ and constructor.prototype pollution is refused and pollutes nothing", async () => {
          const valid = JSON.stringify(endpoint.valid()).slice(1, -1);
          const attacks = [
            `{${valid}, "__proto__": {"token_version": 99, "polluted": true}}`,
            `{${valid}, "constructor": {"prototype": {"token_version": 99, "polluted": true}}}`,
          ];
          for (const raw of attacks) {
            const response = await json(endpoint, raw);
            assertProblem(response, 400, ["bad_request", "validation_failed"]);
          }
          // The server runs in this process: its Object.prototype is ours.
          assert.equal(({} as Record<string, unknown>).polluted, undefined);
          assert.equal(({} as Record<string, unknown>).token_version, undefined);
        });

        test("deeply nested JSON is 400, never 500", async () => {
          const depth = 5000;
          const nestings = ["[".repeat(depth) + "]".repeat(depth), '{"a":'.repeat(depth) + "1" + "}".repeat(depth)];
          const withNested = (field: string, nested: string) =>
            JSON.stringify({ ...endpoint.valid(), [field]: "PLACEHOLDER" }).replace('"PLACEHOLDER"', nested);
          for (const nested of nestings) {
            for (const field of Object.keys(endpoint.wrongTypes)) {
              assertProblem(await json(endpoint, withNested(field, nested)), 400, ["validation_failed", "bad_request"]);
            }
          }
          // Under an unknown key (which is dropped) the request may even succeed (and log out, say:
          // so these go last); it never fails with a 5xx.
          for (const nested of nestings) {
            const unknown = await json(endpoint, withNested("padding", nested));
            assert.ok(unknown.status < 500, unknown.text);
          }
        });

        test("very long strings are 400 validation_failed", async () => {
          const long = "a".repeat(20_000);
          for (const field of Object.keys(endpoint.wrongTypes)) {
            const value = field === "email" ? `${long}@example.com` : long;
            const response = await send(endpoint, { body: { ...endpoint.valid(), [field]: value } });
            assertProblem(response, 400, "validation_failed", [long]);
          }
        });
      });
    }

    describe("forbidden and unknown fields are never stored", () => {
      const forbidden = {
        id: "00000000-0000-0000-0000-000000000000",
        token_version: 7,
        created_at: "1999-01-01T00:00:00.000Z",
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        is_admin: true,
        email_verified: true,
      };

      test("register ignores or refuses them", async () => {
        const userEmail = uniqueEmail();
        const response = await server.api.post("/register", { email: userEmail, password: PASSWORD, ...forbidden });
        if (response.status !== 201) {
          assertProblem(response, 400, "validation_failed");
          return;
        }
        const user = response.body.user;
        assert.notEqual(user.id, forbidden.id);
        assert.equal(user.token_version, 0);
        assert.notEqual(user.created_at, forbidden.created_at);
        const profile = await server.api.get("/profile", response.body.access);
        assert.equal(profile.status, 200);
        assert.deepEqual(Object.keys(profile.body).sort(), [...USER_KEYS]);
        assert.equal(profile.body.id, user.id);
        assert.equal(profile.body.token_version, 0);
        assert.notEqual(profile.body.created_at, forbidden.created_at);
        // The real password still works: no password_hash was taken from the body.
        const login = await server.api.post("/login", { email: userEmail, password: PASSWORD });
        assert.equal(login.status, 200);
        assert.equal(login.body.user.token_version, 0);
      });

      test("PATCH /profile ignores or refuses them", async () => {
        const user = await server.api.register();
        const before = (await server.api.get("/profile", user.access)).body;
        const response = await server.api.request("PATCH", "/profile", {
          token: user.access,
          body: { username: "patched", ...forbidden, email: "other@example.com" },
        });
        if (response.status !== 200) assertProblem(response, 400, "validation_failed");
        const after = await server.api.get("/profile", user.access);
        assert.equal(after.status, 200, "the token still works: the version did not move");
        assert.equal(after.body.id, before.id);
        assert.equal(after.body.token_version, 0);
        assert.equal(after.body.created_at, before.created_at);
        assert.equal(after.body.email, before.email, "email is not changed through PATCH /profile");
        assert.deepEqual(Object.keys(after.body).sort(), [...USER_KEYS]);
        assert.equal((await server.api.post("/login", { email: user.email, password: user.password })).status, 200);
      });
    });

    describe("passwords", () => {
      const register = (password: string) => server.api.post("/register", { email: uniqueEmail(), password });

      test("8 characters is the minimum; 7 is refused", async () => {
        assertProblem(await register("x7Qk#pZ"), 400, "validation_failed", ["x7Qk#pZ"]);
        assert.equal((await register("x7Qk#pZ2")).status, 201);
      });

      test("the maximum is 256 code points, not UTF-16 units", async () => {
        // Each emoji is one code point and two UTF-16 units (four UTF-8 bytes).
        const at256 = "\u{1F510}".repeat(255) + "\u{1F511}";
        assert.equal([...at256].length, 256);
        const ok = await register(at256);
        assert.equal(ok.status, 201, ok.text);
        assert.equal((await server.api.post("/login", { email: ok.body.user.email, password: at256 })).status, 200);
        assertProblem(await register(at256 + "\u{1F512}"), 400, "validation_failed", [at256]);
        // 7 emoji are 14 UTF-16 units but only 7 characters: too short.
        assertProblem(await register("\u{1F510}".repeat(7)), 400, "validation_failed");
        assert.equal((await register("\u{1F510}\u{1F511}\u{1F512}\u{1F513}\u{1F514}\u{1F515}\u{1F516}\u{1F517}")).status, 201);
      });

      test("common passwords are refused with validation_failed", async () => {
        for (const common of ["password1234", "password", "12345678", "qwertyuiop", "iloveyou", "Password123"]) {
          const response = await register(common);
          // ("password" itself is also a field name, so only longer values are checked for echoes.)
          assertProblem(response, 400, "validation_failed", common === "password" ? [] : [common]);
          assert.ok(
            response.body.errors.some((e: { field: string }) => e.field === "password"),
            response.text,
          );
        }
      });

      test("POST /password applies the same policy to new_password", async () => {
        const user = await server.api.register();
        for (const bad of ["short", "password1234", "\u{1F510}".repeat(257)]) {
          const response = await server.api.post("/password", { current_password: user.password, new_password: bad }, user.access);
          assertProblem(response, 400, "validation_failed", [bad, user.password]);
        }
        assert.equal((await server.api.get("/profile", user.access)).status, 200, "a refused change revokes nothing");
      });

      test("no error response echoes a submitted password", async () => {
        const user = await server.api.register();
        const wrong = "the-wrong-password-42";
        const login = await server.api.post("/login", { email: user.email, password: wrong });
        assertProblem(login, 401, "invalid_credentials", [wrong, user.password]);
        const change = await server.api.post("/password", { current_password: wrong, new_password: "yet another passphrase" }, user.access);
        assertProblem(change, 403, "invalid_credentials", [wrong, user.password]);
      });
    });

    describe("control characters", () => {
      // A NUL byte cannot be stored in PostgreSQL text: unless refused up front it surfaces as a
      // store failure (503, a false "the database is down") instead of a 400.
      const withNul = (value: string) => `${value.slice(0, 2)}\u0000${value.slice(2)}`;

      test("a NUL byte in the email is refused on register and never reaches the store on login", async () => {
        const register = await server.api.post("/register", { email: withNul(uniqueEmail()), password: PASSWORD });
        assertProblem(register, 400, "validation_failed");
        const login = await server.api.post("/login", { email: withNul(uniqueEmail()), password: PASSWORD });
        assertProblem(login, [400, 401], ["validation_failed", "invalid_credentials"]);
      });

      test("a NUL byte or other control character in the username is 400 validation_failed", async () => {
        for (const username of [withNul("someone"), "some\u0007one", "line\nbreak"]) {
          assertProblem(
            await server.api.post("/register", { email: uniqueEmail(), password: PASSWORD, username }),
            400,
            "validation_failed",
          );
          const user = await server.api.register();
          assertProblem(
            await server.api.request("PATCH", "/profile", { token: user.access, body: { username } }),
            400,
            "validation_failed",
          );
        }
      });
    });

    describe("emails", () => {
      test("a duplicate differing only in case or surrounding whitespace is 409 email_taken", async () => {
        const local = `Dup${Date.now()}`;
        assert.equal((await server.api.post("/register", { email: `${local}@Example.COM`, password: PASSWORD })).status, 201);
        for (const variant of [
          `${local.toLowerCase()}@example.com`,
          `  ${local.toUpperCase()}@EXAMPLE.COM  `,
          `\t${local}@example.com\n`,
        ]) {
          assertProblem(await server.api.post("/register", { email: variant, password: PASSWORD }), 409, "email_taken");
        }
        // And logging in with another casing finds the account.
        assert.equal((await server.api.post("/login", { email: ` ${local.toUpperCase()}@example.com`, password: PASSWORD })).status, 200);
      });

      test("addresses that are not emails are 400 validation_failed", async () => {
        for (const bad of ["", "   ", "no-at-sign", "@example.com", "a@", "a b@example.com", "a@b"]) {
          const response = await server.api.post("/register", { email: bad, password: PASSWORD });
          assertProblem(response, 400, "validation_failed");
          assert.ok(
            response.body.errors.some((e: { field: string }) => e.field === "email"),
            response.text,
          );
        }
      });
    });

    test("POST /logout with an empty body logs out (the body is optional)", async () => {
      const user = await server.api.register();
      assert.equal((await server.api.request("POST", "/logout", { token: user.access })).status, 204);
      assert.equal((await server.api.get("/profile", user.access)).body.code, "token_revoked");
    });
  });
}

/** fetch with a Buffer body, so no content-type is added. */
async function rawFetch(url: string, method: string, headers: Record<string, string>, body: Buffer): Promise<ApiResponse> {
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

describe("a field that fails a union gets one line in errors[], saying why", () => {
  let server: TestServer;
  let access: string;
  before(async () => {
    server = await startServer();
    access = (await server.api.register()).access;
  });
  after(() => server.close());

  const cases: [string, string, () => Record<string, unknown>, string, string | RegExp][] = [
    [
      "a nullable username that is too long",
      "/register",
      () => ({ email: uniqueEmail(), password: PASSWORD, username: "u".repeat(65) }),
      "username",
      /64 characters/,
    ],
    [
      "a nullable username of the wrong type",
      "/register",
      () => ({ email: uniqueEmail(), password: PASSWORD, username: 5 }),
      "username",
      "must be string or null",
    ],
    ["a logout scope that is neither value", "/logout", () => ({ scope: "everything" }), "scope", 'must be "all" or "session"'],
  ];
  for (const [name, path, body, field, message] of cases) {
    test(name, async () => {
      const response = await server.api.post(path, body(), path === "/logout" ? access : undefined);
      assertProblem(response, 400, "validation_failed");
      assert.equal(response.body.errors.length, 1, JSON.stringify(response.body.errors));
      assert.equal(response.body.errors[0].field, field);
      if (typeof message === "string") assert.equal(response.body.errors[0].message, message);
      else assert.match(response.body.errors[0].message, message);
    });
  }
});

/** Writes raw bytes to the server and reads everything it sends back until it closes. */
function rawExchange(url: string, request: string): Promise<{ status: number; headers: Map<string, string>; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const [head = "", text = ""] = raw.split("\r\n\r\n");
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers = new Map(
        lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]),
      );
      resolve({ status: Number(statusLine.split(" ")[1]), headers, text });
    });
  });
}

describe("requests the HTTP parser refuses get problem+json too", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const cases: [string, string, number][] = [
    ["a request line that is not HTTP", "GARBAGE\r\n\r\n", 400],
    [
      "both Content-Length and Transfer-Encoding",
      "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
      400,
    ],
    ["headers over 16 KiB", `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
  ];
  for (const [name, request, status] of cases) {
    test(name, async () => {
      const response = await rawExchange(server.url, request);
      assert.equal(response.status, status, response.text);
      assert.equal(response.headers.get("content-type"), "application/problem+json");
      assert.equal(Number(response.headers.get("content-length")), Buffer.byteLength(response.text));
      const body = JSON.parse(response.text) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), PROBLEM_KEYS);
      assert.equal(body.status, status);
      assert.equal(body.code, "bad_request");
      assertNoLeak({ status: response.status, headers: new Headers(), body, text: response.text });
      // The server goes on serving.
      assert.equal((await server.api.get("/health")).status, 200);
    });
  }
});
