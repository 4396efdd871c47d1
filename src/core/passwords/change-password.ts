import * as refreshTokens from "../../store/queries/refresh-tokens.js";
import * as sessions from "../../store/queries/sessions.js";
import * as users from "../../store/queries/users.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed, validationFailed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { tokenPair } from "../sessions/issue.js";
import { recheckPassword } from "../sessions/manage.js";
import { generateRefreshToken } from "../tokens/refresh-token.js";
import { DEFAULT_AMR } from "../tokens/access-token.js";
import type { ChangePasswordInput, Principal, RequestContext, TokenPair } from "../types.js";
import { requireStrings } from "../validation.js";
import { checkPasswordPolicy } from "./policy.js";
import { advanceCsrfEpoch } from "../browser/csrf-token.js";
import { findSignedInUser } from "./confirm-password.js";
import { hashNewPassword, verifyWithForms } from "./form.js";

/**
 * Changes the password after checking the current one (403 `invalid_credentials` when wrong;
 * the 5th wrong one of the session within 15 minutes revokes it: sessions/manage.ts).
 * Increments the token version, revokes every other session, and returns a new pair for the
 * caller's session.
 */
export async function changePassword(
  core: Core,
  principal: Principal,
  input: ChangePasswordInput,
  context: RequestContext,
): Promise<TokenPair> {
  const typeErrors = requireStrings(input, ["currentPassword", "newPassword"]);
  if (typeErrors.length > 0) throw validationFailed(typeErrors);
  const user = await findSignedInUser(core, principal);
  // A place in the hashing queue first (503 at once when it is full), for both argon2 runs.
  const ticket = core.hashQueue.reserve();
  let passwordHash: string;
  try {
    // Counted per session, never per account or address: others' failed logins cannot block it.
    const right = await recheckPassword(core, principal, () =>
      ticket.run(async () => (await verifyWithForms(user.password_hash, input.currentPassword)).ok),
    );
    if (!right) throw new AuthError("invalid_credentials", "The current password is incorrect.", { status: 403 });
    const errors = await checkPasswordPolicy(input.newPassword, "newPassword");
    if (errors.length > 0) throw validationFailed(errors);
    passwordHash = await ticket.run(() => hashNewPassword(input.newPassword));
  } finally {
    ticket.release();
  }
  const next = generateRefreshToken();
  const change = await core.revoker.revoke({ userId: user.id }, async (trx, now, nowMs) => {
    // Only if the caller's version and session are still current: a session revoked while
    // this request hashed (say, by the owner changing the password) must not win afterwards.
    const tokenVersion = await users.incrementTokenVersion(trx, user.id, now, { passwordHash, expectedVersion: principal.tokenVersion });
    const expiresAt = isoAt(nowMs + core.config.refreshTtl * 1000);
    // This session continues: re-keyed to the new version, its old refresh tokens revoked.
    if (tokenVersion === undefined || !(await sessions.rekeySession(trx, user.id, principal.sessionId, tokenVersion, now, expiresAt))) {
      throw new AuthError("token_revoked", "The token has been revoked.", { tokenPresented: true });
    }
    const sessionIds = await sessions.revokeUserSessions(trx, user.id, now, principal.sessionId);
    await refreshTokens.revokeSessionRefreshTokens(trx, principal.sessionId, now);
    // The session's CSRF tokens of before the change stop working (docs/api.md section 6).
    await advanceCsrfEpoch(trx, principal.sessionId);
    await refreshTokens.insertRefreshToken(trx, {
      id: next.id,
      session_id: principal.sessionId,
      token_hash: next.hash,
      now,
      expires_at: expiresAt,
    });
    return { userId: user.id, tokenVersion, sessionIds };
  });
  const detail = { revoked_sessions: change.sessionIds?.length ?? 0 };
  recordEvent(core, { type: "password.changed", userId: user.id, sessionId: principal.sessionId, actor: "self", client: context, detail });
  // The session continues, and so does how it signed in (its `amr`, as its token carried it).
  return tokenPair(core, user.id, principal.sessionId, change.tokenVersion!, next.token, principal.claims.amr ?? DEFAULT_AMR);
}
