import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { upgradePasswordHash, verifyWithForms } from "../passwords/form.js";
import type { Kysely } from "kysely";
import type { Database } from "../../store/schema.js";
import { commitWithoutSync } from "../../store/durability.js";
import { requireSecondFactor } from "../mfa/challenge.js";
import { formatAmr, planSession, tokenPair } from "../sessions/issue.js";
import { DEFAULT_AMR } from "../tokens/access-token.js";
import type { RequestContext, SignIn } from "../types.js";
import { checkLookupEmail, normalizeEmail, requireStrings } from "../validation.js";
import { toUser } from "./user.js";
import { accountDisabled } from "../users/account-disabled.js";
import { nextTurn } from "../../lib/next-turn.js";

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
  let user = await checkCredentials(core, email, input, context);
  for (let attempt = 1; ; attempt++) {
    // Only after the password: a disabled account is not revealed to someone without it.
    if (user.disabled_at !== null) throw accountDisabled();
    // Also only after the password (docs/api.md section 8): tokens wait for a verified address.
    if (core.config.requireVerifiedEmail && user.email_verified_at === null) {
      throw new AuthError("email_unverified", "Confirm your email address first: open the link mailed to it.");
    }
    // A second factor is on: no session yet, a `403 mfa_required` with an mfa_token (core/mfa/).
    if (user.mfa_enabled_at !== null) throw await requireSecondFactor(core, user, context);
    try {
      return await issueSignIn<P>(core, user, context);
    } catch (error) {
      // The row changed after the password check (a second factor turned on, a disable, another
      // revocation): decided again on the row as it is now, the password checked against it.
      if (error !== USER_CHANGED || attempt === 3) throw error;
      user = await sameAccountNow(core, user);
    }
  }
}

/**
 * Thrown out of a password sign-in's transaction when the user's row is no longer as the password
 * check read it; `login` decides again. A 503 if it ever escaped (it does after three such changes).
 */
const USER_CHANGED = new AuthError("service_unavailable", "The account changed during sign-in; try again.");

/** The account as it is now, if it is still the one the password opened (not deleted, the same password hash). */
async function sameAccountNow(core: Core, before: users.UserRow): Promise<users.UserRow> {
  const now = await failClosed(() => users.findUserById(core.db, before.id));
  if (now === undefined || now.password_hash !== before.password_hash) {
    throw new AuthError("invalid_credentials", "The email or password is incorrect.");
  }
  return now;
}

/**
 * The one way a sign-in becomes a session (`POST /login`, and `POST /login/mfa` after its code):
 * a new session with its `amr`, written in one transaction after `within` (the second factor's
 * conditional writes, which may refuse by throwing and answer a fresher user row).
 */
export async function issueSignIn<P extends object>(
  core: Core,
  user: users.UserRow,
  context: RequestContext,
  amr: readonly string[] = DEFAULT_AMR,
  within?: (trx: Kysely<Database>) => Promise<users.UserRow>,
): Promise<SignIn<P>> {
  const session = planSession(core, user.id, user.token_version, core.config.clock(), context, amr);
  // A password sign-in writes its session only while the user's row is as the password check read
  // it (users.signInStillValid: a second factor turned on, or the sessions revoked, meanwhile would
  // otherwise leave it live); a second factor's `within` makes its own conditional writes.
  const postgres = core.dialect === "postgres";
  const write = async (trx: Kysely<Database>) => {
    if (within === undefined && postgres && !(await users.signInStillValid(trx, core.dialect, user.id, user.token_version)))
      throw USER_CHANGED;
    const row = within === undefined ? user : await within(trx);
    await session.persist(trx);
    if (within === undefined && !postgres && !(await users.signInStillValid(trx, core.dialect, user.id, user.token_version)))
      throw USER_CHANGED;
    return row;
  };
  // A password sign-in's new session may be lost to a power failure (its tokens are then refused:
  // store/durability.ts); one that used up a second factor's code may not (the code would return).
  // Each step a turn of the event loop of its own (lib/next-turn.ts); none inside the transaction.
  await nextTurn();
  const current = await failClosed(() => (within === undefined ? commitWithoutSync(core.db, write) : core.db.transaction().execute(write)));
  await nextTurn();
  const detail = amr === DEFAULT_AMR ? undefined : { amr: formatAmr(amr) };
  recordEvent(core, { type: "login.succeeded", userId: user.id, sessionId: session.sessionId, actor: "self", client: context, detail });
  return { user: toUser<P>(current), ...tokenPair(core, user.id, session.sessionId, user.token_version, session.refreshToken, amr) };
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
    await nextTurn();
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
    // With a second factor on, the password alone is no successful sign-in yet: the account's
    // count stays until `POST /login/mfa` succeeds (its wrong codes add to it: core/mfa/login-mfa.ts).
    if (user.mfa_enabled_at === null) await core.throttle.succeeded(email, context.ip);
    else await core.throttle.passwordAccepted(context.ip);
    // The row as stored now, so that a sign-in decided again (login) compares the right hash.
    if (check.rehash) return { ...user, password_hash: await upgradePasswordHash(core.db, ticket.run, user, input.password) };
    return user;
  } finally {
    ticket.release();
  }
}
