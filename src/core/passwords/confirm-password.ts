import type { Kysely } from "kysely";
import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import type { Database } from "../../store/schema.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { recheckPassword } from "../sessions/manage.js";
import type { Principal } from "../types.js";
import { verifyWithForms } from "./form.js";

/**
 * The signed-in user's row, read afresh for an operation that checks the password or changes the
 * account. `401 token_invalid` when the user is gone; `401 token_revoked` when the row's version
 * is past the token's: a revocation (say, the owner changing the password) committed after this
 * request's token was verified. Refusing here, before the password is hashed, keeps the answer
 * exact (the password is not what ended the session) and the session's re-check count untouched.
 * The race this cannot see (a revocation committing while the request hashes) is closed inside the
 * operation's transaction, by `requireStillSignedIn` or its own conditional write.
 */
export async function findSignedInUser(core: Core, principal: Principal): Promise<users.UserRow> {
  const user = await failClosed(() => users.findUserById(core.db, principal.userId));
  if (user === undefined) throw new AuthError("token_invalid", "The token's user is unknown.", { tokenPresented: true });
  if (user.token_version !== principal.tokenVersion) {
    throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
  }
  return user;
}

/**
 * The signed-in user's password, re-checked before a change to the account (the password itself
 * excepted: change-password.ts hashes the new one under the same queue ticket): through the shared
 * per-session counter (sessions/manage.ts: 5 failures in 15 minutes revoke the session), never the
 * account's login throttle. `403 invalid_credentials` when wrong. Resolves to the user's row.
 */
export async function confirmPassword(core: Core, principal: Principal, password: string): Promise<users.UserRow> {
  const user = await findSignedInUser(core, principal);
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

/**
 * Inside the transaction of a write made for a signed-in user, before it writes: the token's
 * version is still the account's and its session still live, and stay so until the commit
 * (store/queries/sessions.ts, lockCurrentSession). A revocation that committed since the request
 * was verified (the owner changing the password, or ending this session, on another device) wins:
 * `401 token_revoked`, and nothing of the write is kept.
 */
export async function requireStillSignedIn(core: Core, trx: Kysely<Database>, principal: Principal): Promise<void> {
  const { userId, sessionId, tokenVersion } = principal;
  if (!(await sessions.lockCurrentSession(trx, core.dialect, userId, sessionId, tokenVersion))) {
    throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
  }
}
