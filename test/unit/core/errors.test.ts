// Unit tests for src/core/errors.ts: the one error class and the fail-closed wrapper. Every
// adapter turns an AuthError into a problem document from exactly these members (code, status,
// detail, tokenPresented, errors, retryAfter, members), so each default and each override is
// pinned here; a store failure must become a 503 that carries nothing of the failure but its cause.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuthError, ERRORS, failClosed, isAuthError, unavailable, validationFailed } from "../../../src/core/errors.js";

describe("AuthError", () => {
  test("defaults: the code's title as the message, its status, no token presented, nothing else", () => {
    const error = new AuthError("token_revoked");
    assert.equal(error.name, "AuthError");
    assert.equal(error.code, "token_revoked");
    assert.equal(error.message, "Token revoked");
    assert.equal(error.status, 401);
    assert.equal(error.tokenPresented, false);
    assert.equal(error.errors, undefined);
    assert.equal(error.retryAfter, undefined);
    assert.equal(error.members, undefined);
    // No `cause` key at all when none is given: a logger must not print "cause: undefined".
    assert.equal(Object.hasOwn(error, "cause"), false);
    assert.ok(error instanceof Error);
  });

  test("every option is carried as given", () => {
    const cause = new Error("the store's own words");
    const errors = [{ field: "email", message: "must be a string" }];
    const members = { mfa_token: "abc" };
    const error = new AuthError("invalid_credentials", "Wrong password.", {
      status: 403,
      tokenPresented: true,
      errors,
      retryAfter: 7,
      cause,
      members,
    });
    assert.equal(error.message, "Wrong password.");
    assert.equal(error.status, 403);
    assert.equal(error.tokenPresented, true);
    assert.equal(error.errors, errors);
    assert.equal(error.retryAfter, 7);
    assert.equal(error.cause, cause);
    assert.equal(error.members, members);
  });

  test("a status override of the code's default (code_invalid: 400, 401 at sign-in)", () => {
    assert.equal(new AuthError("code_invalid").status, 400);
    assert.equal(new AuthError("code_invalid", undefined, { status: 401 }).status, 401);
    assert.equal(new AuthError("code_invalid", undefined, { status: 401 }).message, ERRORS.code_invalid.title);
  });

  test("an empty detail is kept, not replaced by the title", () => {
    assert.equal(new AuthError("not_found", "").message, "");
  });

  test("isAuthError tells an AuthError from any other error", () => {
    assert.equal(isAuthError(new AuthError("forbidden")), true);
    assert.equal(isAuthError(new Error("Forbidden")), false);
    assert.equal(isAuthError({ code: "forbidden", status: 403 }), false);
    assert.equal(isAuthError(undefined), false);
  });
});

describe("fail closed", () => {
  test("unavailable: 503 service_unavailable with a fixed detail, the failure kept only as the cause", () => {
    const cause = new Error("connect ECONNREFUSED 10.0.0.5:5432");
    const error = unavailable(cause);
    assert.equal(error.code, "service_unavailable");
    assert.equal(error.status, 503);
    assert.equal(error.message, "A backing store did not answer; try again later.");
    assert.equal(error.cause, cause);
    assert.equal(error.tokenPresented, false);
  });

  test("failClosed: a value passes through", async () => {
    assert.equal(await failClosed(async () => 42), 42);
  });

  test("failClosed: any other failure becomes a 503 that says nothing of it", async () => {
    const cause = new TypeError('relation "users" does not exist');
    await assert.rejects(
      failClosed(async () => Promise.reject(cause)),
      (error: unknown) => {
        assert.ok(error instanceof AuthError);
        assert.equal(error.code, "service_unavailable");
        assert.equal(error.status, 503);
        assert.doesNotMatch(error.message, /relation|users/);
        assert.equal(error.cause, cause);
        return true;
      },
    );
    // A thrown non-Error (a driver rejecting with a string) is a 503 as well.
    await assert.rejects(
      failClosed(async () => {
        throw "socket hang up";
      }),
      (error: unknown) => error instanceof AuthError && error.code === "service_unavailable" && error.cause === "socket hang up",
    );
  });

  test("failClosed: an AuthError passes through unchanged (a refusal is not an outage)", async () => {
    const refusal = new AuthError("not_found", "No such session.");
    await assert.rejects(
      failClosed(async () => {
        throw refusal;
      }),
      (error: unknown) => error === refusal,
    );
  });

  test("validationFailed: 400 validation_failed with the field errors and a fixed detail", () => {
    const errors = [{ field: "username", message: "must be a string" }];
    const error = validationFailed(errors);
    assert.equal(error.code, "validation_failed");
    assert.equal(error.status, 400);
    assert.equal(error.message, "The request body is invalid.");
    assert.deepEqual(error.errors, errors);
  });
});
