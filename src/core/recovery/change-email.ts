import * as users from "../../store/queries/users.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { confirmPassword, requireStillSignedIn } from "../passwords/confirm-password.js";
import type { Principal, RequestContext } from "../types.js";
import { checkNewEmail } from "../validation.js";
import { issueLink } from "./link.js";
import { isCodeInvalid } from "../mfa/failure.js";
import { requireSecondFactorForEmailChange, secondFactorSettled, useSecondFactor } from "./second-factor.js";

export interface ChangeEmailInput {
  newEmail: string;
  password: string;
  /** The second factor's code, when the user has one on (second-factor.ts). */
  code?: string | undefined;
}

/**
 * `POST /email {new_email, password, code?}` (docs/api.md section 8): after the password re-check
 * (per session, shared with `POST /password` and `DELETE /profile`: sessions/manage.ts; wrong:
 * `403 invalid_credentials`) and, with a second factor on, its code (`403 code_invalid`:
 * second-factor.ts), a confirmation link goes to the new
 * address and a notice with a cancel link to the old one, in one transaction; the change itself
 * waits for `POST /email/verify`. A newer request supersedes the pending one. An address another
 * account holds is `409 email_taken` (checked again at confirmation).
 */
export async function changeEmail(core: Core, principal: Principal, input: ChangeEmailInput, context: RequestContext): Promise<void> {
  const { email: newEmail, errors } = checkNewEmail(input?.newEmail);
  const fieldErrors = errors.map((e) => ({ ...e, field: "newEmail" }));
  if (typeof input?.password !== "string") fieldErrors.push({ field: "password", message: "must be a string" });
  if (input?.code !== undefined && typeof input.code !== "string") fieldErrors.push({ field: "code", message: "must be a string" });
  if (fieldErrors.length > 0) throw validationFailed(fieldErrors);
  const user = await confirmPassword(core, principal, input.password);
  const proof = await requireSecondFactorForEmailChange(core, user, principal, input.code, context);
  try {
    if (newEmail === user.email) throw validationFailed([{ field: "newEmail", message: "is already the account's address" }]);
    if ((await failClosed(() => users.findUserByEmail(core.db, newEmail))) !== undefined) {
      throw new AuthError("email_taken", "An account with this email already exists.");
    }
    await failClosed(() =>
      core.db.transaction().execute(async (trx) => {
        // Only while the caller's version is the account's and its session live: a revocation that passed it wins.
        await requireStillSignedIn(core, trx, principal);
        // The row as of now (its version is the caller's, just required): the address the notice goes to.
        const current = await users.findUserById(trx, user.id);
        if (current === undefined) throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
        if (proof !== undefined) await useSecondFactor(core, proof, user.id, trx);
        const bound = { userId: user.id, email: current.email, tokenVersion: current.token_version, ttl: core.config.verifyTtl };
        const supersedes = ["email_change", "email_cancel"] as const;
        const confirm = await issueLink(core, trx, { ...bound, purpose: "email_change", newEmail, supersedes });
        const cancel = await issueLink(core, trx, { ...bound, purpose: "email_cancel", supersedes: [] });
        await core.mail.enqueue({ to: newEmail, template: "verify_email", data: { link: confirm } }, trx);
        await core.mail.enqueue({ to: current.email, template: "email_change_requested", data: { newEmail, cancelLink: cancel } }, trx);
      }),
    );
  } catch (error) {
    // Only a wrong code counts toward the account's wrong codes: anything else gives it back.
    if (proof !== undefined && !isCodeInvalid(error)) await core.throttle.secondFactorSucceeded(user.id).catch(() => {});
    throw error;
  }
  await secondFactorSettled(core, proof, user.id, context, principal.sessionId);
  recordEvent(core, { type: "email.change_requested", userId: user.id, sessionId: principal.sessionId, actor: "self", client: context });
}
