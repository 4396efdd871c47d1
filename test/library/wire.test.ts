import assert from "node:assert/strict";
import { test } from "node:test";
import { Type } from "typebox";
import { AuthError } from "../../src/index.js";
import * as wire from "../../src/http/wire.js";

const profile = Type.Object({ displayName: Type.String(), seats: Type.Optional(Type.Integer()) });

test("the user view: built-in fields in wire names, then only the configured custom fields, named as the app named them", () => {
  const user = {
    id: "u1",
    email: "a@example.com",
    username: null,
    tokenVersion: 3,
    createdAt: "2026-01-01T00:00:00.000Z",
    role: "user" as const,
    disabled: false,
    mfaEnabled: false,
    recoveryCodesLeft: 0,
    emailVerified: true,
    displayName: "Ann",
    dropped_from_config: "old",
  };
  assert.deepStrictEqual(wire.userView(profile)(user), {
    id: "u1",
    email: "a@example.com",
    username: null,
    token_version: 3,
    created_at: "2026-01-01T00:00:00.000Z",
    role: "user",
    disabled: false,
    mfa_enabled: false,
    recovery_codes_left: 0,
    email_verified: true,
    displayName: "Ann",
  });
});

test("token pairs and sessions in wire names", () => {
  const pair = { accessToken: "a", refreshToken: "r", tokenType: "Bearer" as const, expiresIn: 900 };
  assert.deepStrictEqual(wire.tokenPairView(pair), { access: "a", refresh: "r", token_type: "Bearer", expires_in: 900 });
  const session = { id: "s", createdAt: "c", lastUsedAt: "l", userAgent: null, current: true };
  assert.deepStrictEqual(wire.sessionListView({ sessions: [session], nextCursor: "n" }), {
    sessions: [{ id: "s", created_at: "c", last_used_at: "l", user_agent: null, current: true }],
    next_cursor: "n",
  });
  assert.deepStrictEqual(wire.sessionListView({ sessions: [], nextCursor: null }), { sessions: [], next_cursor: null });
  assert.deepStrictEqual(wire.sessionsQueryInput({ limit: "007", cursor: "c" }), { limit: 7, cursor: "c" });
  assert.deepStrictEqual(wire.sessionsQueryInput({}), {});
});

test("request bodies in core's names", () => {
  assert.deepStrictEqual(wire.changePasswordInput.toCore({ current_password: "old", new_password: "new" }), {
    currentPassword: "old",
    newPassword: "new",
  });
  assert.deepStrictEqual(wire.logoutInput.toCore({ refresh: "r", scope: "session" }), { refreshToken: "r", scope: "session" });
  assert.equal(wire.refreshInput.toCore({ refresh: "r" }), "r");
});

test("core's validation errors name the wire's fields; nothing else changes", () => {
  const error = new AuthError("validation_failed", "The request body is invalid.", {
    errors: [
      { field: "newPassword", message: "must not be a common password" },
      { field: "newPasswordHint", message: "an app's own field, untouched" },
      { field: "displayName", message: "an app's own field, untouched" },
    ],
  });
  const renamed = wire.toWireError(error, wire.changePasswordInput.fields) as AuthError;
  assert.ok(renamed instanceof AuthError);
  assert.equal(renamed.code, "validation_failed");
  assert.equal(renamed.status, 400);
  assert.equal(renamed.message, error.message);
  assert.deepStrictEqual(
    renamed.errors?.map((e) => e.field),
    ["new_password", "newPasswordHint", "displayName"],
  );
  const throttled = new AuthError("rate_limited", "Too many.", { retryAfter: 30 });
  assert.equal(wire.toWireError(throttled, wire.changePasswordInput.fields), throttled);
  const other = new Error("not ours");
  assert.equal(wire.toWireError(other, wire.refreshInput.fields), other);
});
