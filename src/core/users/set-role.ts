import * as admins from "../../store/queries/admin-users.js";
import type { Role } from "../../store/schema.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { failClosed, validationFailed } from "../errors.js";
import { lastAdmin, lockAdminsFor, recordAdminAction, requireUser, userNotFound, type AdminActionOptions } from "./actor.js";

/**
 * Makes the user an admin (`"admin"`) or not (`"user"`). Takes effect on the next admin request
 * on every node: admin routes read the role from the database each time, never from a token.
 * `not_found` for an unknown user; `forbidden` when it would demote the last enabled admin.
 */
export async function setRole(core: Core, userId: string, role: Role, options: AdminActionOptions = {}): Promise<void> {
  if (role !== "user" && role !== "admin") throw validationFailed([{ field: "role", message: "must be user or admin" }]);
  await requireUser(core, userId);
  const now = isoAt(core.config.clock());
  const changed = await failClosed(() =>
    core.db.transaction().execute(async (trx) => {
      await lockAdminsFor(core, trx, options);
      return admins.setRole(trx, userId, role, now);
    }),
  );
  if (changed) await core.revoker.userChanged(userId);
  if (changed) return recordAdminAction(core, role === "admin" ? "admin.promote" : "admin.demote", userId, options);
  throw (await failClosed(() => admins.roleOf(core.db, userId))) === undefined ? userNotFound() : lastAdmin();
}
