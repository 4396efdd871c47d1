import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { verifyDummyPassword, verifyPassword } from "../passwords/hashing.js";
import { planSession, tokenPair } from "../sessions/issue.js";
import type { RequestContext, SignIn } from "../types.js";
import { checkLookupEmail, normalizeEmail, requireStrings } from "../validation.js";
import { toUser } from "./user.js";

/**
 * A new session for the right email and password. Wrong email and wrong password are the same
 * `invalid_credentials`, in about the same time (an unknown email burns a dummy hash); every
 * attempt is counted before the password is checked.
 */
export async function login<P extends object>(
  core: Core,
  input: { email: string; password: string },
  context: RequestContext,
): Promise<SignIn<P>> {
  const errors = requireStrings(input, ["email", "password"]);
  if (errors.length === 0) errors.push(...checkLookupEmail(input.email));
  if (errors.length > 0) throw validationFailed(errors);
  const email = normalizeEmail(input.email);
  await core.throttle.countAttempt(email, context.ip);
  const user = await failClosed(() => users.findUserByEmail(core.db, email));
  const ok = user !== undefined ? await verifyPassword(user.password_hash, input.password) : await verifyDummyPassword(input.password);
  if (!ok || user === undefined) throw new AuthError("invalid_credentials", "The email or password is incorrect.");
  await core.throttle.succeeded(email, context.ip);
  const session = planSession(core, user.id, user.token_version, core.config.clock(), context);
  await failClosed(() => core.db.transaction().execute((trx) => session.persist(trx)));
  return { user: toUser<P>(user), ...tokenPair(core, user.id, session.sessionId, user.token_version, session.refreshToken) };
}
