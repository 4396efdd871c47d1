import type { Static, TObject } from "typebox";
import type { UserFields } from "./config.js";
import type { AccessTokenClaims } from "./tokens/access-token.js";

/** Who an authenticated request comes from: the result of `auth.verify()`. */
export interface Principal {
  userId: string;
  sessionId: string;
  tokenVersion: number;
  /**
   * The verified claims. `claims.amr` tells how the session was authenticated (RFC 8176):
   * `["pwd"]`, after a TOTP code `["pwd", "otp", "mfa"]`, after a recovery code `["pwd", "mfa"]`
   * (docs/mfa.md); tokens issued before the second factor existed carry none (read it as `["pwd"]`).
   * The principal itself stays the contract's four members (docs/api.md section 5).
   */
  claims: AccessTokenClaims;
}

/** A user as the library returns it: never a password hash or any secret. Custom fields beside the built-in ones. */
export type User<P extends object = {}> = {
  id: string;
  email: string;
  username: string | null;
  tokenVersion: number;
  /** ISO 8601. */
  createdAt: string;
  /** `"admin"` may call the admin API (docs/api.md section 10); the role is read from the database on each admin request. */
  role: Role;
  /** An administrator disabled the account: sign-in and refresh answer `403 account_disabled`. */
  disabled: boolean;
  /** A second factor (TOTP) is on: sign-in asks for a code (docs/mfa.md). */
  mfaEnabled: boolean;
  /** Unused recovery codes left (0 while the second factor is off). */
  recoveryCodesLeft: number;
  /** The address was proven by a mailed link (docs/api.md section 8; docs/recovery.md). */
  emailVerified: boolean;
} & Partial<P>;

/** A user's role: `"user"` (every account at registration) or `"admin"`. */
export type Role = "user" | "admin";

/** The custom user fields' type, from their TypeBox schemas. */
export type ProfileOf<F extends UserFields> = Static<TObject<F>>;

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  /** Seconds until the access token expires. */
  expiresIn: number;
}

/** What registration and login return: the user and a new session's token pair. */
export type SignIn<P extends object = {}> = TokenPair & { user: User<P> };

/**
 * What `auth.signUp()` returns: the user and a new session's pair, or, with
 * `requireVerifiedEmail`, the user alone (tokens come with the first sign-in once the address
 * is verified: docs/api.md section 8).
 */
export type SignUp<P extends object = {}> = SignIn<P> | { user: User<P>; accessToken?: undefined; refreshToken?: undefined };

export interface SessionInfo {
  id: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601. */
  lastUsedAt: string;
  userAgent: string | null;
  /** The session of the principal that asked. */
  current: boolean;
}

/** Which page of `listSessions`: at most `limit` sessions (1 to 100, default 50) after `cursor`. */
export interface ListSessionsOptions {
  limit?: number | undefined;
  /** The `nextCursor` of the previous page; none (or null) for the first page. */
  cursor?: string | null | undefined;
}

/** One page of the caller's live sessions, oldest first; `nextCursor` is null on the last page. */
export interface SessionPage {
  sessions: SessionInfo[];
  /** Opaque: pass it back as `cursor` for the next page. */
  nextCursor: string | null;
}

/** Where a request came from; stored on sessions and used for throttling. */
export interface RequestContext {
  userAgent?: string | undefined;
  ip?: string | undefined;
  /**
   * How the client holds its tokens (docs/api.md section 6): `"cookie"` when the request asked for
   * cookie mode or was authenticated by the access cookie; absent or `"bearer"` otherwise. Set by
   * the HTTP adapters; a flow that answers later (the second factor's `mfa_token`) keeps it.
   */
  mode?: "cookie" | "bearer" | undefined;
}

export type RegisterInput<P extends object = {}> = { email: string; password: string; username?: string | null } & P;

export type ProfilePatch<P extends object = {}> = { username?: string | null } & Partial<P>;

export type LogoutScope = "all" | "session";

export interface LogoutInput {
  /** With scope `session`: also revoke this refresh token's session, if it is the caller's own. */
  refreshToken?: string | undefined;
  scope?: LogoutScope | undefined;
}

export interface ChangePasswordInput {
  currentPassword: string;
  newPassword: string;
}
