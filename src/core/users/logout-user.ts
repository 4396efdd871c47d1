import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { recordAdminAction, requireStillAdmin, requireUser, userNotFound, type AdminActionOptions } from "./actor.js";

/**
 * Logs the user out everywhere, from the server side: the token version is incremented and every
 * session revoked, through the one revocation protocol, so no node accepts any earlier token
 * once this resolves. `not_found` for an unknown user.
 */
export async function logoutUser(core: Core, userId: string, options: AdminActionOptions = {}): Promise<void> {
  await requireUser(core, userId);
  await core.revoker.revoke({ userId }, async (trx, now) => {
    await requireStillAdmin(core, trx, options);
    const tokenVersion = await users.incrementTokenVersion(trx, userId, now);
    // Deleted meanwhile: nothing is committed.
    if (tokenVersion === undefined) throw userNotFound();
    const sessionIds = await sessions.revokeUserSessions(trx, userId, now);
    return { userId, tokenVersion, sessionIds };
  });
  recordAdminAction(core, "admin.logout", userId, options);
}
