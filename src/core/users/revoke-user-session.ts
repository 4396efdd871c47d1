import * as sessions from "../../store/queries/sessions.js";
import type { Core } from "../context.js";
import { AuthError, failClosed } from "../errors.js";
import { SESSION_ID_MAX_LENGTH } from "../limits.js";
import { actorOf, requireStillAdmin, type AdminActionOptions } from "./actor.js";
import { recordEvent } from "../events/record.js";
import { isStorableId } from "../validation.js";

/**
 * Revokes one session of the user, from the server side, through the one revocation protocol:
 * its tokens are refused on every node once this resolves; the user's other sessions live on.
 * `not_found` for an unknown session, another user's, or one already revoked.
 */
export async function revokeUserSession(core: Core, userId: string, sessionId: string, options: AdminActionOptions = {}): Promise<void> {
  const ids = [userId, sessionId];
  if (ids.some((id) => !isStorableId(id, SESSION_ID_MAX_LENGTH))) throw notFound();
  // Made-up and foreign ids end here, before they mark anything or disturb any node's cache.
  if (!(await failClosed(() => sessions.isLiveSession(core.db, userId, sessionId)))) throw notFound();
  const change = await core.revoker.revoke({ userId, sessionIds: [sessionId] }, async (trx, now) => {
    await requireStillAdmin(core, trx, options);
    const revoked = await sessions.revokeSession(trx, userId, sessionId, now);
    return { userId, sessionIds: revoked ? [sessionId] : [] };
  });
  if (change.sessionIds!.length === 0) throw notFound();
  recordEvent(core, { type: "session.revoked", userId, sessionId, actor: actorOf(options), detail: { reason: "admin" } });
}

function notFound(): AuthError {
  return new AuthError("not_found", "No such session.");
}
