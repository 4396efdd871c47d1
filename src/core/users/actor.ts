import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { EventDetail, EventType } from "../events/types.js";
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
export function recordAdminAction(core: Core, type: EventType, userId: string, options: ActorOptions, detail?: EventDetail): void {
  recordEvent(core, { type, userId, actor: options.actor ?? "system", ...(detail === undefined ? {} : { detail }) });
}
