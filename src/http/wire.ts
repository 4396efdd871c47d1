import type { Static, TObject } from "typebox";
import { AuthError, type FieldError } from "../core/errors.js";
import type { ChangePasswordInput, ListSessionsOptions, LogoutInput, SessionPage, SignIn, SignUp, TokenPair, User } from "../core/types.js";
import type { ChangeEmailInput } from "../core/recovery/change-email.js";
import type { ResetPasswordInput } from "../core/recovery/reset-password.js";
import type * as S from "./schemas.js";
import type * as E from "./endpoints/events-schemas.js";
import type { EventPage, EventQuery, SecurityEvent } from "../core/events/types.js";
import type { ListUsersOptions, UserPage } from "../core/users/list-users.js";
import type { UserDetail } from "../core/users/user-detail.js";

/**
 * The HTTP boundary: the library speaks camelCase (`tokenVersion`, `accessToken`), the wire
 * speaks the snake_case of docs/api.md section 3 (`token_version`, `access`). Every conversion
 * between the two is here, by name, never by a generic camel-to-snake rule: custom user fields
 * are the application's own names and cross the boundary as they are.
 */

// ---- Responses: core -> wire --------------------------------------------------------------------

export type WireUser = Static<typeof S.UserBase> & Record<string, unknown>;
export type WireTokenPair = Static<typeof S.TokenPair>;
export type WireSignIn = WireTokenPair & { user: WireUser };
export type WireSession = Static<typeof S.Session>;
export type WireSessionList = Static<typeof S.SessionList>;

const userViews = new WeakMap<TObject, (user: User<object>) => WireUser>();

/**
 * The `user` of a response: the built-in fields and the configured custom fields only (those of
 * `profile`, the `auth.profileSchema`), so a field dropped from the configuration stops appearing
 * even though old rows still store it.
 */
export function userView(profile: TObject): (user: User<object>) => WireUser {
  let view = userViews.get(profile);
  if (view === undefined) {
    const custom = Object.keys(profile.properties);
    view = (user) => {
      const wire: WireUser = {
        id: user.id,
        email: user.email,
        username: user.username,
        token_version: user.tokenVersion,
        created_at: user.createdAt,
        role: user.role,
        disabled: user.disabled,
        mfa_enabled: user.mfaEnabled,
        recovery_codes_left: user.recoveryCodesLeft,
        email_verified: user.emailVerified,
      };
      const fields = user as Record<string, unknown>;
      for (const name of custom) if (Object.hasOwn(fields, name) && fields[name] !== undefined) wire[name] = fields[name];
      return wire;
    };
    userViews.set(profile, view);
  }
  return view;
}

export function tokenPairView(pair: TokenPair): WireTokenPair {
  return { access: pair.accessToken, refresh: pair.refreshToken, token_type: pair.tokenType, expires_in: pair.expiresIn };
}

/** What register and login answer: the user and the new session's pair, side by side. */
export function signInView(profile: TObject, result: SignIn<object>): WireSignIn {
  return { user: userView(profile)(result.user), ...tokenPairView(result) };
}

/** A page of sessions: the contract's `{sessions}`, plus `next_cursor` (null on the last page). */
export function sessionListView(page: SessionPage): WireSessionList {
  return {
    sessions: page.sessions.map((s) => ({
      id: s.id,
      created_at: s.createdAt,
      last_used_at: s.lastUsedAt,
      user_agent: s.userAgent,
      current: s.current,
    })),
    next_cursor: page.nextCursor,
  };
}

// ---- Requests: wire -> core ---------------------------------------------------------------------

/**
 * A request body's way into core: the conversion, and the names core gives those fields in its
 * validation errors (core name -> wire name), so that `errors[].field` names what the client sent.
 * Bodies whose fields have the same names on both sides (login, register, profile) need none.
 */
export interface WireInput<W, C> {
  toCore(body: W): C;
  fields: Readonly<Record<string, string>>;
}

export const changePasswordInput: WireInput<Static<typeof S.PasswordBody>, ChangePasswordInput> = {
  toCore: (body) => ({ currentPassword: body.current_password, newPassword: body.new_password }),
  fields: { currentPassword: "current_password", newPassword: "new_password" },
};

export const logoutInput: WireInput<Static<typeof S.LogoutBody>, LogoutInput> = {
  toCore: (body) => ({ refreshToken: body.refresh, scope: body.scope }),
  fields: { refreshToken: "refresh" },
};

