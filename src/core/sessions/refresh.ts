import * as refreshTokens from "../../store/queries/refresh-tokens.js";
import * as sessions from "../../store/queries/sessions.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { recordEvent } from "../events/record.js";
import { generateRefreshToken, parseRefreshToken, secretMatches } from "../tokens/refresh-token.js";
import type { RequestContext, TokenPair } from "../types.js";
import { parseAmr, tokenPair } from "./issue.js";
import { accountDisabled } from "../users/account-disabled.js";
import { refreshWithinGrace, sealSuccessor } from "../browser/grace.js";
import { eraseSealOfParent, rotateRefreshToken } from "../../store/queries/browser.js";

/**
 * Rotates a refresh token: the presented token becomes used, a new one is returned. A used token
 * presented again revokes its whole session (RFC 9700, 4.14.2) and gives `refresh_reused`.
 */
export async function refresh(core: Core, token: string, context: RequestContext = {}): Promise<TokenPair> {
  const parsed = typeof token === "string" ? parseRefreshToken(token) : undefined;
  const row = await findRefreshTokenRow(core, token);
  if (row === undefined || parsed === undefined) {
    throw new AuthError("token_invalid", "The refresh token is unknown or malformed.", { tokenPresented: true });
  }
  const presented = { id: row.id, secret: parsed.secret, userId: row.user_id, sessionId: row.session_id };
  // Before the revocation checks: disabling revoked every session too, and the holder of a genuine
  // refresh token is told why it stopped working (docs/api.md section 10).
  if (row.user_disabled_at !== null) throw accountDisabled();
  if (row.revoked_at !== null || row.session_version !== row.user_version || row.token_revoked_at !== null) {
    throw new AuthError("token_revoked", "The refresh token's session has been revoked.", { tokenPresented: true });
  }
  // Used already: the same successor within the grace (several tabs), reuse otherwise.
  if (row.used_at !== null)
    return (await refreshWithinGrace(core, presented, context)) ?? revokeForReuse(core, row.user_id, row.session_id, context);
  const nowMs = core.config.clock();
  // Expired at the instant itself: `expires_at` is the first moment the token no longer works. By
  // number, not string: an instant that does not parse counts as expired (fail closed).
  if (!(Date.parse(row.expires_at) > nowMs))
    throw new AuthError("token_expired", "The refresh token has expired.", { tokenPresented: true });

  const next = generateRefreshToken();
  const now = isoAt(nowMs);
  const expiresAt = isoAt(nowMs + core.config.refreshTtl * 1000);
  const rotated = await failClosed(async () => {
    try {
      return await core.db.transaction().execute(async (trx) => {
        // The session's row first, then its tokens: the order every writer of a session takes
        // (revocations, password change, the refresh grace), so none of them can deadlock another.
        await sessions.touchSession(trx, row.session_id, now, expiresAt);
        // One conditional write: of two requests with this token, exactly one consumes it.
        const successor = { id: next.id, sealed: sealSuccessor(core, presented, next.token) };
        if (!(await rotateRefreshToken(trx, row.id, now, successor))) throw NOT_ROTATED;
        // This token's parent can no longer hand it out within a grace.
        await eraseSealOfParent(trx, row.id);
        await refreshTokens.insertRefreshToken(trx, {
          id: next.id,
          session_id: row.session_id,
          token_hash: next.hash,
          now,
          expires_at: expiresAt,
        });
        return true;
      });
    } catch (error) {
      // Rolled back: the session is not touched by a rotation that did not happen.
      if (error === NOT_ROTATED) return false;
      throw error;
    }
  });
  // Another request used this token between our read and our write: the grace, or reuse.
  if (!rotated) return (await refreshWithinGrace(core, presented, context)) ?? revokeForReuse(core, row.user_id, row.session_id, context);
  // The session's `amr` (how it signed in) is copied into every access token of it.
  return tokenPair(core, row.user_id, row.session_id, row.user_version, next.token, parseAmr(row.session_amr));
}

const NOT_ROTATED = Symbol("not rotated");

/** The row of a well-formed refresh token whose secret matches (constant time); else undefined. */
export async function findRefreshTokenRow(core: Core, token: unknown) {
  const parsed = typeof token === "string" ? parseRefreshToken(token) : undefined;
  if (parsed === undefined) return undefined;
  const row = await failClosed(() => refreshTokens.findRefreshToken(core.db, parsed.id));
  return row !== undefined && secretMatches(parsed.secret, row.token_hash) ? row : undefined;
}

async function revokeForReuse(core: Core, userId: string, sessionId: string, context: RequestContext): Promise<never> {
  await core.revoker.revoke({ userId, sessionIds: [sessionId] }, async (trx, now) => {
    await sessions.revokeSession(trx, userId, sessionId, now);
    return { userId, sessionIds: [sessionId] };
  });
  // The server acts: whoever presented the used token may be the thief or the owner.
  recordEvent(core, { type: "refresh.reused", userId, sessionId, actor: "system", client: context });
  throw new AuthError("refresh_reused", "The refresh token was already used; its session is revoked.", { tokenPresented: true });
}
