import * as admins from "../../store/queries/admin-users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { failClosed } from "../errors.js";
import { type AdminActionOptions, recordAdminAction, requireStillAdmin, USER_ID_MAX_LENGTH, userNotFound } from "./actor.js";
import { isStorableId } from "../validation.js";

/**
 * Enables a disabled account: the user may sign in again. Nothing revoked while it was disabled
 * comes back (its tokens stay dead); enabling an enabled account changes nothing.
 * `not_found` for an unknown user.
 */
export async function enableUser(core: Core, userId: string, options: AdminActionOptions = {}): Promise<void> {
  if (!isStorableId(userId, USER_ID_MAX_LENGTH)) throw userNotFound();
  const now = isoAt(core.config.clock());
  const enabled = await failClosed(() =>
    core.db.transaction().execute(async (trx) => {
      await requireStillAdmin(core, trx, options);
      return admins.enableUser(trx, userId, now);
    }),
  );
  if (!enabled) throw userNotFound();
  await core.revoker.userChanged(userId);
  recordAdminAction(core, "admin.enable", userId, options);
}
