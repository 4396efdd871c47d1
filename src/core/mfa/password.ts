import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { verifyWithForms } from "../passwords/form.js";
import { recheckPassword } from "../sessions/manage.js";
import type { Principal } from "../types.js";

/**
 * The signed-in user's password, re-checked before a second-factor change: through the shared
 * per-session counter (sessions/manage.ts: 5 failures in 15 minutes revoke the session), never the
 * account's login throttle. `403 invalid_credentials` when wrong. Resolves to the user's row.
 */
export async function confirmPassword(core: Core, principal: Principal, password: string): Promise<users.UserRow> {
  const user = await failClosed(() => users.findUserById(core.db, principal.userId));
  if (user === undefined) throw new AuthError("token_invalid", "The token's user is unknown.", { tokenPresented: true });
  const ticket = core.hashQueue.reserve();
  try {
    const right = await recheckPassword(core, principal, () =>
      ticket.run(async () => (await verifyWithForms(user.password_hash, password)).ok),
    );
    if (!right) throw new AuthError("invalid_credentials", "The password is incorrect.", { status: 403 });
  } finally {
    ticket.release();
  }
  return user;
}
