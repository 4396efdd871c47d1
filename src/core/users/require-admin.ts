import * as admins from "../../store/queries/admin-users.js";
import type { Core } from "../context.js";
import { failClosed } from "../errors.js";
import type { Principal } from "../types.js";
import { notAnAdmin } from "./actor.js";

/**
 * Resolves if the principal's user is an enabled admin, read from the database on every call
 * (no claim, no cache: a demotion on any node is honoured by the next request); else
 * `403 forbidden`. The principal comes from `verify()`, which already refused revoked tokens.
 * The actions check it again in their own transaction (`AdminActionOptions.admin`).
 */
export async function requireAdmin(core: Core, principal: Principal): Promise<void> {
  const stored = await failClosed(() => admins.roleOf(core.db, principal.userId));
  if (stored === undefined || stored.role !== "admin" || stored.disabled) throw notAnAdmin();
}
