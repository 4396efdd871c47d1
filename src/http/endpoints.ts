import { AuthError, validationFailed } from "../core/errors.js";
import type { RegisterInput } from "../core/types.js";
import { endpoint, NO_BODY, type AnyEndpoint } from "./endpoint.js";
import * as S from "./schemas.js";
import { ADMIN_EVENT_ENDPOINTS, EVENT_ENDPOINTS } from "./endpoints/events.js";
import * as wire from "./wire.js";
import { ADMIN_ENDPOINTS } from "./endpoints/admin.js";
import { MFA_ENDPOINTS } from "./endpoints/mfa.js";
import { RECOVERY_ENDPOINTS } from "./endpoints/recovery.js";
import { INTROSPECTION_ENDPOINTS, KEY_ENDPOINTS } from "./endpoints/keys.js";

export * from "./endpoint.js";

/**
 * The endpoints of docs/api.md, once. The Fastify plugin (fastify/routes.ts), the Express guard
 * (express/guard.ts) and the OpenAPI document (from the Fastify route schemas) are all built from
 * this table. An endpoint is added by adding a row: the v1 rows are here; each v2 capability keeps
 * its rows in `endpoints/<capability>.ts` (built with `endpoint()` from endpoint.ts), spread below.
 */
export const ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    method: "POST",
    path: "/register",
    access: "public",
    tags: ["auth"],
    summary: "Create an account and its first session",
    description:
      "Throttled per client address (`429` with `Retry-After`); `503` with `Retry-After` when the password-hashing queue is full.",
    body: S.registerBody,
    status: 201,
    response: S.registerResult,
    errors: S.problems(400, 409, 413, 415, 429, S.HASHING_UNAVAILABLE),
    issuesTokens: true,
    // The body passed registerBody(profile): the built-in fields and the custom ones.
    handler: async ({ auth, body, client }) => wire.signUpView(auth.profileSchema, await auth.signUp(body as RegisterInput, client)),
  }),
  endpoint({
    method: "POST",
    path: "/login",
    access: "public",
    tags: ["auth"],
    summary: "Log in: a new session and token pair",
    body: S.LoginBody,
    status: 200,
    response: S.authResult,
    description:
      "With a second factor on, the right password answers `403 mfa_required` whose problem document carries an `mfa_token` for `POST /login/mfa`.",
    errors: S.problems(
      400,
      S.LOGIN_FAILED,
      [403, ["account_disabled", "mfa_required", "email_unverified"]],
      413,
      415,
      429,
      S.HASHING_UNAVAILABLE,
    ),
    issuesTokens: true,
    handler: async ({ auth, body, client }) => wire.signInView(auth.profileSchema, await auth.login(body, client)),
  }),
  endpoint({
    method: "POST",
    path: "/token/refresh",
    access: "public",
    tags: ["auth"],
    summary: "Rotate a refresh token",
    description: "The presented refresh token becomes used. Presenting a used one again is `refresh_reused` and revokes its whole session.",
    body: S.RefreshBody,
    bodyOptional: true,
    input: wire.refreshInput,
    status: 200,
    response: S.TokenPair,
    errors: S.problems(400, S.REFRESH_FAILED, [403, ["account_disabled"]], 413, 415, 503),
    issuesTokens: true,
    readsRefreshCookie: true,
    handler: async ({ auth, body, client, refreshCookie }) => {
      // In cookie mode a body without `refresh` uses the refresh cookie (docs/api.md section 6).
      const token = body ?? refreshCookie;
      if (token === undefined) {
        if (client.mode === "cookie") throw new AuthError("token_missing", "Send `refresh`, or the refresh cookie.");
        throw validationFailed([{ field: "refreshToken", message: "must have required property 'refresh'" }]);
      }
      return wire.tokenPairView(await auth.refresh(token, client));
    },
  }),
  endpoint({
    method: "POST",
    path: "/logout",
    access: "user",
    tags: ["auth"],
    summary: "Log out",
    description: "`all` (default) increments the token version and revokes every session; `session` revokes only this one.",
    body: S.LogoutBody,
    bodyOptional: true,
    input: wire.logoutInput,
    status: 204,
    response: NO_BODY("Logged out"),
    errors: S.problems(400, 401, 413, 415, 503),
    expiresCookies: true,
    handler: async ({ auth, principal, body, client }) => void (await auth.logout(principal, body, client)),
  }),
  endpoint({
    method: "GET",
    path: "/profile",
    access: "user",
    tags: ["profile"],
    summary: "The caller's user",
    status: 200,
    response: S.userSchema,
    errors: S.problems(401, 503),
    handler: async ({ auth, principal }) => wire.userView(auth.profileSchema)(await auth.getUser(principal)),
  }),
  endpoint({
    method: "PATCH",
    path: "/profile",
    access: "user",
    tags: ["profile"],
    summary: "Update username and custom fields",
    body: S.profilePatchBody,
    status: 200,
    response: S.userSchema,
    errors: S.problems(400, 401, 413, 415, 503),
    handler: async ({ auth, principal, body }) => wire.userView(auth.profileSchema)(await auth.updateProfile(principal, body)),
  }),
  endpoint({
    method: "POST",
    path: "/password",
    access: "user",
    tags: ["auth"],
    summary: "Change the password",
    description: "Increments the token version, revokes every other session, returns a new pair for this one.",
    body: S.PasswordBody,
    input: wire.changePasswordInput,
    status: 200,
    response: S.TokenPair,
    errors: S.problems(400, 401, 403, 413, 415, S.HASHING_UNAVAILABLE),
    issuesTokens: true,
    handler: async ({ auth, principal, body, client }) => wire.tokenPairView(await auth.changePassword(principal, body, client)),
  }),
  endpoint({
    method: "GET",
    path: "/sessions",
    access: "user",
    tags: ["sessions"],
    summary: "The caller's live sessions",
    description: "Oldest first, a page at a time: pass `next_cursor` back as `cursor` for the next page; it is `null` on the last.",
    query: S.SessionsQuery,
    status: 200,
    response: S.SessionList,
    errors: S.problems(400, 401, 503),
    handler: async ({ auth, principal, query }) => wire.sessionListView(await auth.listSessions(principal, wire.sessionsQueryInput(query))),
  }),
  endpoint({
    method: "DELETE",
    path: "/sessions/:id",
    access: "user",
    tags: ["sessions"],
    summary: "Revoke one of the caller's sessions",
    params: S.SessionParams,
    status: 204,
    response: NO_BODY("Revoked"),
    errors: S.problems(401, 404, 503),
    handler: async ({ auth, principal, params, client }) => void (await auth.revokeSession(principal, params.id, client)),
  }),
  endpoint({
    method: "GET",
    path: "/health",
    access: "public",
    tags: ["operations"],
    summary: "Whether the stores answer",
    status: 200,
    response: S.Health,
    errors: S.problems(503),
    handler: async ({ auth }) => {
      await auth.health();
      return { status: "ok" };
    },
  }),
  ...MFA_ENDPOINTS,
  ...EVENT_ENDPOINTS,
  ...ADMIN_ENDPOINTS,
  ...ADMIN_EVENT_ENDPOINTS,
  ...RECOVERY_ENDPOINTS,
  ...KEY_ENDPOINTS,
  ...INTROSPECTION_ENDPOINTS,
];
