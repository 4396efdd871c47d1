import * as sessions from "../../store/queries/sessions.js";
import { isoAt } from "../clock.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { SESSION_ID_MAX_LENGTH } from "../limits.js";
import type { Principal, SessionInfo } from "../types.js";

/** The caller's live sessions, oldest first; `current` marks the caller's own. */
export async function listSessions(core: Core, principal: Principal): Promise<SessionInfo[]> {
  const rows = await failClosed(() => sessions.listLiveSessions(core.db, principal.userId, isoAt(core.config.clock())));
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    userAgent: r.user_agent,
    current: r.id === principal.sessionId,
  }));
}

/** Revokes one of the caller's sessions; `not_found` for an unknown id or another user's. */
export async function revokeSession(core: Core, principal: Principal, sessionId: string): Promise<void> {
  const { userId } = principal;
  if (typeof sessionId !== "string" || sessionId.length === 0 || sessionId.length > SESSION_ID_MAX_LENGTH) throw notFound();
  // Made-up and foreign ids end here, before they mark anything or disturb any node's cache.
  if (!(await failClosed(() => sessions.isLiveSession(core.db, userId, sessionId)))) throw notFound();
  const change = await core.revoker.revoke({ userId, sessionIds: [sessionId] }, async (trx, now) => {
    const revoked = await sessions.revokeSession(trx, userId, sessionId, now);
    return { userId, sessionIds: revoked ? [sessionId] : [] };
  });
  if (change.sessionIds!.length === 0) throw notFound();
}

function notFound(): AuthError {
  return new AuthError("not_found", "No such session.");
}
