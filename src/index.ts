/**
 * tokenver: JWT authentication where logout means logout.
 *
 * ```ts
 * import { createAuth } from "tokenver";
 * const auth = await createAuth({ databaseUrl: "sqlite:./data/app.db" });
 * const principal = await auth.verify(request.headers.authorization); // or throws AuthError
 * ```
 *
 * The public surface: `createAuth`, the errors and their codes, the option and result types,
 * problem+json rendering, and TypeBox's `Type` for custom user fields. Nothing here reveals the
 * secret, a key or a store.
 */
export { createAuth, type Auth } from "./create-auth.js";
export type {
  Principal,
  User,
  ProfileOf,
  TokenPair,
  SignIn,
  SignUp,
  SessionInfo,
  SessionPage,
  ListSessionsOptions,
  RequestContext,
  RegisterInput,
  ProfilePatch,
  LogoutScope,
  LogoutInput,
  ChangePasswordInput,
  Role,
} from "./core/types.js";
export type { VerifyOptions } from "./core/verify.js";
export type { ServerSideUserApi } from "./core/users/api.js";
export type { Actor, ActorOptions, AdminActionOptions } from "./core/users/actor.js";
export type { CreateUserInput } from "./core/users/create-user.js";
export type { ListUsersOptions, UserPage } from "./core/users/list-users.js";
export type { AdminSessionInfo, UserDetail } from "./core/users/user-detail.js";
export type { EventType, EventDetail, SecurityEvent, EventQuery, EventPage, EventStats } from "./core/events/types.js";
export type { ResetPasswordInput } from "./core/recovery/reset-password.js";
export type { ChangeEmailInput } from "./core/recovery/change-email.js";
export { normalizeEmail } from "./core/validation.js";
export { AuthError, ERRORS, isAuthError, type ErrorCode, type FieldError } from "./core/errors.js";
export { OptionError } from "./settings/resolve.js";
export type { AuthOptions, RateLimitOptions, UserFields } from "./settings/table.js";
export type { DatabaseOption } from "./settings/rows/database.js";
export type { AccessTokenClaims } from "./core/tokens/access-token.js";
export type { Clock } from "./core/clock.js";
export type { LoginMfaInput } from "./core/mfa/login-mfa.js";
export type { ConfirmTotpInput } from "./core/mfa/confirm-totp.js";
export type { SecondFactorProof } from "./core/mfa/disable-totp.js";
export type { TotpEnrolment } from "./core/mfa/start-totp.js";
export type { KeyInfo, KeyState } from "./core/keys/list-keys.js";
export type { RotatedKey } from "./core/keys/rotate-key.js";
export type { PublicJwk, SigningAlg } from "./core/keys/material.js";
export type { CreatedClient } from "./core/clients/create-client.js";
export type { ClientInfo } from "./core/clients/manage-clients.js";
export type { IntrospectionResult } from "./core/clients/introspect.js";
export { toProblem, PROBLEM_CONTENT_TYPE, type Problem, type ProblemResponse } from "./http/problem.js";
/** TypeBox's `Type`, for `userFields` schemas, from the same TypeBox that validates them. */
export { Type } from "typebox";
