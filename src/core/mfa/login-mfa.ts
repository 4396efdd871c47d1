import * as mfa from "../../store/queries/mfa.js";
import * as users from "../../store/queries/users.js";
import { issueSignIn } from "../accounts/login.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { RequestContext, SignIn } from "../types.js";
import { accountDisabled } from "../users/account-disabled.js";
import { requireStrings } from "../validation.js";
import { findLiveChallenge, MFA_TOKEN_MAX_FAILURES, mfaTokenInvalid } from "./challenge.js";
import { amrFor, codeCandidate, type CodeCandidate } from "./check-code.js";
import { codeRejected } from "./failure.js";
import { queueMfaNotice } from "./notices.js";

export interface LoginMfaInput {
  mfaToken: string;
  /** A current TOTP code, or an unused recovery code. */
  code: string;
}

/**
 * The second step of a sign-in: the `mfa_token` of `403 mfa_required` and a code. Answers like
 * `login` (the same session-issuing path), with `amr` `["pwd", "otp", "mfa"]` (TOTP) or
 * `["pwd", "mfa"]` (recovery code). In one transaction: the challenge is consumed, the code is
 * consumed (the TOTP step later than the last accepted one, or the unused recovery code), the
 * session is written; each by a conditional write, so of two requests exactly one signs in.
 *
 * Every attempt first reserves one of the challenge's 5 attempts (one conditional write; none
 * left: `401 mfa_token_invalid`), so codes sent at once are never checked more than 5 times per
 * `mfa_token`; a right code consumes the challenge as the attempt that reserved. Then it counts
 * against the account (10 wrong codes an hour across challenges, then 429; that attempt stays
 * spent on the challenge).
 *
 * A wrong code: `401 code_invalid`, counted against the account's login throttle too; a wrong code
 * in a challenge's first attempt mails the user (their password is known to whoever typed it).
 */
export async function loginMfa<P extends object>(core: Core, input: LoginMfaInput, context: RequestContext = {}): Promise<SignIn<P>> {
  const errors = requireStrings(input, ["mfaToken", "code"]);
  if (errors.length > 0) throw validationFailed(errors);
  const challenge = await findLiveChallenge(core, input.mfaToken, context);
  const user = await failClosed(() => users.findUserById(core.db, challenge.user_id));
  if (user === undefined || user.token_version !== Number(challenge.token_version) || user.mfa_enabled_at === null) throw mfaTokenInvalid();
  if (user.disabled_at !== null) throw accountDisabled();
  const attempt = await failClosed(() =>
    mfa.reserveChallengeAttempt(core.db, challenge.id, isoAt(core.config.clock()), MFA_TOKEN_MAX_FAILURES),
  );
  if (attempt === undefined) throw mfaTokenInvalid();
  await core.throttle.countSecondFactor(user.id);
  const miss = new AuthError("code_invalid", "wrong code", { status: 401 });
  let signIn: SignIn<P>;
  let candidate: CodeCandidate | undefined;
  try {
    candidate = await codeCandidate(core, user.id, input.code.trim(), { state: "enabled", allowRecovery: true });
    if (candidate === undefined) throw miss;
    const found = candidate;
    signIn = await issueSignIn<P>(core, user, context, amrFor(found.kind), async (trx) => {
      // The user's row before the challenge and the code (docs/architecture.md, "Lock order"): a
      // second-factor change holds it and waits for the code's row, which this would hold.
      await users.lockUser(trx, core.dialect, user.id);
      if (!(await mfa.consumeChallenge(trx, challenge.id, isoAt(core.config.clock()), MFA_TOKEN_MAX_FAILURES))) throw mfaTokenInvalid();
      if (!(await found.consume(trx))) throw miss;
      if (found.kind === "recovery") await queueMfaNotice(core, user.id, "recovery_used", trx);
      return (await users.findUserById(trx, user.id)) ?? user;
    });
  } catch (error) {
    if (error === miss) throw await wrongCode(core, attempt, user, context);
    await core.throttle.secondFactorSucceeded(user.id).catch(() => {});
    throw error;
  }
  await core.throttle.secondFactorSucceeded(user.id);
  await core.throttle.accountSucceeded(user.email);
  if (candidate.kind === "recovery") {
    // One recovery code fewer: the user's row changed (a TOTP step is kept in another table).
    await core.revoker.userChanged(user.id);
    const detail = { stage: "sign_in", remaining: signIn.user.recoveryCodesLeft };
    recordEvent(core, { type: "mfa.recovery_used", userId: user.id, sessionId: null, actor: "self", client: context, detail });
  }
  return signIn;
}

/** The challenge already counted this attempt (its reservation); the account's login throttle counts it too. */
async function wrongCode(core: Core, attempt: number, user: users.UserRow, context: RequestContext): Promise<AuthError> {
  await core.throttle.secondFactorFailed(user.email);
  if (attempt === 1) await failClosed(() => queueMfaNotice(core, user.id, "failed"));
  return codeRejected(core, user.id, null, context, "sign_in", 401);
}
