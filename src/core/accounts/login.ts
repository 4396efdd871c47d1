import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { upgradePasswordHash, verifyWithForms } from "../passwords/form.js";
import { planSession, tokenPair } from "../sessions/issue.js";
import type { RequestContext, SignIn } from "../types.js";
import { checkLookupEmail, normalizeEmail, requireStrings } from "../validation.js";
import { toUser } from "./user.js";
import { accountDisabled } from "../users/account-disabled.js";

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
  const user = await checkCredentials(core, email, input, context);
  // Only after the password: a disabled account is not revealed to someone without it.
  if (user.disabled_at !== null) throw accountDisabled();
  const session = planSession(core, user.id, user.token_version, core.config.clock(), context);
  await failClosed(() => core.db.transaction().execute((trx) => session.persist(trx)));
  recordEvent(core, { type: "login.succeeded", userId: user.id, sessionId: session.sessionId, actor: "self", client: context });
  return { user: toUser<P>(user), ...tokenPair(core, user.id, session.sessionId, user.token_version, session.refreshToken) };
}

/**
 * The account of `email` if the password is right, else `invalid_credentials`. A place in the
 * hashing queue is reserved first, before the throttle and the account lookup: a full queue
 * answers 503 at once for every email alike, and the dummy hash of an unknown account waits in
 * the same queue as a real verification.
 */
async function checkCredentials(
  core: Core,
  email: string,
  input: { email: string; password: string },
  context: RequestContext,
): Promise<users.UserRow> {
  const ticket = core.hashQueue.reserve();
  try {
    await core.throttle.countAttempt(email, context.ip);
    const user = await failClosed(() => users.findUserByEmail(core.db, email));
    // An unknown account burns the dummy hash; a hash from before the NFKC rule is checked in both forms.
    const check = await ticket.run(() => verifyWithForms(user?.password_hash, input.password));
    if (!check.ok || user === undefined) {
      await core.throttle.failed(context.ip);
      // Never what was typed: people type passwords into the email field.
      const detail = { reason: user === undefined ? "unknown_account" : "wrong_password" };
      recordEvent(core, { type: "login.failed", userId: user?.id ?? null, actor: "self", client: context, detail });
      throw new AuthError("invalid_credentials", "The email or password is incorrect.");
    }
    await core.throttle.succeeded(email, context.ip);
    if (check.rehash) await upgradePasswordHash(core.db, ticket.run, user, input.password);
    return user;
  } finally {
    ticket.release();
  }
}
