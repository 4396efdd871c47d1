import * as admins from "../../store/queries/admin-users.js";
import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { failClosed } from "../errors.js";
import { lastAdmin, lockAdminsFor, recordAdminAction, requireUser, userNotFound, type AdminActionOptions } from "./actor.js";

/**
 * Disables the account (docs/api.md section 10): the token version is incremented and every
 * session revoked in the same statement's transaction, through the one revocation protocol, so
 * every token dies on every node once this resolves; sign-in and refresh then answer
 * `403 account_disabled` until `enableUser`. Disabling a disabled account revokes again.
 * `not_found` for an unknown user; `forbidden` for the last enabled admin.
 */
export async function disableUser(core: Core, userId: string, options: AdminActionOptions = {}): Promise<void> {
  await requireUser(core, userId);
  // The common refusal without marking anything in flight; the write below decides for good.
  if (await failClosed(() => admins.isLastEnabledAdmin(core.db, userId))) throw lastAdmin();
  await core.revoker.revoke({ userId }, async (trx, now) => {
    await lockAdminsFor(core, trx, options);
    const tokenVersion = await admins.disableUser(trx, userId, now);
    if (tokenVersion === undefined) throw (await users.findUserById(trx, userId)) === undefined ? userNotFound() : lastAdmin();
    const sessionIds = await sessions.revokeUserSessions(trx, userId, now);
    return { userId, tokenVersion, sessionIds };
  });
  recordAdminAction(core, "admin.disable", userId, options);
}
