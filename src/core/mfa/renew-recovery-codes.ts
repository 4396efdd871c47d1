import * as mfa from "../../store/queries/mfa.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import type { Principal, RequestContext } from "../types.js";
import { requireStrings } from "../validation.js";
import type { SecondFactorProof } from "./disable-totp.js";
import { codeRejected } from "./failure.js";
import { queueMfaNotice } from "./notices.js";
import { confirmPassword, requireStillSignedIn } from "../passwords/confirm-password.js";
import { proveSecondFactor, settleSecondFactor } from "./prove.js";
import { newRecoveryCodes } from "./recovery-codes.js";

/**
 * A new set of 10 recovery codes (the old set dies), with the password and a current code or a
 * recovery code. Wrong password `403 invalid_credentials`; wrong code `403 code_invalid`; a
 * notice is mailed.
 */
export async function renewRecoveryCodes(
  core: Core,
  principal: Principal,
  input: SecondFactorProof,
  context: RequestContext = {},
): Promise<string[]> {
  const errors = requireStrings(input, ["password", "code"]);
  if (errors.length > 0) throw validationFailed(errors);
  const user = await confirmPassword(core, principal, input.password);
  const reject = () => codeRejected(core, user.id, principal.sessionId, context, "recovery_codes", 403);
  if (user.mfa_enabled_at === null) throw reject();
  const candidate = await proveSecondFactor(core, user.id, input.code, reject);
  const set = newRecoveryCodes(core, user.id);
  await settleSecondFactor(core, user.id, () =>
    failClosed(() =>
      core.db.transaction().execute(async (trx) => {
        await requireStillSignedIn(core, trx, principal);
        if (!(await candidate.consume(trx))) throw reject();
        await mfa.replaceRecoveryCodes(trx, user.id, set.rows, isoAt(core.config.clock()));
        await queueMfaNotice(core, user.id, "recovery_codes_renewed", trx);
        if (candidate.kind === "recovery") await queueMfaNotice(core, user.id, "recovery_used", trx);
      }),
    ),
  );
  await core.revoker.userChanged(user.id);
  if (candidate.kind === "recovery") {
    recordEvent(core, {
      type: "mfa.recovery_used",
      userId: user.id,
      sessionId: principal.sessionId,
      actor: "self",
      client: context,
      detail: { stage: "recovery_codes" },
    });
  }
  return set.codes;
}
