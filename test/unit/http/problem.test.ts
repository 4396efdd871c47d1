// Unit tests for src/http/problem.ts (toProblem): every error becomes an RFC 9457 problem response
// with the status of its code, WWW-Authenticate on 401, Retry-After on 429, and nothing leaked on 500.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuthError, ERRORS, unavailable, type ErrorCode } from "../../../src/core/errors.js";
import { toProblem } from "../../../src/http/problem.js";

/** The contract (docs/api.md): each code and the status it answers with. */
const STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  bad_request: 400,
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  refresh_reused: 401,
  invalid_credentials: 401,
  not_found: 404,
  email_taken: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
  link_invalid: 400,
  code_invalid: 400,
  csrf_failed: 403,
  mfa_required: 403,
  email_unverified: 403,
  account_disabled: 403,
  forbidden: 403,
  mfa_token_invalid: 401,
  invalid_client: 401,
  mfa_enabled: 409,
};

const PLAIN_CHALLENGE = 'Bearer realm="tokenver"';
/** RFC 6750 section 3, with error_description a quoted-string of printable ASCII without `"` or `\`. */
const TOKEN_CHALLENGE = /^Bearer realm="tokenver", error="invalid_token"(, error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*")?$/;

describe("toProblem: AuthError codes", () => {
  test("the test's table covers every code there is", () => {
    assert.deepEqual(Object.keys(STATUS).sort(), Object.keys(ERRORS).sort());
  });

  for (const [code, status] of Object.entries(STATUS) as Array<[ErrorCode, number]>) {
    test(`${code} is ${status}, as application/problem+json`, () => {
      const problem = toProblem(new AuthError(code, "some detail"));
      assert.equal(problem.status, status);
      assert.equal(problem.headers["content-type"], "application/problem+json");
      assert.equal(problem.body.status, status, "the body repeats the status");
      assert.equal(problem.body.code, code);
      assert.equal(problem.body.detail, "some detail");
      assert.equal(typeof problem.body.title, "string");
      assert.ok(problem.body.type.length > 0);
      assert.equal("errors" in problem.body, false, "no errors member unless there are field errors");
      // Introspection's clients authenticate with HTTP Basic (docs/api.md section 7).
      if (code === "invalid_client") assert.equal(problem.headers["www-authenticate"], 'Basic realm="tokenver"');
      else if (status === 401) assert.equal(problem.headers["www-authenticate"], PLAIN_CHALLENGE);
      else assert.equal(problem.headers["www-authenticate"], undefined, "WWW-Authenticate only on 401");
      assert.equal(problem.headers["retry-after"], undefined);
    });
  }

  test("each code has its own type URI", () => {
    const types = Object.keys(STATUS).map((code) => toProblem(new AuthError(code as ErrorCode)).body.type);
    assert.equal(new Set(types).size, types.length);
  });

  test("a status override is answered (403 invalid_credentials), and carries no WWW-Authenticate", () => {
    const problem = toProblem(new AuthError("invalid_credentials", "wrong current password", { status: 403, tokenPresented: true }));
    assert.equal(problem.status, 403);
    assert.equal(problem.body.status, 403);
    assert.equal(problem.body.code, "invalid_credentials");
    assert.equal(problem.headers["www-authenticate"], undefined);
  });

  test("field errors are passed through", () => {
    const errors = [
      { field: "email", message: "must be string" },
      { field: "password", message: "is too common" },
    ];
    const problem = toProblem(new AuthError("validation_failed", "invalid", { errors }));
    assert.equal(problem.status, 400);
    assert.deepEqual(problem.body.errors, errors);
  });
});

describe("toProblem: WWW-Authenticate", () => {
  test('error="invalid_token" only when a token was presented', () => {
    for (const code of ["token_invalid", "token_expired", "token_revoked"] as const) {
      const presented = toProblem(new AuthError(code, "detail", { tokenPresented: true }));
      assert.match(presented.headers["www-authenticate"]!, TOKEN_CHALLENGE, code);
      const notPresented = toProblem(new AuthError(code, "detail"));
      assert.equal(notPresented.headers["www-authenticate"], PLAIN_CHALLENGE, `${code} without a token`);
    }
    assert.equal(toProblem(new AuthError("token_missing")).headers["www-authenticate"], PLAIN_CHALLENGE);
  });

  test("a detail with quotes, backslashes, CR/LF or non-ASCII cannot break out of error_description", () => {
    const detail = 'bad "token" \\ here\r\nSet-Cookie: a=b; é ✓';
    const header = toProblem(new AuthError("token_invalid", detail, { tokenPresented: true })).headers["www-authenticate"]!;
    assert.match(header, TOKEN_CHALLENGE);
    assert.doesNotMatch(header, /[\r\n]/);
  });
});

describe("toProblem: Retry-After", () => {
  test("429 carries Retry-After in seconds", () => {
    const problem = toProblem(new AuthError("rate_limited", "slow down", { retryAfter: 17 }));
    assert.equal(problem.status, 429);
    assert.equal(problem.headers["retry-after"], "17");
    assert.equal(problem.headers["www-authenticate"], undefined);
  });
});

describe("toProblem: errors that are not AuthErrors", () => {
  const SECRET_MESSAGE = "SELECT password_hash FROM users WHERE id = 42 /srv/tokenver/secret.key";

  test("an unknown Error is a 500 internal_error that leaks neither message nor stack", () => {
    const error = new Error(SECRET_MESSAGE);
    const problem = toProblem(error);
    assert.equal(problem.status, 500);
    assert.equal(problem.body.code, "internal_error");
    assert.equal(problem.headers["content-type"], "application/problem+json");
    const serialised = JSON.stringify(problem);
    for (const leak of ["SELECT", "password_hash", "/srv/tokenver", "secret.key", error.stack!.split("\n")[1]!.trim()]) {
      assert.ok(!serialised.includes(leak), `leaks ${JSON.stringify(leak)}`);
    }
    assert.deepEqual(Object.keys(problem.body).sort(), ["code", "detail", "status", "title", "type"]);
  });

  test("a thrown non-Error (string, null, undefined, object) is a 500 too", () => {
    for (const thrown of [SECRET_MESSAGE, null, undefined, 42, { message: SECRET_MESSAGE }]) {
      const problem = toProblem(thrown);
      assert.equal(problem.status, 500, String(thrown));
      assert.equal(problem.body.code, "internal_error");
      assert.ok(!JSON.stringify(problem).includes("SELECT"));
    }
  });

  test("an unavailable store is 503 without its cause", () => {
    const problem = toProblem(unavailable(new Error(SECRET_MESSAGE)));
    assert.equal(problem.status, 503);
    assert.equal(problem.body.code, "service_unavailable");
    assert.ok(!JSON.stringify(problem).includes("SELECT"));
  });

  test("framework errors map to codes of the contract, without their message", () => {
    const framework = (statusCode: number, extra: object = {}) => Object.assign(new Error(SECRET_MESSAGE), { statusCode, ...extra });
    const cases: Array<[unknown, number, ErrorCode]> = [
      [framework(413), 413, "payload_too_large"],
      [framework(415), 415, "unsupported_media_type"],
      [framework(404), 404, "not_found"],
      [framework(400, { code: "FST_ERR_CTP_INVALID_JSON" }), 400, "bad_request"],
      [framework(418), 400, "bad_request"],
      [framework(503), 503, "service_unavailable"],
      [framework(502), 500, "internal_error"],
      [Object.assign(new RangeError(SECRET_MESSAGE), { code: "FST_ERR_VALIDATION" }), 400, "bad_request"],
    ];
    for (const [error, status, code] of cases) {
      const problem = toProblem(error);
      const what = `${(error as { statusCode?: number }).statusCode ?? (error as Error).name}`;
      assert.equal(problem.status, status, what);
      assert.equal(problem.body.code, code, what);
      assert.ok(!JSON.stringify(problem).includes("SELECT"), `${what} leaks its message`);
    }
  });

  test("schema validation errors become validation_failed with one field per error", () => {
    const error = Object.assign(new Error(SECRET_MESSAGE), {
      statusCode: 400,
      validation: [
        { instancePath: "/email", message: "must be string", params: { type: "string" } },
        { instancePath: "", message: "must have required property 'password'", params: { missingProperty: "password" } },
        { instancePath: "/profile", message: "must have required property 'name'", params: { missingProperty: "name" } },
      ],
    });
    const problem = toProblem(error);
    assert.equal(problem.status, 400);
    assert.equal(problem.body.code, "validation_failed");
    assert.deepEqual(
      problem.body.errors!.map((e) => e.field),
      ["email", "password", "profile.name"],
    );
  });
});