/** GET /sessions' query: `limit` as a number (its digits passed the schema), `cursor` as it is. */
export function sessionsQueryInput(query: Static<typeof S.SessionsQuery>): ListSessionsOptions {
  return {
    ...(query.limit === undefined ? {} : { limit: Number(query.limit) }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
}

export const resetPasswordInput: WireInput<{ token: string; new_password: string }, ResetPasswordInput> = {
  toCore: (body) => ({ token: body.token, newPassword: body.new_password }),
  fields: { newPassword: "new_password" },
};

export const changeEmailInput: WireInput<{ new_email: string; password: string; code?: string }, ChangeEmailInput> = {
  toCore: (body) => ({ newEmail: body.new_email, password: body.password, code: body.code }),
  fields: { newEmail: "new_email" },
};

/** What `POST /register` answers: with `requireVerifiedEmail`, `{user}` alone (no tokens yet). */
export function signUpView(profile: TObject, result: SignUp<object>): WireSignIn | { user: WireUser } {
  return result.accessToken === undefined ? { user: userView(profile)(result.user) } : signInView(profile, result);
}

export const refreshInput: WireInput<Static<typeof S.RefreshBody>, string | undefined> = {
  toCore: (body) => body.refresh,
  fields: { refreshToken: "refresh" },
};

/**
 * The error as the client must see it: a validation error's fields under their wire names
 * (`newPassword` -> `new_password`, also as the head of a dotted path). Anything else as it is.
 */
export function toWireError(error: unknown, fields: Readonly<Record<string, string>>): unknown {
  if (!(error instanceof AuthError) || error.errors === undefined) return error;
  const renamed = error.errors.map((e): FieldError => ({ ...e, field: wireField(e.field, fields) }));
  if (renamed.every((e, i) => e.field === error.errors![i]!.field)) return error;
  return new AuthError(error.code, error.message, {
    status: error.status,
    tokenPresented: error.tokenPresented,
    errors: renamed,
    ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
    ...(error.cause === undefined ? {} : { cause: error.cause }),
  });
}

function wireField(field: string, fields: Readonly<Record<string, string>>): string {
  const dot = field.indexOf(".");
  const head = dot === -1 ? field : field.slice(0, dot);
  if (!Object.hasOwn(fields, head)) return field;
  return fields[head]! + (dot === -1 ? "" : field.slice(dot));
}

// ---- Security events (docs/api.md section 10) ---------------------------------------------------

export type WireEvent = Static<typeof E.SecurityEvent>;

export function eventView(e: SecurityEvent): WireEvent {
  return {
    id: e.id,
    type: e.type,
    user_id: e.userId,
    session_id: e.sessionId,
    actor: e.actor,
    ip: e.ip,
    user_agent: e.userAgent,
    at: e.at,
    detail: e.detail,
  };
}

export function eventPageView(page: EventPage): Static<typeof E.EventPage> {
  return { events: page.events.map(eventView), next_cursor: page.nextCursor };
}

export function eventsQueryInput(query: Static<typeof E.AdminEventsQuery>): EventQuery {
  return {
    ...(query.user_id === undefined ? {} : { userId: query.user_id }),
    ...(query.type === undefined ? {} : { type: query.type }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
}

// ---- Administration (docs/api.md section 10) ----------------------------------------------------

/** A page of users: `{users, next_cursor}`. */
export function userPageView(profile: TObject, page: UserPage<object>): { users: WireUser[]; next_cursor: string | null } {
  return { users: page.users.map(userView(profile)), next_cursor: page.nextCursor };
}

/** One user and their live sessions: `{user, sessions}`. */
export function userDetailView(profile: TObject, detail: UserDetail<object>) {
  return {
    user: userView(profile)(detail.user),
    sessions: detail.sessions.map((s) => ({
      id: s.id,
      created_at: s.createdAt,
      last_used_at: s.lastUsedAt,
      user_agent: s.userAgent,
      ip: s.ip,
    })),
  };
}

/** GET /admin/users' query: `limit` as a number (its digits passed the schema), `query` and `cursor` as they are. */
export function adminUsersQueryInput(query: { query?: string; limit?: string; cursor?: string }): ListUsersOptions {
  return {
    ...(query.query === undefined ? {} : { query: query.query }),
    ...(query.limit === undefined ? {} : { limit: Number(query.limit) }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
}
