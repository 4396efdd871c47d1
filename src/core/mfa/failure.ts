import { AuthError } from "../errors.js";
import type { Core } from "../context.js";
import { recordEvent } from "../events/record.js";
import type { RequestContext } from "../types.js";

/** Where a wrong code was given: sign-in, turning the factor off, or renewing the recovery codes. */
export type CodeStage = "sign_in" | "disable" | "recovery_codes" | "email_change";

/** Records `mfa.failed` for a wrong code and answers `code_invalid` with the stage's status. */
export function codeRejected(
  core: Core,
  userId: string,
  sessionId: string | null,
  context: RequestContext,
  stage: CodeStage,
  status: 401 | 403,
): AuthError {
  recordEvent(core, { type: "mfa.failed", userId, sessionId, actor: "self", client: context, detail: { stage } });
  return new AuthError("code_invalid", "The code is wrong, already used, or not the current one.", {
    status,
    tokenPresented: status === 401 ? false : undefined,
  });
}

export function isCodeInvalid(error: unknown): boolean {
  return error instanceof AuthError && error.code === "code_invalid";
}
