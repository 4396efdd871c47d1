import * as admins from "../../store/queries/admin-users.js";
import * as links from "../../store/queries/links.js";
import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { failClosed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { queueNotice } from "../mail/notice.js";
import { requireStillSignedIn } from "../passwords/confirm-password.js";
import type { Principal, RequestContext } from "../types.js";
import { actorOf, lastAdmin, lockAdminsFor, requireUser, userNotFound, type AdminActionOptions } from "../users/actor.js";

/** How the deletion came about: who, from where, and whether the user is mailed a notice. */
export interface DeleteAccountOptions extends AdminActionOptions {
  client?: RequestContext;
  sessionId?: string;
  /** Queue the `account_deleted` notice to the account's address, in the deleting transaction. */
  notify?: boolean;
  /** The user deleting their own account: deleted only while that sign-in is still current (confirm-password.ts). */
  principal?: Principal;
}

/**
 * Deletes the account and everything of it (sessions and refresh tokens cascade; its mailed
 * links are deleted), through the one revocation protocol: every token of the user is refused on
 * every node once this resolves. The change told to the revocation state is a version bump and
 * every live session revoked, so a node that still holds the user's entries answers
 * `token_revoked` until it reads the database (where the session is unknown: `token_invalid`).
 * `not_found` for an unknown user; `forbidden` for the last enabled admin. Records
 * `account.deleted` with the actor (default `system`).
 */
export async function deleteAccount(core: Core, userId: string, options: DeleteAccountOptions = {}): Promise<void> {
  await requireUser(core, userId);
  if (await failClosed(() => admins.isLastEnabledAdmin(core.db, userId))) throw lastAdmin();
  await core.revoker.revoke({ userId }, async (trx, now) => {
    // Every admin row first (PostgreSQL), then the signed-in user's own: the order of every admin action.
    await lockAdminsFor(core, trx, options);
    if (options.principal !== undefined) await requireStillSignedIn(core, trx, options.principal);
    // The user's row before its sessions, the order of the owner's own logout and password change.
    await users.lockUser(trx, core.dialect, userId);
    // On SQLite the write lock is held since lockAdminsFor, so the conditional delete below sees the latest state.
    const sessionIds = await sessions.revokeUserSessions(trx, userId, now);
    // Read before the row goes: the notice is for the address stored now.
    if (options.notify === true) await queueNotice(core, userId, "account_deleted", {}, trx);
    await links.deleteUserLinks(trx, userId);
    const deletedVersion = await admins.deleteUser(trx, userId);
    if (deletedVersion === undefined) throw (await users.findUserById(trx, userId)) === undefined ? userNotFound() : lastAdmin();
    return { userId, tokenVersion: deletedVersion + 1, sessionIds };
  });
  recordEvent(core, {
    type: "account.deleted",
    userId,
    sessionId: options.sessionId ?? null,
    actor: actorOf(options),
    client: options.client,
  });
}
