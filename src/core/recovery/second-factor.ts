import type { Kysely } from "kysely";
import type * as users from "../../store/queries/users.js";
import type { Database } from "../../store/schema.js";
import type { Core } from "../context.js";
import { recordEvent } from "../events/record.js";
import type { CodeCandidate } from "../mfa/check-code.js";
import { codeRejected } from "../mfa/failure.js";
import { queueMfaNotice } from "../mfa/notices.js";
import { proveSecondFactor } from "../mfa/prove.js";
import type { Principal, RequestContext } from "../types.js";

/**
 * The second factor of `POST /email` (docs/api.md sections 8 and 9): when the user has one on,
 * `code` (a current TOTP code or an unused recovery code) is required, checked like turning the
 * factor off (counted toward the account's wrong codes an hour; wrong or missing: `403
 * code_invalid`, event `mfa.failed` with stage `email_change`). Without a factor, `code` is
 * ignored. Resolves to the proof to use up in the change's transaction (`useSecondFactor`), or
 * undefined when there is no factor. Called after the password re-check, before anything is written.
 */
export async function requireSecondFactorForEmailChange(
  core: Core,
  user: users.UserRow,
  principal: Principal,
  code: string | undefined,
  context: RequestContext,
): Promise<SecondFactorProof | undefined> {
  if (user.mfa_enabled_at === null) return undefined;
  const reject = () => codeRejected(core, user.id, principal.sessionId, context, "email_change", 403);
  if (code === undefined || code.trim() === "") throw reject();
  const candidate = await proveSecondFactor(core, user.id, code, reject);
  return { candidate, reject };
}

export interface SecondFactorProof {
  candidate: CodeCandidate;
  reject: () => Error;
}

/** Uses the code up (its time step, or the recovery code) in the change's transaction; `code_invalid` if another request used it first. */
export async function useSecondFactor(core: Core, proof: SecondFactorProof, userId: string, trx: Kysely<Database>): Promise<void> {
  if (!(await proof.candidate.consume(trx))) throw proof.reject();
  if (proof.candidate.kind === "recovery") await queueMfaNotice(core, userId, "recovery_used", trx);
}

/** After the change committed (or failed for another reason than the code): only wrong codes count. */
export async function secondFactorSettled(
  core: Core,
  proof: SecondFactorProof | undefined,
  userId: string,
  context: RequestContext,
  sessionId: string,
): Promise<void> {
  if (proof === undefined) return;
  await core.throttle.secondFactorSucceeded(userId).catch(() => {});
  if (proof.candidate.kind === "recovery") {
    // One recovery code fewer: the user's row changed.
    await core.revoker.userChanged(userId);
    recordEvent(core, { type: "mfa.recovery_used", userId, sessionId, actor: "self", client: context, detail: { stage: "email_change" } });
  }
}
