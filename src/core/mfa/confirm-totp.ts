import * as mfa from "../../store/queries/mfa.js";
import { advanceCsrfEpoch } from "../browser/csrf-token.js";
import * as sessions from "../../store/queries/sessions.js";
import type { Core } from "../context.js";
import { AuthError, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { Principal, RequestContext } from "../types.js";
import { requireStrings } from "../validation.js";
import { codeCandidate } from "./check-code.js";
import { queueMfaNotice } from "./notices.js";
import { confirmPassword, requireStillSignedIn } from "../passwords/confirm-password.js";
import { newRecoveryCodes } from "./recovery-codes.js";

export interface ConfirmTotpInput {
  code: string;
  password: string;
}

/**
 * Turns the pending TOTP enrolment on with a current code and the password: answers the 10
 * recovery codes (shown once). Wrong password `403 invalid_credentials` (the shared per-session
 * re-check counter); wrong code `400 code_invalid`. Every other session of the user is revoked
 * (the one revocation protocol) and a notice is mailed, in the same transaction.
 */
export async function confirmTotp(
  core: Core,
  principal: Principal,
  input: ConfirmTotpInput,
  context: RequestContext = {},
): Promise<string[]> {
  const errors = requireStrings(input, ["code", "password"]);
  if (errors.length > 0) throw validationFailed(errors);
  const user = await confirmPassword(core, principal, input.password);
  if (user.mfa_enabled_at !== null) throw new AuthError("mfa_enabled", "A second factor is already on.");
  const candidate = await codeCandidate(core, user.id, input.code.trim(), { state: "pending", allowRecovery: false });
  if (candidate === undefined) throw wrongCode(core, principal, context);
  const set = newRecoveryCodes(core, user.id);
  const change = await core.revoker.revoke({ userId: user.id }, async (trx, now) => {
    await requireStillSignedIn(core, trx, principal);
    // The code's time step, once (replay); then the enrolment it was checked against, if still pending.
    if (!(await candidate.consume(trx)) || !(await mfa.enableTotp(trx, user.id, candidate.sealedSecret, now))) {
      throw wrongCode(core, principal, context);
    }
    await mfa.replaceRecoveryCodes(trx, user.id, set.rows, now);
    const sessionIds = await sessions.revokeUserSessions(trx, user.id, now, principal.sessionId);
    await queueMfaNotice(core, user.id, "enabled", trx);
    // The session continues: its CSRF tokens of before the change stop working (docs/browser.md).
    await advanceCsrfEpoch(trx, principal.sessionId);
    return { userId: user.id, sessionIds };
  });
  const detail = { method: "totp", revoked_sessions: change.sessionIds?.length ?? 0 };
  recordEvent(core, { type: "mfa.enabled", userId: user.id, sessionId: principal.sessionId, actor: "self", client: context, detail });
  return set.codes;
}

function wrongCode(core: Core, principal: Principal, context: RequestContext): AuthError {
  recordEvent(core, {
    type: "mfa.failed",
    userId: principal.userId,
    sessionId: principal.sessionId,
    actor: "self",
    client: context,
    detail: { stage: "enrol" },
  });
  return new AuthError("code_invalid", "The code is not the current one of the authenticator app.", { status: 400 });
}
