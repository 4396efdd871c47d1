import * as links from "../../store/queries/links.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { isAuthError } from "../errors.js";
import { deleteAccount } from "../accounts/delete-account.js";

const BATCH = 200;

/**
 * With `requireVerifiedEmail` (docs/api.md section 8), the accounts never verified and older than
 * `unverifiedTtl` go with each prune, each through the account deletion (the one revocation
 * protocol; event `account.deleted`, actor `system`), so their addresses can register again.
 * Without it, nothing is pruned: such accounts may sign in. Returns how many went.
 */
export async function pruneUnverifiedAccounts(core: Core): Promise<number> {
  if (!core.config.requireVerifiedEmail) return 0;
  const before = isoAt(core.config.clock() - core.config.unverifiedTtl * 1000);
  let total = 0;
  for (;;) {
    const ids = await links.unverifiedUsersBefore(core.db, before, BATCH);
    let deleted = 0;
    for (const id of ids) {
      try {
        await deleteAccount(core, id, { actor: "system" });
        deleted++;
      } catch (error) {
        // Gone meanwhile, or the last admin: left as it is.
        if (!isAuthError(error) || (error.code !== "not_found" && error.code !== "forbidden")) throw error;
      }
    }
    total += deleted;
    if (ids.length < BATCH || deleted === 0) return total;
  }
}
