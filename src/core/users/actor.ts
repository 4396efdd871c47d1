import type { Kysely } from "kysely";
import * as admins from "../../store/queries/admin-users.js";
import * as users from "../../store/queries/users.js";
import type { Database } from "../../store/schema.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { EventDetail, EventType } from "../events/types.js";
import { requireStillSignedIn } from "../passwords/confirm-password.js";
import type { Principal } from "../types.js";
import { isStorableId } from "../validation.js";

/**
 * Who acts on an account from the server side (docs/api.md section 10, the `actor` of security
 * events): an administrator's user id, `"cli"` for the `tokenver users` commands, or `"system"`
 * for the application's own code (the default).
 */
export type Actor = "cli" | "system" | (string & {});

/** Options of every server-side action on an account. */
export interface ActorOptions {
  /** Who acts: an admin's user id, `"cli"` or `"system"` (default). Recorded with the action's security event. */
  actor?: Actor;
}

/** Options of the server-side actions on accounts (users/, and deleteUser). */
export interface AdminActionOptions extends ActorOptions {
  /**
   * An administrator's request (the admin routes pass their principal, and so should an
   * application's own admin routes). The action's own transaction checks, before it writes, that
   * this sign-in is still current (`401 token_revoked`) and its user still an enabled admin
   * (`403 forbidden`), and holds both until it commits: a demotion, disable or sign-out of that
   * admin that returned before the action stops it. `actor` defaults to its user id.
   */
  admin?: Principal;
}

/** Who the action's security event names: `actor`, else the admin's id, else `system`. */
export function actorOf(options: AdminActionOptions): Actor {
  return options.actor ?? options.admin?.userId ?? "system";
}

/**
 * First in the transaction of an action that locks the admins anyway (the last-admin rule): the
 * admins locked (store/queries/admin-users.ts: their rows on PostgreSQL, the write lock on
 * SQLite, so the reads below cannot be outdated by another process), then, for an admin's request
 * (`options.admin`), this sign-in still current and its user still an enabled admin.
 */
export async function lockAdminsFor(core: Core, trx: Kysely<Database>, options: AdminActionOptions): Promise<void> {
  await admins.lockAdmins(trx, core.dialect);
  if (options.admin === undefined) return;
  await requireStillSignedIn(core, trx, options.admin);
  const stored = await admins.roleOf(trx, options.admin.userId);
  if (stored?.role !== "admin" || stored.disabled) throw notAnAdmin();
}

/** First in the transaction of any other admin action: `lockAdminsFor`, for an admin's request only. */
export async function requireStillAdmin(core: Core, trx: Kysely<Database>, options: AdminActionOptions): Promise<void> {
  if (options.admin !== undefined) await lockAdminsFor(core, trx, options);
}

/** `403 forbidden`: the principal's user is not (or no longer) an enabled admin. */
export function notAnAdmin(): AuthError {
  return new AuthError("forbidden", "This needs an administrator.");
}

/** User ids are UUIDs; anything longer is no user of ours. */
export const USER_ID_MAX_LENGTH = 64;

export function userNotFound(): AuthError {
  return new AuthError("not_found", "No such user.");
}

export function lastAdmin(): AuthError {
  return new AuthError("forbidden", "The last enabled administrator cannot be disabled, demoted or deleted.");
}

/** `not_found` unless the user exists: made-up ids end here, before they mark anything or disturb any node's cache. */
export async function requireUser(core: Core, userId: unknown): Promise<users.UserRow> {
  if (!isStorableId(userId, USER_ID_MAX_LENGTH)) throw userNotFound();
  const row = await failClosed(() => users.findUserById(core.db, userId));
  if (row === undefined) throw userNotFound();
  return row;
}

/**
 * Records a server-side action on an account (`admin.<action>`, or another type for a flow that
 * has its own), with who did it: the admin's id, `cli` or `system`.
 */
export function recordAdminAction(core: Core, type: EventType, userId: string, options: AdminActionOptions, detail?: EventDetail): void {
  recordEvent(core, { type, userId, actor: actorOf(options), ...(detail === undefined ? {} : { detail }) });
}
