import * as mfa from "../../store/queries/mfa.js";
import { advanceCsrfEpoch } from "../browser/csrf-token.js";
import * as sessions from "../../store/queries/sessions.js";
import type { Core } from "../context.js";
import { validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { Principal, RequestContext } from "../types.js";
import { requireStrings } from "../validation.js";
import { codeRejected } from "./failure.js";
import { queueMfaNotice } from "./notices.js";
import { confirmPassword, requireStillSignedIn } from "../passwords/confirm-password.js";
import { proveSecondFactor, settleSecondFactor } from "./prove.js";

export interface SecondFactorProof {
  password: string;
  /** A current TOTP code, or an unused recovery code. */
  code: string;
}

/**
 * Turns the second factor off with the password and a current code or a recovery code: the
 * secret and the recovery codes go, every other session is revoked (the one revocation protocol),
 * a notice is mailed. Wrong password `403 invalid_credentials`; wrong code `403 code_invalid`
 * (counted toward the account's 10 wrong codes an hour).
 */
export async function disableTotp(core: Core, principal: Principal, input: SecondFactorProof, context: RequestContext = {}): Promise<void> {
  const errors = requireStrings(input, ["password", "code"]);
  if (errors.length > 0) throw validationFailed(errors);
  const user = await confirmPassword(core, principal, input.password);
  const reject = () => codeRejected(core, user.id, principal.sessionId, context, "disable", 403);
  if (user.mfa_enabled_at === null) throw reject();
  const candidate = await proveSecondFactor(core, user.id, input.code, reject);
  const change = await settleSecondFactor(core, user.id, () =>
    core.revoker.revoke({ userId: user.id }, async (trx, now) => {
      await requireStillSignedIn(core, trx, principal);
      // The code once (its time step, or the recovery code), then the factor itself.
      if (!(await candidate.consume(trx)) || !(await mfa.disableTotp(trx, user.id, now))) throw reject();
      const sessionIds = await sessions.revokeUserSessions(trx, user.id, now, principal.sessionId);
      await queueMfaNotice(core, user.id, "disabled", trx);
      // The session continues: its CSRF tokens of before the change stop working (docs/browser.md).
      await advanceCsrfEpoch(trx, principal.sessionId);
      if (candidate.kind === "recovery") await queueMfaNotice(core, user.id, "recovery_used", trx);
      return { userId: user.id, sessionIds };
    }),
  );
  const base = { userId: user.id, sessionId: principal.sessionId, actor: "self", client: context } as const;
  if (candidate.kind === "recovery") recordEvent(core, { ...base, type: "mfa.recovery_used", detail: { stage: "disable" } });
  recordEvent(core, { ...base, type: "mfa.disabled", detail: { via: candidate.kind, revoked_sessions: change.sessionIds?.length ?? 0 } });
}
