import * as users from "../../store/queries/users.js";
import { deleteAccount } from "../accounts/delete-account.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { confirmPassword } from "../passwords/confirm-password.js";
import type { Principal, RequestContext } from "../types.js";
import { requireStrings } from "../validation.js";

/**
 * `DELETE /profile {password}` (docs/api.md section 8): after the password re-check (per session:
 * sessions/manage.ts; wrong: `403 invalid_credentials`), the account goes with everything of it
 * through the same deletion as the admin's (accounts/delete-account.ts: the one revocation
 * protocol, every token refused on every node once this resolves), and the notice is queued to
 * its address in the same transaction. The address may register again; ids are UUIDs, never
 * reused. The last enabled admin cannot delete themself (`403 forbidden`).
 */
export async function deleteOwnAccount(
  core: Core,
  principal: Principal,
  input: { password: string },
  context: RequestContext,
): Promise<void> {
  const errors = requireStrings(input, ["password"]);
  if (errors.length > 0) throw validationFailed(errors);
  const user = await confirmPassword(core, principal, input.password);
  await deleteAccount(core, user.id, { actor: "self", client: context, sessionId: principal.sessionId, notify: true, principal });
}
