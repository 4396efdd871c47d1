/**
 * tokenver: JWT authentication where logout means logout.
 *
 * ```ts
 * import { createAuth } from "tokenver";
 * const auth = await createAuth({ databaseUrl: "sqlite:./data/app.db" });
 * const principal = await auth.verify(request.headers.authorization); // or throws AuthError
 * ```
 */
export { createAuth, type Auth } from "./create-auth.js";
export { AuthService, normalizeEmail } from "./core/auth-service.js";
export type {
  Principal,
  User,
  ProfileOf,
  TokenPair,
  SessionInfo,
  RequestContext,
  RegisterInput,
  LogoutScope,
} from "./core/auth-service.js";
export { AuthError, ERRORS, isAuthError, type ErrorCode, type FieldError } from "./core/errors.js";
export { OptionError, type AuthOptions, type RateLimitOptions, type UserFields } from "./settings.js";
export type { AccessTokenClaims } from "./core/tokens/access-token.js";
export type { Clock } from "./core/clock.js";
export type { CounterStore } from "./store/counters/counter-store.js";
export type { RevocationState, RevocationChange, SessionState } from "./store/revocation/state.js";
export { toProblem, PROBLEM_CONTENT_TYPE, type Problem, type ProblemResponse } from "./http/problem.js";
/** TypeBox's `Type`, for `userFields` schemas, from the same TypeBox that validates them. */
export { Type } from "typebox";
