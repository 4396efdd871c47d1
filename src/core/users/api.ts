import type { UserFields } from "../config.js";
import type { Principal, ProfileOf, Role, User } from "../types.js";
import type { AdminActionOptions } from "./actor.js";
import type { CreateUserInput } from "./create-user.js";
import type { ListUsersOptions, UserPage } from "./list-users.js";
import type { UserDetail } from "./user-detail.js";

/**
 * The server-side user API of the `Auth` object (docs/api.md section 10, issue 20): what
 * operators and application code do to an account without a request from its owner. Every
 * action that revokes goes through the one revocation protocol (core/revoke.ts): once its promise
 * resolves, no node of the deployment accepts a token it revoked. The admin endpoints
 * (`/admin/users/...`) and the `tokenver users` commands call these same methods.
 *
 * Errors are `AuthError`s: `not_found` (404) for an unknown user, `forbidden` (403) for an action
 * that would leave no enabled admin, `validation_failed` (400), `service_unavailable` (503); with
 * `options.admin`, `token_revoked` (401) or `forbidden` (403) when that admin's sign-in or role
 * ended before the action's transaction (`AdminActionOptions`).
 */
export interface ServerSideUserApi<F extends UserFields> {
  /**
   * The user of this id, or `null`. Never the password hash.
   *
   * @example
   * ```ts
   * const user = await auth.findUserById(request.user.userId);
   * if (user?.role === "admin") showAdminMenu();
   * ```
   */
  findUserById(userId: string): Promise<User<ProfileOf<F>> | null>;

  /**
   * The user of this email, or `null`; the email is normalised as login does (NFKC, trimmed,
   * lower-cased, the domain in ASCII), so `" Ann@Example.COM"` finds `ann@example.com`.
   *
   * @example
   * ```ts
   * const user = await auth.findUserByEmail("ann@example.com");
   * if (user) await auth.logoutUser(user.id, { actor: "system" });
   * ```
   */
  findUserByEmail(email: string): Promise<User<ProfileOf<F>> | null>;

  /**
   * Logs the user out everywhere: the token version is incremented and every session revoked.
   * Once it resolves, no node accepts any token issued before. `not_found` for an unknown user.
   *
   * @example
   * ```ts
   * // A stolen laptop: every token of the account dies now, on every node.
   * await auth.logoutUser(userId, { admin: request.user }); // checked again in the action's transaction
   * ```
   */
  logoutUser(userId: string, options?: AdminActionOptions): Promise<void>;

  /**
   * Revokes one session of the user (its tokens die on every node); the others live on.
   * `not_found` for an unknown session, another user's, or one already revoked.
   *
   * @example
   * ```ts
   * const { sessions } = await auth.getUserDetail(userId);
   * await auth.revokeUserSession(userId, sessions[0].id);
   * ```
   */
  revokeUserSession(userId: string, sessionId: string, options?: AdminActionOptions): Promise<void>;

  /**
   * Disables the account: version incremented, every session revoked (every token dies on every
   * node), and sign-in and refresh answer `403 account_disabled` until `enableUser`.
   * `not_found` for an unknown user; `forbidden` for the last enabled admin.
   *
   * @example
   * ```ts
   * await auth.disableUser(userId, { actor: "system" });
   * await auth.login({ email, password }); // throws AuthError, code "account_disabled"
   * ```
   */
  disableUser(userId: string, options?: AdminActionOptions): Promise<void>;

  /**
   * Enables a disabled account: the user may sign in again (tokens revoked by the disabling stay
   * dead). `not_found` for an unknown user.
   *
   * @example
   * ```ts
   * await auth.enableUser(userId, { admin: request.user });
   * ```
   */
  enableUser(userId: string, options?: AdminActionOptions): Promise<void>;

  /**
   * Deletes the account, its sessions and refresh tokens; every token of it dies on every node.
   * `not_found` for an unknown user; `forbidden` for the last enabled admin.
   *
   * @example
   * ```ts
   * const user = await auth.findUserByEmail("spammer@example.com");
   * if (user) await auth.deleteUser(user.id, { actor: "cli" });
   * ```
   */
  deleteUser(userId: string, options?: AdminActionOptions): Promise<void>;

  /**
   * Makes the user an admin or not. Admin routes read the role from the database on every
   * request, so it applies at once on every node. `forbidden` when it would demote the last
   * enabled admin; `not_found` for an unknown user.
   *
   * @example
   * ```ts
   * await auth.setRole(userId, "admin", { actor: "cli" });
   * ```
   */
  setRole(userId: string, role: Role, options?: AdminActionOptions): Promise<void>;

  /**
   * Creates an account from the server side (no session, no tokens, no registration throttle),
   * with registration's rules for the email and the password. `email_taken` for a known address.
   *
   * @example
   * ```ts
   * const admin = await auth.createUser({ email: "ops@example.com", password, role: "admin" });
   * ```
   */
  createUser(input: CreateUserInput, options?: AdminActionOptions): Promise<User<ProfileOf<F>>>;

  /**
   * Users newest first, a page at a time; `query` matches the email or username literally
   * (`%` and `_` are plain characters), ignoring case. `limit` 1 to 100 (default 50).
   *
   * @example
   * ```ts
   * let page = await auth.listUsers({ query: "example.com", limit: 100 });
   * while (page.nextCursor) page = await auth.listUsers({ query: "example.com", cursor: page.nextCursor });
   * ```
   */
  listUsers(options?: ListUsersOptions): Promise<UserPage<ProfileOf<F>>>;

  /**
   * The user and their live sessions (the newest 100, newest first). `not_found` for an unknown user.
   *
   * @example
   * ```ts
   * const { user, sessions } = await auth.getUserDetail(userId);
   * ```
   */
  getUserDetail(userId: string): Promise<UserDetail<ProfileOf<F>>>;

  /**
   * Resolves if the principal's user is an enabled admin, read from the database on every call
   * (never from a token); else rejects with `403 forbidden`. The endpoint table's admin rows
   * call it; use it to guard your own admin routes.
   *
   * @example
   * ```ts
   * app.get("/internal/report", async (request) => {
   *   await auth.requireAdmin(request.user);
   *   return buildReport();
   * });
   * ```
   */
  requireAdmin(principal: Principal): Promise<void>;
}
