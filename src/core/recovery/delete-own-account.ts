import * as users from "../../store/queries/users.js";
import { deleteAccount } from "../accounts/delete-account.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { verifyWithForms } from "../passwords/form.js";
import { recheckPassword } from "../sessions/manage.js";
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
  const user = await failClosed(() => users.findUserById(core.db, principal.userId));
  if (user === undefined) throw new AuthError("token_invalid", "The token's user is unknown.", { tokenPresented: true });
  const ticket = core.hashQueue.reserve();
  try {
    const right = await recheckPassword(core, principal, () =>
      ticket.run(async () => (await verifyWithForms(user.password_hash, input.password)).ok),
    );
    if (!right) throw new AuthError("invalid_credentials", "The password is incorrect.", { status: 403 });
  } finally {
    ticket.release();
  }
  await deleteAccount(core, user.id, { actor: "self", client: context, sessionId: principal.sessionId, notify: true });
}
